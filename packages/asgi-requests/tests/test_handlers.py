"""`wrap_app_handling_exceptions`: a framework runs its endpoint inside the app's handlers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from flagstone_contract import HTTPException, Receive, Scope, Send
from flagstone_requests import (
    ExceptionHandler,
    ExceptionMiddleware,
    HTTPExceptionHandler,
    JSONResponse,
    PlainTextResponse,
    Request,
    Response,
    WebSocket,
    WebSocketExceptionHandler,
    wrap_app_handling_exceptions,
)

pytestmark = pytest.mark.anyio


class ValidationFailed(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors)
        self.errors = errors


async def validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationFailed)
    return JSONResponse({"detail": exc.errors}, status_code=422)


def framework_route(endpoint: Any) -> Any:
    """A framework's endpoint wrapper: builds the request, runs the endpoint in the handlers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def inner(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                response = await endpoint(request)
            except ValidationFailed:
                raise  # a framework catching, logging and re-raising
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(inner, request)(scope, receive, send)

    return app


async def test_a_handler_response_reaches_the_client_not_a_500(
    http_scope, run_asgi, sent_response
) -> None:
    async def endpoint(request: Request) -> Response:
        raise ValidationFailed(["id: not an int"])

    app = ExceptionMiddleware(
        framework_route(endpoint), handlers={ValidationFailed: validation_handler}
    )
    response = sent_response((await run_asgi(app, http_scope())).sent)
    assert response.status == 422
    assert response.body == b'{"detail":["id: not an int"]}'


async def test_handlers_apply_inside_middleware_that_sits_between(
    http_scope, run_asgi, sent_response
) -> None:
    # Route middleware between the ExceptionMiddleware and the endpoint sees
    # the handler's response, because the wrapper renders it at the endpoint.
    seen: list[int] = []

    def recording(app: Any) -> Any:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            async def spy(message: Any) -> None:
                if message["type"] == "http.response.start":
                    seen.append(message["status"])
                await send(message)

            await app(scope, receive, spy)

        return middleware

    async def endpoint(request: Request) -> Response:
        raise HTTPException(409, "conflict")

    app = ExceptionMiddleware(recording(framework_route(endpoint)))
    response = sent_response((await run_asgi(app, http_scope())).sent)
    assert (response.status, response.body, seen) == (409, b"conflict", [409])


async def test_status_handler_before_class_handler_and_sync_handlers_run_in_a_thread(
    http_scope, run_asgi, sent_response
) -> None:
    threads: list[int] = []

    def by_status(request: Request, exc: Exception) -> Response:
        threads.append(threading.get_ident())
        return PlainTextResponse("by status", status_code=418)

    async def endpoint(request: Request) -> Response:
        raise HTTPException(418)

    handlers: dict[Any, Any] = {418: by_status, HTTPException: validation_handler}
    app = ExceptionMiddleware(framework_route(endpoint), handlers=handlers)
    response = sent_response((await run_asgi(app, http_scope())).sent)
    assert (response.status, response.body) == (418, b"by status")
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_handler_receives_the_framework_connection(http_scope, run_asgi) -> None:
    received: list[Any] = []

    async def remember(request: Request, exc: Exception) -> None:
        received.append(request)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        request.state.marker = "framework request"

        async def boom(scope: Scope, receive: Receive, send: Send) -> None:
            raise ValidationFailed([])

        await wrap_app_handling_exceptions(boom, request)(scope, receive, send)
        await PlainTextResponse("after")(scope, receive, send)

    await run_asgi(ExceptionMiddleware(app, handlers={ValidationFailed: remember}), http_scope())
    assert received[0].state.marker == "framework request"


async def test_without_exception_middleware_exceptions_propagate(http_scope, run_asgi) -> None:
    async def endpoint(request: Request) -> Response:
        raise ValidationFailed(["x"])

    with pytest.raises(ValidationFailed):
        await run_asgi(framework_route(endpoint), http_scope())


async def test_unhandled_exception_propagates_to_the_outer_layers(http_scope, run_asgi) -> None:
    async def endpoint(request: Request) -> Response:
        raise KeyError("nobody handles this")

    app = ExceptionMiddleware(
        framework_route(endpoint), handlers={ValidationFailed: validation_handler}
    )
    with pytest.raises(KeyError):
        await run_asgi(app, http_scope())


async def test_an_error_after_the_response_started_is_starlettes_runtime_error(
    http_scope, run_asgi
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def half(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise ValidationFailed(["late"])

        await wrap_app_handling_exceptions(half, request)(scope, receive, send)

    wrapped = ExceptionMiddleware(app, handlers={ValidationFailed: validation_handler})
    with pytest.raises(RuntimeError) as caught:
        await run_asgi(wrapped, http_scope())
    assert str(caught.value) == "Caught handled exception, but response already started."
    assert isinstance(caught.value.__cause__, ValidationFailed)


async def test_a_websocket_handler_closes_the_socket(ws_scope, run_asgi) -> None:
    async def close_it(websocket: WebSocket, exc: Exception) -> None:
        await websocket.close(code=4000, reason="bad message")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)

        async def session(scope: Scope, receive: Receive, send: Send) -> None:
            await websocket.accept()
            raise ValidationFailed(["bad"])

        await wrap_app_handling_exceptions(session, websocket)(scope, receive, send)

    chan = await run_asgi(
        ExceptionMiddleware(app, handlers={ValidationFailed: close_it}),
        ws_scope(),
        messages=[{"type": "websocket.connect"}],
    )
    assert [m["type"] for m in chan.sent] == ["websocket.accept", "websocket.close"]
    assert chan.sent[-1]["code"] == 4000


def test_handler_type_aliases_describe_handlers() -> None:
    http_handler: HTTPExceptionHandler = validation_handler

    async def ws_handler(websocket: WebSocket, exc: Exception) -> None: ...

    websocket_handler: WebSocketExceptionHandler = ws_handler
    handlers: dict[Any, ExceptionHandler] = {ValidationFailed: http_handler, 1: websocket_handler}
    ExceptionMiddleware(PlainTextResponse("ok"), handlers=handlers)
