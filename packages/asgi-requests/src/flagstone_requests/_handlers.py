"""Exception handlers for frameworks: `wrap_app_handling_exceptions` and the handler types.

A framework that runs its endpoints through its own wrapper (to inject
parameters, validate, serialise) calls `wrap_app_handling_exceptions(app,
conn)` around the part that may raise, as Starlette's `request_response`
does: the application's exception handlers then render what the endpoint
raised *there*, inside any route middleware, so a handler's response, not a
500, reaches the client even when the framework catches and re-raises.

The handlers are the ones an `ExceptionMiddleware` further out published in
the scope (`EXCEPTION_HANDLERS_KEY`); with none installed, the wrapper is a
pass-through and exceptions propagate.  Semantics are Starlette's (handler by
status code for an `HTTPException`, then by class along the MRO; sync
handlers run in a worker thread; a `None` result sends nothing), with
flagstone's documented difference: an exception raised after the response
started propagates itself, with a note, rather than as a `RuntimeError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flagstone_contract import ASGIApp, Receive, Scope, Send

from ._exception_middleware import (
    Progress,
    handle_exception,
    handlers_in,
    tracking_for,
)
from ._request import Request
from ._responses import Response
from ._websockets import WebSocket

__all__ = [
    "ExceptionHandler",
    "HTTPExceptionHandler",
    "WebSocketExceptionHandler",
    "wrap_app_handling_exceptions",
]

HTTPExceptionHandler = Callable[[Request, Exception], Response | Awaitable[Response]]
"""`handler(request, exc)` returning a response (sync handlers run in a thread)."""

WebSocketExceptionHandler = Callable[[WebSocket, Exception], Awaitable[None]]
"""`async handler(websocket, exc)`, which typically closes the socket."""

ExceptionHandler = HTTPExceptionHandler | WebSocketExceptionHandler
"""What `App(exception_handlers={...})` and `ExceptionMiddleware(handlers=...)` take."""


def wrap_app_handling_exceptions(app: ASGIApp, conn: Request | WebSocket | Any) -> ASGIApp:
    """`app`, with what it raises rendered by the application's exception handlers.

    `conn` is the `Request` or `WebSocket` of the connection; it is what the
    handlers receive.  The handler tables are read from `conn.scope` now, as
    Starlette does; without an `ExceptionMiddleware` further out, `app` is
    returned unchanged.
    """
    tables = handlers_in(conn.scope)
    if tables is None:
        return app

    kind = conn.scope["type"]

    async def wrapped_app(scope: Scope, receive: Receive, send: Send) -> None:
        progress = Progress()
        try:
            await app(scope, receive, tracking_for(kind, send, progress))
        except Exception as exc:
            await handle_exception(scope, receive, send, exc, tables, progress, conn)

    return wrapped_app
