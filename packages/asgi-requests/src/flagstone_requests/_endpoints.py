"""Endpoints: adapt request handlers and endpoint classes into ASGI apps.

`request_response(func)` and `websocket_session(func)` turn a function into
an ASGI app; `HTTPEndpoint` and `WebSocketEndpoint` are classes that *are*
ASGI apps (`await Endpoint(scope, receive, send)`).  When an
`ExceptionMiddleware` is installed further out (its handler tables are in
the scope), the function-based wrappers apply its handlers here too, inside
any route middleware, as Starlette does.

Deliberate differences from Starlette:

- `HTTPEndpoint` dispatches only the standard verbs (GET HEAD POST PUT PATCH
  DELETE OPTIONS QUERY); any other method name is a 405 and never reaches
  `getattr` (the 2026 advisory CVE-2026-48817 let a client call any
  attribute named like its method).
- `request_response` closes the request's upload files when the request
  ends (`Request.close()`), even on error or cancellation.
- `WebSocketEndpoint` closes the socket with 1011 when a handler fails
  (Starlette only reports 1011 to `on_disconnect`).
- A `ClientDisconnect` (the client left while its body was being read by
  `body()`, `json()`, `form()` or `stream()`, in the endpoint or in its
  response) ends the request quietly with a DEBUG log line: no exception
  handler runs and nothing reaches the server's error log, so a client
  cannot flood that log by aborting uploads.  Starlette lets it escape as
  "Exception in ASGI application".  (A `WebSocketDisconnect` that a
  WebSocket endpoint does not catch still propagates, as in Starlette, whose
  test client re-raises it when the session ends: catch it in the endpoint.)
- A sync HTTP handler that returns an awaitable (a sync decorator around an
  `async def`) has it awaited; Starlette fails with "not callable".
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Generator
from typing import Any, ClassVar, Literal

import anyio
import anyio.to_thread

from flagstone_contract import ASGIApp, HTTPException, Message, Receive, Scope, Send
from flagstone_contract.http import is_async_callable

from ._exception_middleware import Progress, handle_exception, handlers_in
from ._exceptions import ClientDisconnect, WrongScopeType
from ._request import Request, client_gone
from ._responses import PlainTextResponse, Response
from ._websockets import WebSocket, WebSocketState

__all__ = ["HTTPEndpoint", "WebSocketEndpoint", "request_response", "websocket_session"]

HTTP_VERBS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")


def _not_a_response(response: Any, where: object) -> TypeError:
    # Checked inline by the callers (`if not callable(response)`): a call per
    # request just to find nothing wrong is a measurable share of a "hello".
    return TypeError(
        f"{getattr(where, '__qualname__', where)!s} returned {response!r}, not a response; "
        "return a Response (or any ASGI app)"
    )


def _call_boxed(func: Callable[[Request], Any], request: Request) -> tuple[Any]:
    # Boxed because trio refuses a worker-thread function that returns a
    # coroutine, and such a result is exactly what we want to await.
    return (func(request),)


async def _run_sync_handler(func: Callable[[Request], Any], request: Request) -> Any:
    """Run a sync handler in a worker thread; await what it returns if it is awaitable.

    A sync decorator around an `async def` handler returns a coroutine: it is
    awaited here rather than rejected as "not a response" (Starlette fails).
    """
    (response,) = await anyio.to_thread.run_sync(_call_boxed, func, request)
    if inspect.isawaitable(response):
        response = await response
    return response


def request_response(func: Callable[[Request], Awaitable[Any] | Any]) -> ASGIApp:
    """Wrap `func(request) -> Response` (async, or sync run in a thread) as an ASGI app.

    A sync `func` that returns an awaitable (a decorator hiding an `async
    def`) has that awaitable awaited on the event loop.
    """
    run_async = is_async_callable(func)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            try:
                if run_async:
                    response = await func(request)
                else:
                    response = await _run_sync_handler(func, request)
            except ClientDisconnect:
                raise  # not an error to render: handled below, quietly
            except Exception as exc:
                # Handlers apply here, inside any route middleware, as in
                # Starlette.  Nothing was sent yet (the endpoint only returns
                # a response), so no send tracking is needed on this hot
                # path; an error while the response is being sent propagates
                # to the ExceptionMiddleware, which tracks what was sent.
                tables = handlers_in(scope)
                if tables is None:
                    raise
                await handle_exception(scope, receive, send, exc, tables, Progress(), request)
                return
            if not callable(response):
                raise _not_a_response(response, func)
            await response(scope, receive, send)
        except ClientDisconnect:
            client_gone(scope)
        finally:
            # Upload temp files must not outlive the request (Starlette leaves
            # them to the garbage collector).  `close()` has no checkpoint, so
            # it runs to the end even in a cancelled task; no shield needed.
            # Skipped when this request parsed no form: nothing to close, and
            # most requests should not pay for a coroutine that does nothing.
            if request._form is not None or request._uploads:
                await request.close()

    return app


def websocket_session(func: Callable[[WebSocket], Awaitable[None]]) -> ASGIApp:
    """Wrap `func(websocket)` as an ASGI app; whatever `func` returns is awaited.

    As in Starlette, `func` is any callable returning an awaitable: an
    `async def` function, a `functools.partial` of one, a sync decorator or
    lambda that returns a coroutine, a bound method.  Nothing is checked up
    front: a sync function cannot be told apart from one that returns a
    coroutine until it is called, and refusing it while the routes are
    prepared took the whole app down, HTTP routes included.  A call that
    returns something that cannot be awaited raises a `TypeError` naming the
    route and the endpoint, on that connection only.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        try:
            result = func(websocket)
            if not inspect.isawaitable(result):
                raise TypeError(_not_awaitable(scope, func, result))
            await result
        except Exception as exc:
            tables = handlers_in(scope)
            if tables is None:
                raise
            # The socket's own state machine knows what was sent.
            state = websocket.application_state
            progress = Progress(
                started=state == WebSocketState.RESPONSE,
                accepted=state == WebSocketState.CONNECTED,
                finished=state == WebSocketState.DISCONNECTED,
            )
            await handle_exception(scope, receive, send, exc, tables, progress, websocket)

    return app


def _not_awaitable(scope: Scope, func: object, result: object) -> str:
    # `scope["route"]` is set by flagstone routing (and Starlette's): name the
    # route the user declared, not just a function that may be a wrapper.
    route = scope.get("route")
    where = f"{route!r}: " if route is not None else ""
    name = getattr(func, "__qualname__", None) or repr(func)
    return (
        f"{where}the WebSocket endpoint {name} returned {result!r}, not an awaitable; "
        "a WebSocket endpoint must be an async function (or return an awaitable), "
        "because it awaits the connection's messages"
    )


class HTTPEndpoint:
    """A class endpoint: define `get`, `post`, … methods taking a `Request`.

    HEAD is served by `get` unless `head` is defined.  Handlers may be sync
    (run in a thread) or async and return a response.  A method without a
    handler gets a 405 with an `Allow` header: raised as `HTTPException`
    when an `ExceptionMiddleware` is installed, else sent directly.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise WrongScopeType(f"HTTPEndpoint needs an 'http' scope, got {scope['type']!r}")
        self.scope = scope
        self.receive = receive
        self.send = send

    @property
    def allowed_methods(self) -> list[str]:
        """The verbs this endpoint answers, in the standard order."""
        methods = [verb for verb in HTTP_VERBS if getattr(self, verb.lower(), None) is not None]
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        return methods

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    def _handler_for(self, method: str) -> Callable[[Request], Any] | None:
        # The method is compared against a fixed list *before* any getattr:
        # "DISPATCH" or "__INIT__" must not become self.dispatch or self.__init__.
        if method not in HTTP_VERBS:
            return None
        name = method.lower()
        if method == "HEAD" and getattr(self, "head", None) is None:
            name = "get"
        handler: Callable[[Request], Any] | None = getattr(self, name, None)
        return handler

    async def dispatch(self) -> None:
        """Call the handler for the request's method and send its response."""
        request = Request(self.scope, receive=self.receive, send=self.send)
        try:
            handler = self._handler_for(request.method)
            if handler is None:
                handler = self.method_not_allowed
            if is_async_callable(handler):
                response = await handler(request)
            else:
                response = await _run_sync_handler(handler, request)
            if not callable(response):
                raise _not_a_response(response, handler)
            await response(self.scope, self.receive, self.send)
        except ClientDisconnect:
            client_gone(self.scope)
        finally:
            # No checkpoint inside close(): safe under cancellation.  Skipped,
            # as in request_response, when no form was parsed.
            if request._form is not None or request._uploads:
                await request.close()

    async def method_not_allowed(self, request: Request) -> Response:
        """The 405 answer, with `Allow` listing `allowed_methods`."""
        headers = {"Allow": ", ".join(self.allowed_methods)}
        if handlers_in(self.scope) is not None:
            raise HTTPException(status_code=405, headers=headers)
        return PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)


class WebSocketEndpoint:
    """A class WebSocket endpoint: override `on_connect`, `on_receive`, `on_disconnect`.

    `encoding` ("text", "bytes", "json", or `None` for the frame's text or
    bytes, whichever arrived) decides what `on_receive` gets; a frame of the
    wrong kind, or bad JSON, closes the socket with 1003 and raises
    `RuntimeError`.  An error in a handler closes the socket with 1011 and
    propagates.
    """

    encoding: ClassVar[Literal["text", "bytes", "json"] | None] = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise WrongScopeType(
                f"WebSocketEndpoint needs a 'websocket' scope, got {scope['type']!r}"
            )
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        """Run the connection: connect, receive until disconnect, then `on_disconnect`."""
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)
        close_code = 1000
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.receive":
                    data = await self.decode(websocket, message)
                    await self.on_receive(websocket, data)
                elif message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or 1000)
                    break
        except Exception:
            close_code = 1011
            if (
                websocket.application_state == WebSocketState.CONNECTED
                and websocket.client_state == WebSocketState.CONNECTED
            ):
                with anyio.CancelScope(shield=True):
                    await websocket.close(code=1011)
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        """Turn a `websocket.receive` message into what `on_receive` gets."""
        text, data = message.get("text"), message.get("bytes")
        if self.encoding is None:
            # As in Starlette: the frame's payload, text or bytes, never the
            # raw ASGI message.  `is not None` rather than Starlette's
            # truthiness test, so an empty text frame is "" and not a KeyError.
            return text if text is not None else (b"" if data is None else data)
        if self.encoding == "bytes":
            if data is None:
                await websocket.close(code=1003)
                raise RuntimeError("Expected bytes websocket messages, but got text")
            return data
        if self.encoding == "text":
            if text is None:
                await websocket.close(code=1003)
                raise RuntimeError("Expected text websocket messages, but got bytes")
            return text
        if self.encoding != "json":
            # Starlette asserts, with this text; ours holds under `python -O`.
            raise _unsupported_encoding(type(self).__qualname__, self.encoding)
        # JSON may come in either frame kind (binary as UTF-8), as in Starlette.
        # The error messages are Starlette's, which ported tests match on.
        try:
            return json.loads(text if text is not None else bytes(data or b"").decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            await websocket.close(code=1003)
            raise RuntimeError("Malformed JSON data received.") from exc  # the cause says where

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called first; accepts the connection by default."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called for each frame, with data decoded per `encoding`."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called last, with the close code (1011 if a handler failed)."""


class _UnsupportedEncoding(RuntimeError, AssertionError):
    # Starlette's check is an `assert`; flagstone's was a RuntimeError.  Both.
    pass


def _unsupported_encoding(owner: str, encoding: object) -> _UnsupportedEncoding:
    error = _UnsupportedEncoding(f"Unsupported 'encoding' attribute {encoding}")
    error.add_note(
        f'flagstone: {owner}.encoding is {encoding!r}; use "text", "bytes", "json" or None'
    )
    return error
