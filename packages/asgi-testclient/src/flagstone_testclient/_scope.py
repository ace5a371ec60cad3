"""Turning an `httpx.Request` into the scope a real ASGI server would build."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from flagstone_contract import Message

from ._httpx import httpx

# The spec version whose semantics the client implements.  2.4 made `send()`
# after a disconnect raise OSError (so apps learn of a disconnect without a
# `receive()` loop); 2.5 added `reason` to `websocket.disconnect`.  Starlette's
# client sends no `asgi` key at all, so apps there take their pre-2.4 paths.
ASGI_VERSIONS: dict[str, str] = {"version": "3.0", "spec_version": "2.5"}

# Extensions the client implements, offered the way servers offer them: an
# app may only use an extension listed in its scope.  No `http.response.push`:
# the client speaks HTTP/1.1, where push does not exist.
HTTP_EXTENSIONS = (
    "http.response.trailers",
    "http.response.pathsend",
    "http.response.early_hint",
    # Template responses report their template and context (Starlette's client
    # exposes them as `response.template` / `response.context`).
    "http.response.debug",
)
WEBSOCKET_EXTENSIONS = ("websocket.http.response",)

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class ConnectionInfo:
    """What the client pretends to be: its address, its root path and its app state.

    `prefix_root_path` selects how a URL relates to `root_path` (see
    `_request_path`).
    """

    client: tuple[str, int]
    root_path: str
    state: dict[str, Any] = field(default_factory=dict)
    prefix_root_path: bool = False


def _split_raw_path(url: httpx.URL) -> bytes:
    # `raw_path` in httpx includes the query; ASGI's does not.
    return url.raw_path.split(b"?", 1)[0]


def _server_port(url: httpx.URL) -> int:
    # Only a *missing* port means the scheme's default: port 0 is a port.
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 80)


def _request_path(url: httpx.URL, info: ConnectionInfo) -> tuple[str, bytes, str]:
    """The scope's `path`, `raw_path` and `root_path` for `url`.

    By default, as in Starlette, the URL's path is sent as written and
    `root_path` only fills `scope["root_path"]`: a test of an app served
    under `/api` writes `/api/users` (ASGI wants `root_path` inside `path`,
    and routers strip it).  With `prefix_root_path=True` the test writes URLs
    the way the app's routes see them, `/users`, and the client prepends the
    root path, as a proxy that strips `/api` in front of
    `uvicorn --root-path /api` would deliver them.
    """
    raw_path = _split_raw_path(url)
    path = unquote(raw_path.decode("ascii"))
    if not info.prefix_root_path:
        return path, raw_path, info.root_path
    root = info.root_path.rstrip("/")
    return root + path, root.encode() + raw_path, root


def _common_scope(request: httpx.Request, info: ConnectionInfo, scheme: str) -> dict[str, Any]:
    url = request.url
    path, raw_path, root_path = _request_path(url, info)
    return {
        "asgi": dict(ASGI_VERSIONS),
        "http_version": "1.1",
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": url.query,
        "root_path": root_path,
        # Servers lower-case header names; httpx keeps the caller's case.
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": info.client,
        "server": (url.host, _server_port(url)),
        # A shallow copy per connection, as servers do: a request may replace
        # keys without leaking into the next one; mutable values are shared.
        "state": info.state.copy(),
    }


def http_scope(request: httpx.Request, info: ConnectionInfo) -> dict[str, Any]:
    """The `http` scope for `request`."""
    scope = _common_scope(request, info, request.url.scheme)
    scope["type"] = "http"
    scope["method"] = request.method
    scope["extensions"] = {name: {} for name in HTTP_EXTENSIONS}
    return scope


def websocket_scope(
    request: httpx.Request, info: ConnectionInfo, subprotocols: list[str]
) -> dict[str, Any]:
    """The `websocket` scope for a handshake described by `request`."""
    scheme = "wss" if request.url.scheme in ("https", "wss") else "ws"
    scope = _common_scope(request, info, scheme)
    scope["type"] = "websocket"
    scope["subprotocols"] = list(subprotocols)
    scope["extensions"] = {name: {} for name in WEBSOCKET_EXTENSIONS}
    return scope


class RequestBody:
    """Feeds a request body to the app as `http.request` messages.

    A body known in full (bytes, JSON, form) arrives as one message.  A body
    given as an iterator reaches the app in the chunks the iterator yields,
    each with `more_body: True`, then an empty final message (Starlette joins
    them into one message).  No chunk is read ahead: a generator that waits
    for the app to react to one chunk before yielding the next must not
    deadlock.  Empty chunks are skipped because they carry nothing.
    """

    def __init__(self, chunks: bytes | AsyncIterator[bytes] | Iterator[bytes]) -> None:
        self._chunks = chunks
        self.done = False

    async def _next_chunk(self) -> bytes | None:
        assert not isinstance(self._chunks, bytes)
        while True:
            try:
                if isinstance(self._chunks, Iterator):
                    # A sync body (TestClient) is iterated in the event-loop
                    # thread: test bodies are in memory or cheap generators.
                    chunk = next(self._chunks)
                else:
                    chunk = await anext(self._chunks)
            except (StopIteration, StopAsyncIteration):
                return None
            if chunk:
                return bytes(chunk)

    async def next_message(self) -> Message:
        """The next `http.request` message; call only while `done` is false."""
        if isinstance(self._chunks, bytes):
            self.done = True
            return {"type": "http.request", "body": self._chunks, "more_body": False}
        chunk = await self._next_chunk()
        self.done = chunk is None
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}
