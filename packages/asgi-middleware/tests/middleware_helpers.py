"""Test helpers: a raw ASGI driver that records every message, and small raw apps.

The driver plays a server: the request body arrives as `http.request`
messages, and after the body `receive()` waits until the response is
complete before it returns `http.disconnect` (as a real server does while
the client is still there), so streaming responses are not told the client left.
"""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio


@dataclass
class Result:
    """What an app sent for one request."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start(self) -> dict[str, Any]:
        starts = [m for m in self.messages if m["type"].endswith("response.start")]
        assert len(starts) == 1, self.messages
        return starts[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(k), bytes(v)) for k, v in self.start.get("headers", [])]

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return values[0] if values else None

    def headers(self, name: str) -> list[str]:
        key = name.lower().encode()
        return [v.decode("latin-1") for k, v in self.raw_headers if k == key]

    @property
    def body_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"].endswith("response.body")]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.body_messages)

    @property
    def text(self) -> str:
        return self.body.decode()


def make_scope(
    *,
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    scheme: str = "http",
    type: str = "http",
    server: tuple[str, int] | None = ("testserver", 80),
    host: str | None = "testserver",
    raw_path: bytes | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if host is not None and not any(k == b"host" for k, _ in raw):
        raw.insert(0, (b"host", host.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": type,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": query,
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": server,
        "extensions": extensions or {},
        "state": {},
    }
    if type == "http":
        scope["method"] = method
    else:
        scope["subprotocols"] = []
    return scope


async def call(
    app: Any,
    *,
    body: bytes | Sequence[bytes] = b"",
    on_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    **scope_args: Any,
) -> Result:
    """Run one request through `app`; every message it sent, in order."""
    scope = make_scope(**scope_args)
    result = Result()
    chunks = [body] if isinstance(body, bytes) else list(body)
    done = anyio.Event()

    async def receive() -> dict[str, Any]:
        if scope["type"] == "websocket":
            if not result.messages:
                return {"type": "websocket.connect"}
            await done.wait()
            return {"type": "websocket.disconnect", "code": 1000}
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        result.messages.append(message)
        kind = message["type"]
        if kind.endswith("response.body") and not message.get("more_body", False):
            done.set()
        if kind in ("websocket.close", "websocket.accept"):
            done.set()
        if on_message is not None:
            await on_message(message)

    with anyio.fail_after(10):
        await app(scope, receive, send)
    return result


def text_app(
    text: str | bytes = "Hello, world!",
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    content_type: str | None = "text/plain; charset=utf-8",
    seen: list[dict[str, Any]] | None = None,
) -> Any:
    """A raw ASGI app answering one complete body (records each scope in `seen`)."""
    body = text.encode() if isinstance(text, str) else text

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if seen is not None:
            seen.append(scope)
        raw = [(k.lower().encode(), v.encode()) for k, v in headers]
        if content_type is not None:
            raw.append((b"content-type", content_type.encode()))
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


def stream_app(
    chunks: Sequence[bytes],
    *,
    content_type: str = "text/plain",
    headers: Sequence[tuple[str, str]] = (),
    between: Callable[[int], Awaitable[None]] | None = None,
) -> Any:
    """A raw ASGI app streaming `chunks` (awaiting `between(i)` after chunk i)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raw = [(b"content-type", content_type.encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if between is not None:
                await between(index)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
