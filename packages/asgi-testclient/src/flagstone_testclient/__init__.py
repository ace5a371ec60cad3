"""A sync and async test client for any ASGI 3 app that streams, times out and
validates the app's messages.

`TestClient` is an `httpx.Client` and `AsyncTestClient` an `httpx.AsyncClient`
whose requests go straight to an ASGI app, with lifespan, WebSockets,
streaming both ways, client disconnects, timeouts instead of hangs, and a
check of every message the app sends.  It depends on no framework: any ASGI 3
app (flagstone, Starlette, Django, a bare function) can be tested with it.
It is not a server: nothing listens on a socket.
"""

__version__ = "0.3.0"

from ._client import AsyncTestClient, TestClient
from ._exceptions import (
    AppTimeoutError,
    ASGIProtocolError,
    ASGIProtocolWarning,
    LifespanFailed,
    WebSocketClosed,
    WebSocketDenialResponse,
)
from ._websocket import AsyncWebSocketTestSession, WebSocketTestSession

__all__ = [
    "ASGIProtocolError",
    "ASGIProtocolWarning",
    "AppTimeoutError",
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "LifespanFailed",
    "TestClient",
    "WebSocketClosed",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]
