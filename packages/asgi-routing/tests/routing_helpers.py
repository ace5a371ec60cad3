"""Helpers shared by the routing tests: drive ASGI apps directly (imported via conftest's sys.path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from flagstone_contract import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    messages: list[Message] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode()


def make_scope(
    path: str = "/",
    method: str = "GET",
    *,
    type: str = "http",
    headers: list[tuple[bytes, bytes]] | None = None,
    root_path: str = "",
    query_string: bytes = b"",
    **extra: Any,
) -> Scope:
    scope: Scope = {
        "type": type,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if type == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query_string,
        "headers": headers if headers is not None else [(b"host", b"testserver")],
    }
    if type == "http":
        scope["method"] = method
    scope.update(extra)
    return scope


async def call(
    app: ASGIApp,
    path: str = "/",
    method: str = "GET",
    *,
    body: bytes | list[bytes] = b"",
    scope: Scope | None = None,
    **kwargs: Any,
) -> Response:
    """Send one HTTP request to `app`, return what it answered."""
    if scope is None:
        scope = make_scope(path, method, **kwargs)
    chunks = [body] if isinstance(body, bytes) else list(body)
    messages: list[Message] = []

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    data = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Response(start["status"], headers, data, messages)


async def call_websocket(app: ASGIApp, path: str = "/", **kwargs: Any) -> list[Message]:
    """Open a websocket to `app` (connect, then disconnect); return what it sent."""
    scope = make_scope(path, type="websocket", **kwargs)
    incoming: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


class asgi:
    """Make a raw ASGI function a callable *instance*: routing calls it as ASGI.

    (A plain function endpoint is a request handler, as in Starlette.)
    """

    def __init__(self, func: ASGIApp) -> None:
        self.func = func
        self.__name__ = getattr(func, "__name__", "asgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.func(scope, receive, send)


def text_app(text: str, status: int = 200) -> ASGIApp:
    """A raw ASGI endpoint answering `text`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return asgi(app)


@asgi
async def echo_scope(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI endpoint answering with routing's scope keys as text."""
    route = scope.get("route")
    lines = [
        f"path={scope['path']}",
        f"root_path={scope.get('root_path', '')}",
        f"app_root_path={scope.get('app_root_path', '-')}",
        f"path_params={sorted(scope.get('path_params', {}).items())}",
        f"route={getattr(route, 'path', None)}",
    ]
    await text_app("\n".join(lines))(scope, receive, send)


@asgi
async def read_body(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI endpoint that reads the whole body and answers its length."""
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await text_app(str(total))(scope, receive, send)


@dataclass
class LifespanResult:
    messages: list[Message]
    state: dict[str, Any]
    error: BaseException | None = None


async def run_lifespan(
    app: ASGIApp, *, during: Callable[[], Awaitable[None]] | None = None
) -> LifespanResult:
    """Run a full lifespan (startup, then shutdown unless startup failed)."""
    state: dict[str, Any] = {}
    scope: Scope = {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        "state": state,
    }
    sent: list[Message] = []
    started = anyio.Event()
    stop = anyio.Event()
    queue = ["lifespan.startup"]

    async def receive() -> Message:
        if queue:
            return {"type": queue.pop(0)}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"].startswith("lifespan.startup"):
            started.set()

    result = LifespanResult(sent, state)

    async def run_app() -> None:
        try:
            await app(scope, receive, send)
        except BaseException as exc:  # recorded for the test to assert on
            result.error = exc
            started.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_app)
            await started.wait()
            if during is not None and sent and sent[-1]["type"] == "lifespan.startup.complete":
                await during()
            stop.set()
    return result
