"""`BaseHTTPMiddleware`: Starlette's `dispatch(request, call_next)` API, without its traps.

How it runs: `call_next(request)` starts the app in a child task and
returns as soon as the app sends `http.response.start`, with a response
whose status and headers `dispatch` may read and change.  When that
response is sent, the start goes out with those changes and the app's
body messages are passed *straight* to the server's `send`, in the app's
own task: no memory stream, no copy, no buffering.  Reading
`response.body_iterator` instead switches that one response to pulling
chunks through a zero-capacity channel (for dispatches that rewrite the body).

Needs flagstone-requests (`dispatch` receives its `Request`), imported when
the middleware is created.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from flagstone_contract import BODY_KEY, ASGIApp, DerivedAttributes, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from flagstone_requests import Request, Response

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]

INSTALL_HINT = 'pip install "flagstone-middleware[requests]"'

RequestResponseEndpoint: TypeAlias = Callable[["Request"], Awaitable["Response"]]
DispatchFunction: TypeAlias = Callable[["Request", RequestResponseEndpoint], Awaitable["Response"]]
# Type aliases (Starlette's names): `call_next` takes a flagstone-requests
# `Request` and returns a `Response`; `dispatch(request, call_next)` likewise.

_MISSING: Any = object()


def _requests() -> Any:
    try:
        import flagstone_requests
    except ImportError:
        raise ImportError(
            f"BaseHTTPMiddleware hands dispatch() a flagstone-requests Request: {INSTALL_HINT}"
        ) from None
    return flagstone_requests


class _Exchange:
    """What one `call_next` shares between the app's task and the dispatch's."""

    __slots__ = (
        "changes",
        "chunks_in",
        "chunks_out",
        "direct",
        "done",
        "error",
        "go",
        "initial",
        "outer_send",
        "start",
        "started",
    )

    def __init__(self, outer_send: Send, new_event: Callable[[], Any]) -> None:
        self.outer_send = outer_send
        self.start: Message | None = None
        self.error: Exception | None = None
        # asyncio.Event or anyio.Event: set(), is_set(), await wait().
        self.started = new_event()  # the start arrived, or the app ended without one
        self.go = new_event()  # the response is being sent: the body may flow
        self.done = new_event()  # the app returned
        self.direct = True
        self.initial: contextvars.Context | None = None
        self.changes: list[tuple[contextvars.ContextVar[Any], Any]] = []
        self.chunks_in: MemoryObjectSendStream[Message] | None = None
        self.chunks_out: MemoryObjectReceiveStream[Message] | None = None

    async def send(self, message: Message) -> None:
        """The `send` the app sees."""
        if message["type"] == "http.response.start":
            if self.start is not None:
                raise RuntimeError("the app sent http.response.start twice")
            self.start = message
            self.changes = _context_changes(self.initial)
            self.started.set()
            await self.go.wait()
        elif self.start is None or self.direct:
            # Before the start: early hints and pushes go out as they come.
            await self.outer_send(message)
        elif self.chunks_in is not None and message["type"] == "http.response.body":
            await self.chunks_in.send(message)
            if not message.get("more_body", False):
                self.chunks_in.close()


def _context_changes(initial: contextvars.Context | None) -> list[tuple[Any, Any]]:
    """The context variables the app set (or changed) since its task started."""
    if initial is None:
        return []
    now = contextvars.copy_context()
    return [(var, value) for var, value in now.items() if initial.get(var, _MISSING) is not value]


_RESPONSE_CLASS: Any = None


def _response_class() -> Any:
    """The class of `call_next`'s responses: a flagstone-requests `StreamingResponse`."""
    global _RESPONSE_CLASS
    if _RESPONSE_CLASS is not None:
        return _RESPONSE_CLASS
    streaming_response: Any = _requests().StreamingResponse

    class CallNextResponse(streaming_response):  # type: ignore[misc]
        """The app's response as `call_next` returns it: status and headers are editable."""

        def __init__(self, exchange: _Exchange) -> None:
            start = exchange.start
            assert start is not None
            self._exchange = exchange
            self._source = None
            self.status_code = start["status"]
            self.raw_headers = list(start.get("headers") or ())
            self.background: Callable[[], Awaitable[None]] | None = None
            self._replacement: AsyncIterator[Any] | None = None

        @property
        def body_iterator(self) -> AsyncIterator[Any]:
            """The body chunks, pulled from the app (switches off direct forwarding).

            Or the iterator a `dispatch` put in its place, Starlette's way of
            reading a body and handing it on: `chunks = [c async for c in
            response.body_iterator]`, then `response.body_iterator = ...`.
            """
            if self._replacement is not None:
                return self._replacement
            return _pull(self._pulled())

        @body_iterator.setter
        def body_iterator(self, value: AsyncIterator[Any]) -> None:
            # What the app still sends is drained after the replacement (see
            # `__call__`), so the app finishes and its errors are raised.
            self._pulled()
            self._replacement = value

        def _pulled(self) -> _Exchange:
            # The app's body goes through a zero-capacity stream to whoever
            # reads `body_iterator`, instead of straight to the server.
            exchange = self._exchange
            if exchange.chunks_out is None:
                exchange.chunks_in, exchange.chunks_out = anyio.create_memory_object_stream[
                    Message
                ](0)
                exchange.direct = False
                exchange.go.set()
            return exchange

        async def close(self) -> None:
            """Nothing to close: the app owns its body."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            exchange = self._exchange
            # Direct forwarding only to the send the app's messages would
            # reach anyway; any other `send` gets the body pulled through.
            direct = exchange.direct and send is exchange.outer_send
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if direct:
                exchange.go.set()
                await exchange.done.wait()
                if exchange.error is not None:
                    raise exchange.error
            else:
                async for chunk in self.body_iterator:
                    if isinstance(chunk, str):  # a replacement may yield text, as in Starlette
                        chunk = chunk.encode(self.charset)
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if self._replacement is not None:
                    # The app's own body, unread or read in part: let the
                    # app finish (and raise what it raised).
                    async for _ in _pull(exchange):
                        pass
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            if self.background is not None:
                await self.background()

    _RESPONSE_CLASS = CallNextResponse
    return CallNextResponse


async def _pull(exchange: _Exchange) -> AsyncIterator[bytes]:
    chunks = exchange.chunks_out
    assert chunks is not None
    async for message in chunks:
        yield bytes(message.get("body", b""))
    await exchange.done.wait()
    if exchange.error is not None:
        raise exchange.error


class BaseHTTPMiddleware(DerivedAttributes):
    """Write middleware as `async def dispatch(request, call_next) -> response` (Starlette's API).

    Subclass and override `dispatch`, or pass `dispatch=`.  `call_next(request)`
    runs the rest of the app and returns its response (a `StreamingResponse`
    whose `status_code` and `headers` may be changed); return it, or any
    other response.  Only HTTP requests pass through `dispatch`; WebSocket
    and lifespan go straight to the app.

    Why this exists, rather than Starlette's: its `BaseHTTPMiddleware` has
    defects its users have reported for years, and each one is avoided here.

    - **Context variables propagate.**  A `ContextVar` the endpoint sets is
      visible in `dispatch` after `call_next` returns (Starlette runs the
      app in a task whose context changes are lost; its own test for this is
      a strict xfail).  Changes made before the response starts are copied
      back into `dispatch`'s context.
    - **Background tasks run once, after the response.**  The app's body
      goes to the server before its background task starts, so the client
      has the whole response first, and nothing runs the task twice.
    - **Streaming streams.**  Each chunk the app sends reaches the server
      from the app's own task, immediately: no memory stream between them,
      so server-sent events and slow streams stay live, and a client that
      disconnects makes the app's `send` fail exactly as without the
      middleware.
    - **The body can be read twice.**  A body `dispatch` read with
      `await request.body()` is replayed to the app behind as one
      `http.request` message, as in Starlette: the endpoint's `Request`
      reads the same bytes, through any middleware in between that rewrites
      them.
    - **Exceptions are not wrapped.**  An exception from the endpoint reaches
      `dispatch` from `call_next` (and the exception handlers outside) as
      itself, never as an `ExceptionGroup`; `HTTPException`s are rendered by
      the handlers inside, as without the middleware.
    """

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        if dispatch is not None:
            self.dispatch_func = dispatch
        self._derive()

    # A subclass that skips `__init__` sets `app`; `dispatch_func` (its own
    # `dispatch` when not set) and the request/response classes are derived.
    _derived_names = frozenset({"dispatch_func", "_request_class", "_response_class"})
    dispatch_func: DispatchFunction
    _request_class: Any
    _response_class: Any

    def _derive(self) -> None:
        """Bind `dispatch_func` (when not set) and import the request/response classes."""
        if "dispatch_func" not in self.__dict__:
            self.dispatch_func = self.dispatch
        self._request_class = _requests().Request
        self._response_class = _response_class()

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Override this (or pass `dispatch=`): return `await call_next(request)` or a response."""
        raise NotImplementedError()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            await self._call_on_asyncio(loop, scope, receive, send)
        else:
            await self._call_with_anyio(scope, receive, send)

    async def _call_on_asyncio(
        self, loop: asyncio.AbstractEventLoop, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # On asyncio the app task is a plain asyncio task: an anyio task group
        # (a cancel scope, task states, a handle) costs several times more
        # than the whole rest of a request through this middleware.  The
        # finally block gives the same guarantee a task group would: no app
        # task outlives the request.
        tasks: list[asyncio.Task[None]] = []

        def spawn(coro: Coroutine[Any, Any, None]) -> None:
            tasks.append(loop.create_task(coro))

        try:
            await self._serve(scope, receive, send, spawn, asyncio.Event)
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _call_with_anyio(self, scope: Scope, receive: Receive, send: Send) -> None:
        error: Exception | None = None
        running = 0
        async with anyio.create_task_group() as tg:

            async def tracked(coro: Coroutine[Any, Any, None]) -> None:
                nonlocal running
                running += 1
                try:
                    await coro
                finally:
                    running -= 1

            def spawn(coro: Coroutine[Any, Any, None]) -> None:
                tg.start_soon(tracked, coro)

            try:
                await self._serve(scope, receive, send, spawn, anyio.Event)
            except Exception as exc:
                # Raised below, outside the task group, as itself rather than
                # inside an ExceptionGroup.
                error = exc
            # An app whose response dispatch did not use is still waiting to
            # send its body: end it (only then: cancelling has a cost).
            if running:
                tg.cancel_scope.cancel()
        if error is not None:
            raise error

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        new_event: Callable[[], Any],
    ) -> None:
        """Run dispatch, then send its response; `spawn` starts the app's task."""
        app = self.app
        response_class = self._response_class

        async def run_app(app_scope: Scope, app_receive: Receive, exchange: _Exchange) -> None:
            exchange.initial = contextvars.copy_context()
            try:
                await app(app_scope, app_receive, exchange.send)
            except Exception as exc:
                # Handed to dispatch (or the response) as itself.
                exchange.error = exc
            finally:
                if exchange.chunks_in is not None:
                    exchange.chunks_in.close()
                exchange.started.set()
                exchange.done.set()

        async def call_next(request: Any) -> Any:
            exchange = _Exchange(send, new_event)
            app_scope = request.scope
            spawn(run_app(app_scope, _replaying(app_scope, receive), exchange))
            await exchange.started.wait()
            if exchange.start is None:
                if exchange.error is not None:
                    raise exchange.error
                raise RuntimeError("No response returned.")
            for var, value in exchange.changes:
                var.set(value)
            return response_class(exchange)

        # `send` too, as in Starlette: `dispatch` may send early hints.
        request = self._request_class(scope, receive, send)
        response = await self.dispatch_func(request, call_next)
        await response(scope, receive, send)


def _replaying(scope: Scope, receive: Receive) -> Receive:
    """`receive` for the app: first the body `dispatch` already read (if any), then the real one."""
    body: bytes | None = scope.get(BODY_KEY)
    if body is None:
        return receive
    # The body now comes through `receive`, as in Starlette: readers behind
    # read it from there (flagstone-requests' cache is withdrawn), so a
    # middleware in between that rewrites the body takes effect.
    scope[BODY_KEY] = None
    replayed = False

    async def replay_receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive
