"""ExceptionMiddleware and ServerErrorMiddleware, for HTTP and WebSocket."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from flagstone_contract import EXCEPTION_HANDLERS_KEY, HTTPException, WebSocketException
from flagstone_requests import (
    ExceptionMiddleware,
    JSONResponse,
    PlainTextResponse,
    Request,
    ServerErrorMiddleware,
    StreamingResponse,
    WebSocket,
    request_response,
)
from flagstone_requests._exception_middleware import Progress, fresh_progress

pytestmark = pytest.mark.anyio

CONNECT = {"type": "websocket.connect"}


def raising(exc: BaseException) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise exc

    return app


# --- ExceptionMiddleware, HTTP ---------------------------------------------------


# Ported apps keep one instance and raise it on every request.
MODULE_LEVEL_NOT_FOUND = HTTPException(404, "no such item")


def traceback_depth(exc: BaseException) -> int:
    depth, tb = 0, exc.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


async def _requests_raising_one_instance(app: Any, http_scope: Any, count: int) -> list[Any]:
    """Serve `count` requests; the messages of the last one."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    for _ in range(count):
        sent.clear()
        await app(http_scope(), receive, send)
    return sent


async def test_handled_instance_raised_on_every_request_stays_bounded(http_scope) -> None:
    app = ExceptionMiddleware(raising(MODULE_LEVEL_NOT_FOUND))
    sent = await _requests_raising_one_instance(app, http_scope, 10_000)
    assert sent[0]["status"] == 404
    assert traceback_depth(MODULE_LEVEL_NOT_FOUND) == 0
    assert getattr(MODULE_LEVEL_NOT_FOUND, "__notes__", []) == []


async def test_instance_raised_in_endpoint_wrapper_stays_bounded(http_scope) -> None:
    async def endpoint(request: Request) -> Any:
        raise MODULE_LEVEL_NOT_FOUND

    app = ExceptionMiddleware(request_response(endpoint))
    sent = await _requests_raising_one_instance(app, http_scope, 10_000)
    assert sent[0]["status"] == 404
    assert traceback_depth(MODULE_LEVEL_NOT_FOUND) == 0


async def test_a_handled_error_after_start_is_starlettes_runtime_error(http_scope) -> None:
    error = HTTPException(500, "after start")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise error

    middleware = ExceptionMiddleware(app)
    for _ in range(3):
        with pytest.raises(RuntimeError) as info:
            await _requests_raising_one_instance(middleware, http_scope, 1)
        assert str(info.value) == "Caught handled exception, but response already started."
        assert info.value.__cause__ is error


async def test_http_exception_default_rendering(http_scope, run_asgi, sent_response) -> None:
    app = ExceptionMiddleware(
        raising(HTTPException(401, "who?", headers={"WWW-Authenticate": "Basic"}))
    )
    resp = sent_response((await run_asgi(app, http_scope())).sent)
    assert resp.status == 401
    assert resp.body == b"who?"
    assert resp.header("www-authenticate") == "Basic"


@pytest.mark.parametrize("status", [204, 304])
async def test_http_exception_without_body(status, http_scope, run_asgi, sent_response) -> None:
    resp = sent_response(
        (await run_asgi(ExceptionMiddleware(raising(HTTPException(status))), http_scope())).sent
    )
    assert resp.status == status
    assert resp.body == b""


async def test_publishes_handler_tables(http_scope, run_asgi) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get(EXCEPTION_HANDLERS_KEY))
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = ExceptionMiddleware(app)
    await run_asgi(middleware, http_scope())
    by_class, by_status = seen[0]
    assert HTTPException in by_class
    assert WebSocketException in by_class
    assert by_status == {}


async def test_status_handler_wins_over_class_handler(http_scope, run_asgi, sent_response) -> None:
    async def by_status(request: Request, exc: HTTPException) -> Any:
        return JSONResponse({"missing": request.url.path}, status_code=404)

    app = ExceptionMiddleware(raising(HTTPException(404)), handlers={404: by_status})
    resp = sent_response((await run_asgi(app, http_scope("/x"))).sent)
    assert resp.body == b'{"missing":"/x"}'


async def test_class_handler_by_mro(http_scope, run_asgi, sent_response) -> None:
    class AppError(Exception):
        pass

    class NotYours(AppError):
        pass

    async def handle(request: Request, exc: Exception) -> Any:
        return PlainTextResponse(f"handled {type(exc).__name__}", status_code=403)

    app = ExceptionMiddleware(raising(NotYours()))
    app.add_exception_handler(AppError, handle)
    resp = sent_response((await run_asgi(app, http_scope())).sent)
    assert (resp.status, resp.body) == (403, b"handled NotYours")


async def test_sync_handler_runs_in_thread(http_scope, run_asgi, sent_response) -> None:
    main = threading.get_ident()
    threads: list[int] = []

    def handle(request: Request, exc: Exception) -> Any:
        threads.append(threading.get_ident())
        return PlainTextResponse("sync", status_code=418)

    app = ExceptionMiddleware(raising(ValueError()), handlers={ValueError: handle})
    resp = sent_response((await run_asgi(app, http_scope())).sent)
    assert resp.status == 418
    assert threads[0] != main


async def test_handler_may_return_none(http_scope, run_asgi) -> None:
    async def handle(request: Request, exc: Exception) -> None:
        return None

    app = ExceptionMiddleware(raising(ValueError()), handlers={ValueError: handle})
    assert (await run_asgi(app, http_scope())).sent == []


async def test_unhandled_exception_propagates(http_scope, run_asgi) -> None:
    with pytest.raises(KeyError):
        await run_asgi(ExceptionMiddleware(raising(KeyError("k"))), http_scope())


async def test_handled_error_after_start_raises_runtime_error(http_scope, run_asgi) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise HTTPException(409, "late")

    with pytest.raises(RuntimeError) as info:
        await run_asgi(ExceptionMiddleware(app), http_scope())
    assert str(info.value) == "Caught handled exception, but response already started."
    assert isinstance(info.value.__cause__, HTTPException)
    assert info.value.__cause__.status_code == 409


def test_bad_handler_key() -> None:
    with pytest.raises(TypeError, match="exception class or an int"):
        ExceptionMiddleware(raising(ValueError())).add_exception_handler("404", print)  # type: ignore[arg-type]


async def test_lifespan_passes_through(run_asgi) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await run_asgi(ExceptionMiddleware(app), scope, messages=[])
    assert seen == ["lifespan"]
    assert EXCEPTION_HANDLERS_KEY not in scope


# --- ExceptionMiddleware, WebSocket ----------------------------------------------


async def test_websocket_exception_closes_with_its_code(ws_scope, run_asgi) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        raise WebSocketException(4008, "policy")

    chan = await run_asgi(ExceptionMiddleware(app), ws_scope(), messages=[CONNECT])
    assert chan.sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.close", "code": 4008, "reason": "policy"},
    ]


@pytest.mark.parametrize(("status", "code"), [(403, 1008), (503, 1011)])
async def test_http_exception_after_accept_closes_socket(status, code, ws_scope, run_asgi) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        raise HTTPException(status, "nope")

    scope = ws_scope(extensions={"websocket.http.response": {}})
    chan = await run_asgi(ExceptionMiddleware(app), scope, messages=[CONNECT])
    # Never a denial response after accept: that would be an invalid sequence.
    assert [m["type"] for m in chan.sent] == ["websocket.accept", "websocket.close"]
    assert (chan.sent[1]["code"], chan.sent[1]["reason"]) == (code, "nope")


async def test_http_exception_before_accept_is_denial(ws_scope, run_asgi) -> None:
    scope = ws_scope(extensions={"websocket.http.response": {}})
    chan = await run_asgi(
        ExceptionMiddleware(raising(HTTPException(404))), scope, messages=[CONNECT]
    )
    assert chan.sent[0]["type"] == "websocket.http.response.start"
    assert chan.sent[0]["status"] == 404
    assert chan.sent[1]["body"] == b"Not Found"


async def test_http_exception_before_accept_without_extension_closes(ws_scope, run_asgi) -> None:
    chan = await run_asgi(
        ExceptionMiddleware(raising(HTTPException(404))), ws_scope(), messages=[CONNECT]
    )
    assert chan.sent == [{"type": "websocket.close", "code": 1008, "reason": "Not Found"}]


async def test_websocket_error_after_close_reraises(ws_scope, run_asgi) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        await ws.close()
        raise WebSocketException(4000)

    with pytest.raises(WebSocketException) as info:
        await run_asgi(ExceptionMiddleware(app), ws_scope(), messages=[CONNECT])
    assert any("already closed" in note for note in info.value.__notes__)


# --- ServerErrorMiddleware -----------------------------------------------------------


async def test_server_error_plain_500_and_reraise(http_scope, run_asgi, sent_response) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    with pytest.raises(ZeroDivisionError):
        await ServerErrorMiddleware(raising(ZeroDivisionError()))(http_scope(), receive, send)
    resp = sent_response(sent)
    assert (resp.status, resp.body) == (500, b"Internal Server Error")


@pytest.mark.parametrize(
    ("http_version", "connection"), [("1.1", ["close"]), ("1.0", ["close"]), ("2", [])]
)
async def test_server_error_500_closes_http1_connection(
    http_version, connection, http_scope, sent_response
) -> None:
    # Regression: the error is re-raised after the 500 and uvicorn then drops
    # the connection; a keep-alive client reusing it got a reset.
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    app = ServerErrorMiddleware(raising(ZeroDivisionError()))
    with pytest.raises(ZeroDivisionError):
        await app(http_scope(http_version=http_version), receive, send)
    resp = sent_response(sent)
    assert resp.status == 500
    assert resp.headers_named("connection") == connection


@pytest.mark.parametrize(
    ("accept", "content_type", "marker"),
    [
        ("text/html,*/*", "text/html; charset=utf-8", b"<h1>500 Server Error"),
        ("application/json", "text/plain; charset=utf-8", b"Traceback (most recent call last)"),
    ],
)
async def test_debug_page(accept, content_type, marker, http_scope, sent_response) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    app = ServerErrorMiddleware(raising(ValueError("<script>x</script>")), debug=True)
    with pytest.raises(ValueError):
        await app(http_scope(headers=[("accept", accept)]), receive, send)
    resp = sent_response(sent)
    assert resp.status == 500
    assert resp.header("content-type") == content_type
    assert marker in resp.body
    if "html" in content_type:
        assert b"<script>x</script>" not in resp.body
        assert b"&lt;script&gt;" in resp.body


async def test_custom_500_handler(http_scope, sent_response) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    def handler(request: Request, exc: Exception) -> Any:
        return JSONResponse({"error": type(exc).__name__}, status_code=500)

    with pytest.raises(KeyError):
        await ServerErrorMiddleware(raising(KeyError()), handler=handler)(
            http_scope(), receive, send
        )
    assert sent_response(sent).body == b'{"error":"KeyError"}'


async def test_server_error_after_start_sends_nothing_more(http_scope) -> None:
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-body")

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    with pytest.raises(RuntimeError, match="mid-body"):
        await ServerErrorMiddleware(app)(http_scope(), receive, send)
    assert len(sent) == 1


async def test_failing_500_send_keeps_original_error(http_scope) -> None:
    async def send(message: Any) -> None:
        raise OSError("client gone")

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    with pytest.raises(ZeroDivisionError) as info:
        await ServerErrorMiddleware(raising(ZeroDivisionError()))(http_scope(), receive, send)
    assert any("sending the 500 response failed" in note for note in info.value.__notes__)


async def test_websocket_error_after_accept_closes_1011(ws_scope) -> None:
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        raise ValueError("bug")

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return CONNECT

    with pytest.raises(ValueError):
        await ServerErrorMiddleware(app)(ws_scope(), receive, send)
    assert sent[-1]["type"] == "websocket.close"
    assert sent[-1]["code"] == 1011


@pytest.mark.parametrize(
    ("extensions", "first_type"),
    [({"websocket.http.response": {}}, "websocket.http.response.start"), ({}, "websocket.close")],
)
async def test_websocket_error_before_accept(extensions, first_type, ws_scope) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return CONNECT

    with pytest.raises(ValueError):
        await ServerErrorMiddleware(raising(ValueError()))(
            ws_scope(extensions=extensions), receive, send
        )
    assert sent[0]["type"] == first_type
    if first_type == "websocket.http.response.start":
        assert sent[0]["status"] == 500


async def test_server_error_middleware_passes_lifespan_through(run_asgi) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await run_asgi(ServerErrorMiddleware(app), {"type": "lifespan"}, messages=[])
    assert seen == ["lifespan"]


async def test_handler_sees_websocket_for_websocket_scope(ws_scope, run_asgi) -> None:
    seen: list[str] = []

    async def handler(conn: Any, exc: Exception) -> None:
        seen.append(type(conn).__name__)
        await conn.close(4001)

    app = ExceptionMiddleware(raising(LookupError()), handlers={LookupError: handler})
    chan = await run_asgi(app, ws_scope(), messages=[CONNECT])
    assert seen == ["WebSocket"]
    assert chan.sent == [{"type": "websocket.close", "code": 4001, "reason": ""}]


# --- ServerErrorMiddleware around ExceptionMiddleware ---------------------------------
# Directly around an ExceptionMiddleware the two layers share one send tracker
# (App's default stack); with anything in between, or a subclass, each tracks
# its own.  Every stack must answer errors identically.


class PassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class CustomExceptionMiddleware(ExceptionMiddleware):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)


def _fused(app: Any, handlers: Any) -> Any:
    return ServerErrorMiddleware(ExceptionMiddleware(app, handlers=handlers))


def _layered(app: Any, handlers: Any) -> Any:
    return ServerErrorMiddleware(PassThrough(ExceptionMiddleware(app, handlers=handlers)))


def _subclassed(app: Any, handlers: Any) -> Any:
    return ServerErrorMiddleware(CustomExceptionMiddleware(app, handlers=handlers))


class HeaderAdding:
    """A CORS-style middleware: wraps `send` to add a header to the start."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-added", b"1")]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def _app_shaped(app: Any, handlers: Any) -> Any:
    # App's stack with pass-through user middleware: the inner error layer
    # gets the outer one's tracked send unchanged and shares its record.
    inner = ServerErrorMiddleware(ExceptionMiddleware(app, handlers=handlers))
    return ServerErrorMiddleware(PassThrough(PassThrough(inner)))


def _app_shaped_wrapping(app: Any, handlers: Any) -> Any:
    # App's stack with a send-wrapping user middleware: each layer tracks its own.
    inner = ServerErrorMiddleware(ExceptionMiddleware(app, handlers=handlers))
    return ServerErrorMiddleware(HeaderAdding(inner))


STACKS = pytest.mark.parametrize(
    "stack", [_fused, _layered, _subclassed, _app_shaped, _app_shaped_wrapping]
)


async def _serve(app: Any, scope: Any) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return CONNECT if scope["type"] == "websocket" else {"type": "http.request", "body": b""}

    with pytest.raises(Exception) as info:
        await app(scope, receive, send)
    sent.append(info.value)
    return sent


def _types(sent: list[Any]) -> list[Any]:
    return [m["type"] if isinstance(m, dict) else type(m) for m in sent]


@STACKS
async def test_stack_unhandled_error_before_start_is_500(stack, http_scope) -> None:
    sent = await _serve(stack(raising(KeyError("x")), None), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]
    assert sent[0]["status"] == 500


@STACKS
async def test_stack_unhandled_error_after_start_sends_nothing_more(stack, http_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise KeyError("mid-body")

    sent = await _serve(stack(app, None), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]


@STACKS
async def test_stack_handler_response_failing_midway_gets_no_500(stack, http_scope) -> None:
    # The handler's own response starts, then fails: the outer layer must
    # know the response started even though the inner layer sent it.
    async def half_response(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 409, "headers": []})
        raise OSError("broken handler response")

    async def handler(request: Request, exc: Exception) -> Any:
        return half_response

    sent = await _serve(stack(raising(ValueError()), {ValueError: handler}), http_scope())
    assert _types(sent) == ["http.response.start", OSError]
    assert sent[0]["status"] == 409


@STACKS
async def test_stack_websocket_error_after_accept_closes_1011(stack, ws_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hi"})
        raise KeyError("bug")

    sent = await _serve(stack(app, None), ws_scope())
    assert _types(sent) == ["websocket.accept", "websocket.send", "websocket.close", KeyError]
    assert sent[2]["code"] == 1011


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1000}],
        [{"type": "websocket.http.response.start", "status": 403, "headers": []}],
        [{"type": "websocket.close", "code": 1000}],
    ],
    ids=["accepted-then-closed", "denial-started", "closed-before-accept"],
)
@STACKS
async def test_stack_websocket_error_after_close_or_denial_sends_nothing(
    stack, messages, ws_scope
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)
        raise KeyError("late")

    sent = await _serve(stack(app, None), ws_scope(extensions={"websocket.http.response": {}}))
    assert sent[:-1] == messages
    assert isinstance(sent[-1], KeyError)


@STACKS
async def test_stack_handled_http_exception_is_rendered(stack, http_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise HTTPException(418, "teapot")

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    await stack(app, None)(http_scope(), receive, send)
    assert _types(sent) == ["http.response.start", "http.response.body"]
    assert (sent[0]["status"], sent[1]["body"]) == (418, b"teapot")


@STACKS
async def test_stack_publishes_the_exception_layers_handlers(stack, http_scope) -> None:
    # The fused stack runs the exception layer inline: routing and endpoint
    # wrappers must still find its handler tables in the scope.
    async def handler(request: Request, exc: Exception) -> Any:
        return PlainTextResponse("handled", status_code=409)

    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get(EXCEPTION_HANDLERS_KEY))
        await PlainTextResponse("ok")(scope, receive, send)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    await stack(app, {ValueError: handler})(http_scope(), receive, send)
    by_class, _ = seen[0]
    assert by_class[ValueError] is handler
    assert _types(sent) == ["http.response.start", "http.response.body"]


@STACKS
async def test_stack_tracked_send_hands_back_the_servers_awaitable(stack, http_scope) -> None:
    # The tracking layer returns the server's awaitable instead of wrapping
    # it in a coroutine of its own: an app that awaits it later (or passes
    # it around) still sends exactly once, and an error after that is not
    # answered with a second response start.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pending = send({"type": "http.response.start", "status": 200, "headers": []})
        await pending
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise KeyError("mid-body")

    sent = await _serve(stack(app, None), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]


async def test_progress_defaults_say_nothing_was_sent() -> None:
    for progress in (Progress(), fresh_progress()):
        assert (progress.started, progress.accepted, progress.finished) == (False, False, False)
        assert progress.committed is False
    assert Progress(started=True).committed is True
    assert Progress(finished=True).committed is True
    assert Progress(accepted=True).committed is False


@STACKS
async def test_stack_error_after_an_early_hint_is_still_answered_500(stack, http_scope) -> None:
    # A 103 Early Hints is followed by the final response anyway: it does not
    # stop an error from being answered.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": ["</a.css>; rel=preload"]})
        raise KeyError("after the hint")

    scope = http_scope(extensions={"http.response.early_hint": {}})
    sent = await _serve(stack(app, None), scope)
    assert _types(sent) == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
        KeyError,
    ]
    assert sent[1]["status"] == 500


@STACKS
async def test_stack_handled_error_after_an_early_hint_is_rendered(stack, http_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": ["</a.css>; rel=preload"]})
        raise HTTPException(404, "gone")

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = http_scope(extensions={"http.response.early_hint": {}})
    await stack(app, None)(scope, receive, send)
    assert _types(sent) == ["http.response.early_hint", "http.response.start", "http.response.body"]
    assert sent[1]["status"] == 404


class AnswersThenCallsApp:
    """A middleware that sends its own response, then runs the app anyway."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"accepted"})
        await self.app(scope, receive, send)


@pytest.mark.parametrize("handled", [False, True], ids=["unhandled", "handled"])
async def test_app_error_after_a_middleware_answered_sends_no_second_response(
    handled, http_scope
) -> None:
    # App's stack: the inner error layer shares the outer one's record, so it
    # knows the middleware already answered on the same send, and neither a
    # 500 nor a handler's response follows it (a second start is a protocol
    # error).  The exception still reaches the server.
    handlers = {KeyError: lambda request, exc: PlainTextResponse("no", 404)} if handled else None
    inner = ServerErrorMiddleware(ExceptionMiddleware(raising(KeyError("x")), handlers=handlers))
    sent = await _serve(ServerErrorMiddleware(AnswersThenCallsApp(inner)), http_scope())
    # A handled error after the start is Starlette's RuntimeError, chained from it.
    error = RuntimeError if handled else KeyError
    assert _types(sent) == ["http.response.start", "http.response.body", error]
    assert sent[0]["status"] == 202


class Buffering:
    """A middleware that holds every message back until the app returns."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        held: list[Any] = []

        async def hold(message: Any) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        for message in held:
            await send(message)


@pytest.mark.parametrize("where", ["before-start", "mid-body"])
async def test_error_inside_a_buffering_middleware_gets_a_500_from_the_outer_layer(
    where, http_scope
) -> None:
    # The client got nothing (the middleware held it all back): the outer
    # error layer, which tracks what reached the server, answers 500.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if where == "mid-body":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise KeyError(where)

    inner = ServerErrorMiddleware(ExceptionMiddleware(app))
    sent = await _serve(ServerErrorMiddleware(Buffering(inner)), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]
    assert (sent[0]["status"], sent[1]["body"]) == (500, b"Internal Server Error")


async def test_middleware_error_after_its_own_response_sends_no_500(http_scope) -> None:
    class AnswersThenFails(AnswersThenCallsApp):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b"accepted"})
            raise KeyError("after answering")

    inner = ServerErrorMiddleware(ExceptionMiddleware(PlainTextResponse("unreached")))
    sent = await _serve(ServerErrorMiddleware(AnswersThenFails(inner)), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]
    assert sent[0]["status"] == 202


# --- a streamed response through the error layers -------------------------------------
# Once the start went out, the body chunks skip the tracking layer (it has
# nothing left to record): every chunk must still arrive, in order, through
# whatever middleware sits between, and an error mid-stream must still be
# known as "after the start".


async def _serve_stream(app: Any, scope: Any) -> list[Any]:
    """Like `_serve`, with a client that sends its request once and then waits."""
    sent: list[Any] = []
    requested = False

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        nonlocal requested
        if requested:
            await anyio.sleep_forever()
        requested = True
        return {"type": "http.request", "body": b""}

    try:
        await app(scope, receive, send)
    except Exception as exc:
        sent.append(exc)
    return sent


async def _chunks(fail_after: int | None = None) -> Any:
    for index, chunk in enumerate([b"a", b"b", b"c"]):
        if index == fail_after:
            raise KeyError("mid-stream")
        yield chunk


@STACKS
async def test_stack_streamed_response_arrives_whole(stack, http_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(_chunks())(scope, receive, send)

    sent = await _serve_stream(stack(app, None), http_scope())
    assert _types(sent) == ["http.response.start"] + ["http.response.body"] * 4
    assert [(m["body"], m.get("more_body", False)) for m in sent[1:]] == [
        (b"a", True),
        (b"b", True),
        (b"c", True),
        (b"", False),
    ]
    if stack is _app_shaped_wrapping:
        assert (b"x-added", b"1") in sent[0]["headers"]


@STACKS
async def test_stack_error_mid_stream_sends_nothing_more(stack, http_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(_chunks(fail_after=2))(scope, receive, send)

    handlers = {KeyError: lambda request, exc: PlainTextResponse("no")}
    sent = await _serve_stream(stack(app, handlers), http_scope())
    assert _types(sent) == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
        RuntimeError,
    ]
    assert [m["body"] for m in sent[1:3]] == [b"a", b"b"]
    assert str(sent[-1]) == "Caught handled exception, but response already started."
    assert isinstance(sent[-1].__cause__, KeyError)


async def test_error_mid_stream_inside_a_buffering_middleware_gets_a_500(http_scope) -> None:
    # The stream's chunks skip the inner tracking layer, not the middleware:
    # the buffering middleware holds them, the client got nothing, and the
    # outer layer answers 500.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(_chunks(fail_after=2))(scope, receive, send)

    inner = ServerErrorMiddleware(ExceptionMiddleware(app))
    sent = await _serve_stream(ServerErrorMiddleware(Buffering(inner)), http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", KeyError]
    assert sent[0]["status"] == 500


# --- the 500 handler after the response started (as in Starlette) -----------------------


def _answers_then_fails(exc: Exception) -> Any:
    # A response whose background work fails after the body went out.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        raise exc

    return app


@pytest.mark.parametrize("sync", [False, True], ids=["async-handler", "sync-handler"])
async def test_handler_still_runs_for_an_error_after_the_response_started(sync, http_scope) -> None:
    heard: list[str] = []

    def report(request: Request, exc: Exception) -> PlainTextResponse:
        heard.append(repr(exc))
        return PlainTextResponse("never sent", status_code=500)

    async def report_async(request: Request, exc: Exception) -> PlainTextResponse:
        return report(request, exc)

    handler = report if sync else report_async
    app = ServerErrorMiddleware(_answers_then_fails(ValueError("late")), handler=handler)
    sent = await _serve(app, http_scope())
    # Its response is dropped (a second start would break the protocol).
    assert _types(sent) == ["http.response.start", "http.response.body", ValueError]
    assert sent[0]["status"] == 200
    assert heard == ["ValueError('late')"]


async def test_two_error_layers_run_the_handler_once_after_the_start(http_scope) -> None:
    heard: list[str] = []

    def report(request: Request, exc: Exception) -> None:
        heard.append(repr(exc))

    inner = ServerErrorMiddleware(_answers_then_fails(ValueError("late")), handler=report)
    app = ServerErrorMiddleware(HeaderAdding(inner), handler=report)
    sent = await _serve(app, http_scope())
    assert _types(sent) == ["http.response.start", "http.response.body", ValueError]
    assert heard == ["ValueError('late')"]
