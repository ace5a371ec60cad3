"""`ExceptionMiddleware`: render exceptions with handlers chosen by class or status.

The middleware publishes its handlers in the scope under
`EXCEPTION_HANDLERS_KEY` as `(handlers_by_class, handlers_by_status)`.  That
does two things: routing sees the key and raises `HTTPException(404/405)`
for us to render instead of answering plainly, and the endpoint wrappers
(`request_response`, `websocket_session`) apply the same handlers *inside*
route middleware, as Starlette does.

Deliberate differences from Starlette:

- A handled exception raised after the response started is re-raised
  *itself*, with a note saying why its handler could not run, instead of
  being replaced by a `RuntimeError` that hides it.
- On a WebSocket, the handler's response is never sent after `accept()` (an
  invalid message sequence).  An `HTTPException` there closes the socket with
  1008 (4xx: policy violation) or 1011 (5xx: server error), its detail as the
  reason.  Before `accept()` the response becomes a denial response when the
  server supports it, else a close (the server answers 403).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio.to_thread

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    ASGIApp,
    HTTPException,
    Message,
    Receive,
    Scope,
    Send,
    WebSocketException,
)
from flagstone_contract.http import is_async_callable

from ._request import Request
from ._responses import PlainTextResponse, Response
from ._websockets import DataFrameBypass, WebSocket, WebSocketState

__all__ = [
    "ExceptionHandler",
    "ExceptionMiddleware",
    "Progress",
    "after_start",
    "connection_tracking",
    "fresh_progress",
    "handle_exception",
    "handlers_in",
    "progress_of",
    "tracking",
    "tracking_for",
    "websocket_tracking",
]

# handler(request_or_websocket, exc) -> Response | None, sync or async.
ExceptionHandler = Callable[[Any, Any], Any]
HandlerTables = tuple[dict[type[BaseException], ExceptionHandler], dict[int, ExceptionHandler]]


def lookup_handler(exc: Exception, tables: HandlerTables) -> ExceptionHandler | None:
    """The handler for `exc`: by status code for an `HTTPException`, then by class (MRO)."""
    by_class, by_status = tables
    if isinstance(exc, HTTPException) and exc.status_code in by_status:
        return by_status[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in by_class:
            return by_class[cls]
    return None


async def call_handler(handler: ExceptionHandler, conn: Any, exc: Exception) -> Any:
    """Call `handler(conn, exc)`; a sync handler runs in a worker thread."""
    if is_async_callable(handler):
        return await handler(conn, exc)
    return await anyio.to_thread.run_sync(handler, conn, exc)


class Progress:
    """What the app has sent so far on this connection.

    A tracked `send` is the bound method `progress.track` (see `tracking`):
    it records each message here and hands it on to `progress.downstream`.
    """

    # Class-level defaults rather than `__slots__` set in `__init__`, so
    # `fresh_progress()` (every request) makes one without running Python code.
    started = False  # HTTP response or WebSocket denial started
    accepted = False  # WebSocket accepted
    finished = False  # WebSocket closed or denial sent
    # Anything but an accept, an early hint or a WebSocket message went out:
    # nothing more may be sent in answer to an error (ServerErrorMiddleware).
    committed = False
    downstream: Send  # the send `track` hands messages on to

    def __init__(
        self, started: bool = False, accepted: bool = False, finished: bool = False
    ) -> None:
        self.started = started
        self.accepted = accepted
        self.finished = finished
        self.committed = started or finished

    # A plain method returning `downstream`'s awaitable, not an `async def`:
    # the caller awaits what we return, so this layer costs no coroutine of
    # its own on every message.  What is recorded is recorded when the
    # message is handed on (the server's send may still fail afterwards).
    def track(self, message: Message) -> Awaitable[None]:
        """Record `message`, then hand it on to `downstream`."""
        # Once a response (or denial) started, no later message changes what
        # an error may still do: skip the classification for its body chunks.
        if not self.started:
            kind = message["type"]
            if kind in _STARTS:
                self.started = self.committed = True
            elif kind == "websocket.accept":
                self.accepted = True
            elif kind not in _UNCOMMITTED:
                self.committed = True
                if kind == "websocket.close":
                    self.finished = True
        return self.downstream(message)


# `Progress()` without the `__init__` call (the class defaults say "nothing
# sent"): a C-level call, for the middlewares that make one per request.
fresh_progress: Callable[[], Progress] = functools.partial(object.__new__, Progress)


_STARTS = frozenset({"http.response.start", "websocket.http.response.start"})
# Messages after which a response (or a close) may still be sent: a WebSocket
# data frame, and a 103 Early Hints, which a final response follows anyway.
_UNCOMMITTED = frozenset({"websocket.send", "http.response.early_hint"})
_track = Progress.track
_BoundMethod = type(fresh_progress().track)


async def handle_exception(
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: Exception,
    tables: HandlerTables,
    progress: Progress,
    conn: Any = None,
) -> None:
    """Render `exc` with its handler from `tables`, or re-raise it if it has none.

    `progress` says what was already sent; `conn` is the `Request` or
    `WebSocket` to hand to the handler (built from the scope if `None`).
    """
    handler = lookup_handler(exc, tables)
    if handler is None:
        raise exc
    if scope["type"] == "http":
        await _render_http(scope, receive, send, exc, handler, progress, conn)
    else:
        await _render_websocket(scope, receive, send, exc, handler, progress, conn)
    # Handled: drop the frames this raise attached.  Ported apps often raise
    # one module-level instance (`NOT_FOUND = HTTPException(404)`) on every
    # request; each raise would otherwise chain its frames (and all their
    # locals: requests, bodies) onto that immortal object, forever.
    exc.__traceback__ = None


def _too_late(exc: Exception, what: str) -> None:
    # The original exception goes on, so logs and error trackers see what
    # really failed; the note explains why its handler did not answer.
    note = (
        f"flagstone: an exception handler is registered for {type(exc).__name__}, "
        f"but {what}, so it could not be rendered"
    )
    # Once: an instance raised on every request must not grow a note each time.
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


async def _render_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: Exception,
    handler: ExceptionHandler,
    progress: Progress,
    request: Any,
) -> None:
    if progress.started:
        # Starlette's error, chained from the original (`__cause__`), which
        # tracebacks and error trackers show with it.
        raise RuntimeError("Caught handled exception, but response already started.") from exc
    if request is None:
        request = Request(scope, receive, send)
    response = await call_handler(handler, request, exc)
    if response is not None:
        await response(scope, receive, send)


async def _render_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: Exception,
    handler: ExceptionHandler,
    progress: Progress,
    websocket: Any,
) -> None:
    if progress.finished or progress.started:
        _too_late(exc, "the WebSocket was already closed or denied")
        raise exc
    if websocket is None:
        websocket = WebSocket(scope, receive, send)
        if progress.accepted:
            # Reflect reality, so that a handler calling `close()` is allowed
            # and one trying to send a denial response is refused.
            websocket.client_state = WebSocketState.CONNECTED
            websocket.application_state = WebSocketState.CONNECTED
        else:
            # Whether the app already read `websocket.connect` is unknown.  If
            # it did, a second receive() would block forever, so the handler's
            # socket never waits for it; servers take a reply to an unread
            # connect.
            websocket.client_state = WebSocketState.CONNECTED
    response = await call_handler(handler, websocket, exc)
    if response is None or websocket.application_state == WebSocketState.DISCONNECTED:
        return
    if progress.accepted:
        code, reason = _close_for(exc)
        await websocket.close(code, reason)
        return
    extensions = scope.get("extensions") or {}
    if "websocket.http.response" in extensions:
        await websocket.send_denial_response(response)
    else:
        await websocket.close(1008, _truncate(str(getattr(exc, "detail", ""))))


def _close_for(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, HTTPException):
        code = 1011 if exc.status_code >= 500 else 1008
        return code, _truncate(exc.detail)
    return 1011, ""


def _truncate(reason: str) -> str:
    raw = reason.encode("utf-8")[:123]
    return raw.decode("utf-8", "ignore")


def _http_exception_response(exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=headers)


async def http_exception_handler(request: Any, exc: Exception) -> Any:
    """Default: `HTTPException` → plain-text `detail` (empty body for 204/304) with its headers."""
    return _http_exception_response(exc)


async def websocket_exception_handler(websocket: Any, exc: Exception) -> None:
    """Default: `WebSocketException` → close the socket with its code and reason."""
    assert isinstance(exc, WebSocketException)
    await websocket.close(code=exc.code, reason=_truncate(exc.reason))


class ExceptionMiddleware:
    """Render exceptions raised by `app` with handlers keyed by class or status code.

    `handlers` maps an exception class or an HTTP status code to
    `handler(request_or_websocket, exc)`, sync (run in a thread) or async,
    returning a response or `None`.  `HTTPException` and `WebSocketException`
    go to the methods `http_exception(request, exc)` and
    `websocket_exception(websocket, exc)` (Starlette's names), which render a
    plain-text response and close the socket; a subclass overrides them to
    render its own way, and `handlers` given for those classes win over both.
    Exceptions without a handler propagate (to `ServerErrorMiddleware`).

    Subclassing without `__init__`: set `app`; `debug` defaults to False and
    the handler tables are built on first use.
    """

    debug: bool = False  # kept for Starlette compatibility; rendering does not depend on it
    # `(by class, by status)`, published in the scope.  None until built: by
    # `__init__`, or on first use for a subclass that skips `__init__`.
    _tables: HandlerTables | None = None

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, ExceptionHandler] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.debug = debug
        self._tables = None
        self._handler_tables()
        for key, handler in (handlers or {}).items():
            self.add_exception_handler(key, handler)

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """Render an `HTTPException`: its `detail` as plain text (no body for 204/304), its headers.

        Override to render differently (e.g. `application/problem+json`); a
        sync override runs in a worker thread, as any sync handler.
        """
        return _http_exception_response(exc)

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        """Handle a `WebSocketException`: close the socket with its code and reason."""
        await websocket_exception_handler(websocket, exc)

    def _handler_tables(self) -> HandlerTables:
        tables = self._tables
        if tables is None:
            # Decided once per middleware, not per exception: the base methods
            # are served by the module functions (no bound method to build);
            # a subclass's override is registered as a bound method.
            cls = type(self)
            by_class: dict[type[BaseException], ExceptionHandler] = {
                HTTPException: http_exception_handler
                if cls.http_exception is ExceptionMiddleware.http_exception
                else self.http_exception,
                WebSocketException: websocket_exception_handler
                if cls.websocket_exception is ExceptionMiddleware.websocket_exception
                else self.websocket_exception,
            }
            # The dicts inside stay the same objects, so handlers added later
            # are seen through the published tuple too.
            tables = self._tables = (by_class, {})
        return tables

    @property
    def _exception_handlers(self) -> dict[type[BaseException], ExceptionHandler]:
        # Starlette's private name, read by some frameworks' tests and tools.
        return self._handler_tables()[0]

    @property
    def _status_handlers(self) -> dict[int, ExceptionHandler]:
        return self._handler_tables()[1]

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[BaseException], handler: ExceptionHandler
    ) -> None:
        """Register `handler` for an exception class or an HTTP status code."""
        by_class, by_status = self._handler_tables()
        if isinstance(exc_class_or_status_code, int):
            by_status[exc_class_or_status_code] = handler
        elif isinstance(exc_class_or_status_code, type) and issubclass(
            exc_class_or_status_code, BaseException
        ):
            by_class[exc_class_or_status_code] = handler
        else:
            raise TypeError(
                "exception handlers are keyed by an exception class or an int status code, "
                f"not {exc_class_or_status_code!r}"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            # Every request of an App with user middleware passes here (the
            # stack is Starlette's: this layer sits inside them), so the
            # helpers are inlined, as in `ServerErrorMiddleware.__call__`:
            # `connection_tracking` and `call_tracked`, one frame instead of
            # five calls.
            tracked_send: Send
            if type(send) is _BoundMethod and send.__func__ is _track:  # type: ignore[attr-defined]
                progress: Progress = send.__self__  # type: ignore[attr-defined]
                tracked_send = send
            else:
                progress = fresh_progress()
                progress.downstream = send
                tracked_send = progress.track
            tables = self._tables or self._handler_tables()
            scope[EXCEPTION_HANDLERS_KEY] = tables
            try:
                await self.app(scope, receive, tracked_send)
            except Exception as exc:
                await handle_exception(scope, receive, tracked_send, exc, tables, progress)
        elif kind == "websocket":
            progress, tracked_send = connection_tracking(kind, send)
            await self.call_tracked(scope, receive, tracked_send, progress)
        else:
            await self.app(scope, receive, send)

    async def call_tracked(
        self, scope: Scope, receive: Receive, tracked_send: Send, progress: Progress
    ) -> None:
        """Run the app on an http/websocket scope whose `send` already feeds `progress`.

        `ServerErrorMiddleware` calls this directly when it wraps this
        middleware with nothing in between, so one `tracking` layer serves
        both instead of each wrapping every message.
        """
        # `ServerErrorMiddleware.__call__` and this class's `__call__` (HTTP)
        # inline these lines: change all three.
        tables = self._tables or self._handler_tables()
        scope[EXCEPTION_HANDLERS_KEY] = tables
        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            await handle_exception(scope, receive, tracked_send, exc, tables, progress)


def tracking(send: Send, progress: Progress) -> Send:
    """`send`, recording in `progress` what went out (so an error is never answered too late).

    `progress` tracks this one `send` from now on.
    """
    progress.downstream = send
    return progress.track


def progress_of(send: Send) -> Progress | None:
    """The `Progress` that `send` records into, if it is a tracked send (`tracking`)."""
    if type(send) is DataFrameBypass:
        send = send.tracked
    if type(send) is _BoundMethod and send.__func__ is _track:  # type: ignore[attr-defined]
        progress: Progress = send.__self__  # type: ignore[attr-defined]
        return progress
    return None


def after_start(send: Send) -> Send:
    """The `send` for the rest of a response whose start went out through `send`.

    A tracked send records nothing once the response started, so the body
    chunks can skip it and go straight to the send it wraps (per chunk, the
    tracking layer is a Python call for nothing).  Any other `send` is
    returned as it is.
    """
    while type(send) is _BoundMethod and send.__func__ is _track and send.__self__.started:  # type: ignore[attr-defined]
        send = send.__self__.downstream  # type: ignore[attr-defined]
    return send


def websocket_tracking(send: Send, progress: Progress) -> Send:
    """`tracking` for a websocket scope: a `WebSocket`'s data frames skip the recording.

    A data frame changes nothing an error may still do (only the accept,
    close and denial messages do), so a `WebSocket` handed this `send`
    passes its frames straight to `send`; every other message is tracked.
    """
    return DataFrameBypass(send, tracking(send, progress))


def tracking_for(kind: str, send: Send, progress: Progress) -> Send:
    """`tracking` for an http connection, `websocket_tracking` for a websocket one."""
    if kind == "http":
        return tracking(send, progress)
    return websocket_tracking(send, progress)


def connection_tracking(kind: str, send: Send) -> tuple[Progress, Send]:
    """The record and the tracked `send` an error layer uses for one connection.

    When an error layer further out already tracks this very `send`,
    whatever goes through it is what we would record: its record and its
    `send` serve us too (one tracking layer per message, not one per error
    layer).  Otherwise a fresh record tracks `send`.
    """
    shared = progress_of(send)
    if shared is not None:
        return shared, send
    progress = fresh_progress()
    return progress, tracking_for(kind, send, progress)


def handlers_in(scope: Scope) -> HandlerTables | None:
    """The handler tables an `ExceptionMiddleware` published in `scope`, if any."""
    tables: HandlerTables | None = scope.get(EXCEPTION_HANDLERS_KEY)
    return tables
