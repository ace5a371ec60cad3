"""Shared fixtures: both anyio backends, and tiny ASGI scope/channel builders.

Test modules cannot import each other (pytest --import-mode=importlib), so the
helpers are handed out through fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _header_bytes(value: str | bytes) -> bytes:
    """latin-1 like ASGI; text outside latin-1 goes out as UTF-8 (what clients send)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: Iterable[tuple[str | bytes, str | bytes]] = (),
    query_string: bytes = b"",
    **extra: Any,
) -> dict[str, Any]:
    raw = [
        (k.lower().encode("latin-1") if isinstance(k, str) else k, _header_bytes(v))
        for k, v in headers
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": query_string,
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


class Channel:
    """A fake ASGI server side: hands out `messages`, records what the app sends.

    When the messages run out, `receive` either answers `http.disconnect`
    (`then="disconnect"`) or blocks forever (`then="block"`, to prove a reader
    does not wait for more) -- tests bound that with `anyio.fail_after`.
    """

    def __init__(self, messages: Iterable[dict[str, Any]], then: str = "disconnect") -> None:
        self.messages = list(messages)
        self.then = then
        self.sent: list[dict[str, Any]] = []
        self.receive_calls = 0

    async def receive(self) -> dict[str, Any]:
        self.receive_calls += 1
        if self.messages:
            return self.messages.pop(0)
        if self.then == "block":
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def _body_channel(*chunks: bytes, then: str = "disconnect") -> Channel:
    """A channel that delivers `chunks` as http.request messages (last has more_body=False)."""
    if not chunks:
        chunks = (b"",)
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    return Channel(messages, then=then)


@pytest.fixture
def http_scope() -> Callable[..., dict[str, Any]]:
    """Build an http scope: `http_scope("/path", method=..., headers=[...], **extra)`."""
    return _http_scope


@pytest.fixture
def body_channel() -> Callable[..., Channel]:
    """Build a `Channel` delivering body chunks: `body_channel(b"a", b"b", then="block")`."""
    return _body_channel


@pytest.fixture
def channel() -> type[Channel]:
    """The `Channel` class, for hand-written message sequences."""
    return Channel


# --- part 2 fixtures (outgoing side: responses, websockets, errors) ------------


async def _run_asgi(
    app: Any,
    scope: dict[str, Any],
    messages: Iterable[dict[str, Any]] | None = None,
    then: str = "block",
) -> Channel:
    """Run `app` once over a `Channel`; by default one empty request, then silence."""
    if messages is None:
        messages = [{"type": "http.request", "body": b"", "more_body": False}]
    chan = Channel(messages, then=then)
    with anyio.fail_after(5):
        await app(scope, chan.receive, chan.send)
    return chan


class SentResponse:
    """The HTTP response an app sent, read back from a list of ASGI messages."""

    def __init__(self, sent: list[dict[str, Any]]) -> None:
        starts = [m for m in sent if m["type"].endswith("http.response.start")]
        assert len(starts) == 1, f"expected one response start, got {sent!r}"
        self.start = starts[0]
        self.status: int = self.start["status"]
        self.raw_headers: list[tuple[bytes, bytes]] = list(self.start.get("headers", []))
        bodies = [m for m in sent if m["type"].endswith("http.response.body")]
        self.body = b"".join(m.get("body", b"") for m in bodies)
        self.body_messages = bodies
        self.messages = sent

    def header(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        for k, v in self.raw_headers:
            if k == key:
                return v.decode("latin-1")
        return None

    def headers_named(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.raw_headers if k == key]


@pytest.fixture
def run_asgi() -> Callable[..., Any]:
    """`await run_asgi(app, scope, messages=None, then="block")` -> the `Channel`."""
    return _run_asgi


@pytest.fixture
def sent_response() -> type[SentResponse]:
    """`sent_response(channel.sent)` -> status, headers and body of the response."""
    return SentResponse


def _ws_scope(
    path: str = "/ws", *, subprotocols: Iterable[str] = (), **extra: Any
) -> dict[str, Any]:
    scope = _http_scope(path, **extra)
    scope["type"] = "websocket"
    scope["scheme"] = "ws"
    del scope["method"]
    scope["subprotocols"] = list(subprotocols)
    return scope


@pytest.fixture
def ws_scope() -> Callable[..., dict[str, Any]]:
    """Build a websocket scope: `ws_scope("/ws", extensions={...})`."""
    return _ws_scope
