"""ASGI 3 types shared by every flagstone package.

The loose aliases (`Scope`, `Message`, `Receive`, `Send`, `ASGIApp`) are what
function signatures use: servers and middleware add keys freely, so a scope is
a mutable mapping, not a closed TypedDict.  The TypedDicts below describe the
keys the ASGI specification (version 2.5) defines, so code that builds or
inspects a message can be checked field by field, and `send` accepts them
as they are (`await send(HTTPResponseStartEvent(type=..., status=200))`).
"""

# No `from __future__ import annotations`: TypedDict needs NotRequired at runtime
# (Python 3.11) to report required and optional keys correctly.
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "ASGIApp",
    "ASGIVersions",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "HTTPServerPushEvent",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
# `send` takes a plain mapping (what middleware builds, and what Starlette-typed
# code passes) or one of the message TypedDicts below.  The parameter is `Any`
# because no narrower type admits both: a TypedDict is not a MutableMapping,
# and a `Mapping` parameter would refuse every send wrapper already written as
# `async def wrapper(message: Message)` (and Starlette's, in both directions).
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Headers travel as (name, value) byte pairs; names are lower-cased by servers.
_RawHeaders = Iterable[tuple[bytes, bytes]]


class ASGIVersions(TypedDict):
    """`scope["asgi"]`: the ASGI version and the spec version the server implements."""

    version: Literal["2.0", "3.0"]
    spec_version: NotRequired[str]


# --- scopes -----------------------------------------------------------------


class HTTPScope(TypedDict):
    """The scope of one HTTP request."""

    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: str
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: _RawHeaders
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]] | None]


class WebSocketScope(TypedDict):
    """The scope of one WebSocket connection."""

    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: str
    scheme: str
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: _RawHeaders
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    subprotocols: NotRequired[Iterable[str]]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]] | None]


class LifespanScope(TypedDict):
    """The scope of the lifespan protocol: one per server process."""

    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


# --- http messages -------------------------------------------------------------


class HTTPRequestEvent(TypedDict):
    """A chunk of request body; `more_body` false marks the last one."""

    type: Literal["http.request"]
    body: bytes
    more_body: NotRequired[bool]


class HTTPDisconnectEvent(TypedDict):
    """The client went away, or the response is complete."""

    type: Literal["http.disconnect"]


class HTTPResponseStartEvent(TypedDict):
    """Status and headers; nothing reaches the client before the first body."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[_RawHeaders]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """A chunk of response body; `more_body` false ends the response."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """Trailing headers (extension `http.response.trailers`)."""

    type: Literal["http.response.trailers"]
    headers: NotRequired[_RawHeaders]
    more_trailers: NotRequired[bool]


class HTTPResponsePathsendEvent(TypedDict):
    """Ask the server to send a file by path (extension `http.response.pathsend`)."""

    type: Literal["http.response.pathsend"]
    path: str


class HTTPServerPushEvent(TypedDict):
    """HTTP/2 server push (extension `http.response.push`)."""

    type: Literal["http.response.push"]
    path: str
    headers: _RawHeaders


class HTTPResponseEarlyHintEvent(TypedDict):
    """103 Early Hints with `Link` values (extension `http.response.early_hint`)."""

    type: Literal["http.response.early_hint"]
    links: list[bytes]


# --- websocket messages ---------------------------------------------------------


class WebSocketConnectEvent(TypedDict):
    """The client asks to open the connection; answer with accept, close or a denial."""

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """Accept the connection, optionally choosing a subprotocol."""

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[_RawHeaders]


class WebSocketReceiveEvent(TypedDict):
    """A frame from the client: exactly one of `bytes` and `text` is not None."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketSendEvent(TypedDict):
    """A frame to the client: exactly one of `bytes` and `text` is not None."""

    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketResponseStartEvent(TypedDict):
    """Start of an HTTP denial response (extension `websocket.http.response`)."""

    type: Literal["websocket.http.response.start"]
    status: int
    headers: _RawHeaders


class WebSocketResponseBodyEvent(TypedDict):
    """Body of an HTTP denial response (extension `websocket.http.response`)."""

    type: Literal["websocket.http.response.body"]
    body: bytes
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    """The connection closed, from either side."""

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    """Close the connection (before accept: reject it with 403)."""

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


# --- lifespan messages ----------------------------------------------------------


class LifespanStartupEvent(TypedDict):
    """The server is starting; the app answers complete or failed."""

    type: Literal["lifespan.startup"]


class LifespanStartupCompleteEvent(TypedDict):
    """Startup succeeded."""

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """Startup failed; `message` says why."""

    type: Literal["lifespan.startup.failed"]
    message: str


class LifespanShutdownEvent(TypedDict):
    """The server is stopping."""

    type: Literal["lifespan.shutdown"]


class LifespanShutdownCompleteEvent(TypedDict):
    """Shutdown succeeded."""

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """Shutdown failed; `message` says why."""

    type: Literal["lifespan.shutdown.failed"]
    message: str
