"""request_response, websocket_session, HTTPEndpoint and WebSocketEndpoint."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import anyio
import pytest

from flagstone_contract import HTTPException
from flagstone_requests import (
    ExceptionMiddleware,
    HTTPEndpoint,
    JSONResponse,
    PlainTextResponse,
    Request,
    ServerErrorMiddleware,
    StreamingResponse,
    WebSocket,
    WebSocketDisconnect,
    WebSocketEndpoint,
    request_response,
    websocket_session,
)

pytestmark = pytest.mark.anyio

CONNECT = {"type": "websocket.connect"}


# --- request_response --------------------------------------------------------------


async def test_async_handler(http_scope, run_asgi, sent_response) -> None:
    async def hello(request: Request) -> Any:
        return PlainTextResponse(f"hello {request.method}")

    resp = sent_response((await run_asgi(request_response(hello), http_scope())).sent)
    assert resp.body == b"hello GET"


async def test_sync_handler_runs_in_thread(http_scope, run_asgi, sent_response) -> None:
    main = threading.get_ident()

    def hello(request: Request) -> Any:
        return JSONResponse({"in_thread": threading.get_ident() != main})

    resp = sent_response((await run_asgi(request_response(hello), http_scope())).sent)
    assert resp.body == b'{"in_thread":true}'


async def test_handler_returning_none_is_a_clear_error(http_scope, run_asgi) -> None:
    async def forgot(request: Request) -> None:
        return None

    with pytest.raises(TypeError, match="forgot returned None, not a response"):
        await run_asgi(request_response(forgot), http_scope())


async def test_http_endpoint_handler_returning_none_is_a_clear_error(http_scope, run_asgi) -> None:
    class Forgetful(HTTPEndpoint):
        async def get(self, request: Request) -> None:
            return None

    with pytest.raises(TypeError, match=r"Forgetful\.get returned None, not a response"):
        await run_asgi(Forgetful, http_scope())


async def test_request_without_form_ends_without_closing_anything(
    http_scope, run_asgi, sent_response
) -> None:
    # The wrapper skips `close()` when no form was parsed; a form without
    # files still takes the closing path, harmlessly.
    async def endpoint(request: Request) -> Any:
        if request.method == "POST":
            form = await request.form()
            return PlainTextResponse(form["a"])
        return PlainTextResponse("no form")

    app = request_response(endpoint)
    resp = sent_response((await run_asgi(app, http_scope())).sent)
    assert resp.body == b"no form"
    scope = http_scope(
        method="POST", headers=[("content-type", "application/x-www-form-urlencoded")]
    )
    messages = [{"type": "http.request", "body": b"a=1", "more_body": False}]
    resp = sent_response((await run_asgi(app, scope, messages=messages)).sent)
    assert resp.body == b"1"


async def test_handlers_apply_at_endpoint_level(http_scope, run_asgi, sent_response) -> None:
    """With ExceptionMiddleware outside, the endpoint wrapper renders errors itself,
    so a route middleware between them sees a response, not an exception."""
    seen_by_route_middleware: list[str] = []

    async def endpoint(request: Request) -> Any:
        raise HTTPException(418, "teapot")

    inner = request_response(endpoint)

    async def route_middleware(scope: Any, receive: Any, send: Any) -> None:
        try:
            await inner(scope, receive, send)
            seen_by_route_middleware.append("response")
        except HTTPException:
            seen_by_route_middleware.append("exception")
            raise

    resp = sent_response((await run_asgi(ExceptionMiddleware(route_middleware), http_scope())).sent)
    assert (resp.status, resp.body) == (418, b"teapot")
    assert seen_by_route_middleware == ["response"]


async def test_without_middleware_exceptions_propagate(http_scope, run_asgi) -> None:
    async def endpoint(request: Request) -> Any:
        raise HTTPException(418)

    with pytest.raises(HTTPException):
        await run_asgi(request_response(endpoint), http_scope())


async def test_upload_files_closed_after_request(http_scope, run_asgi) -> None:
    kept: list[Any] = []
    body = (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--B--\r\n"
    )

    async def endpoint(request: Request) -> Any:
        form = await request.form()
        kept.append(form["f"])
        return PlainTextResponse("ok")

    scope = http_scope(method="POST", headers=[("content-type", "multipart/form-data; boundary=B")])
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    await run_asgi(request_response(endpoint), scope, messages=messages)
    assert kept[0].file.closed


async def _upper(ws: WebSocket, suffix: str = "") -> None:
    await ws.accept()
    await ws.send_text((await ws.receive_text()).upper() + suffix)
    await ws.close()


def _sync_decorator(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(ws: WebSocket) -> Any:
        return func(ws)  # a coroutine, returned by a plain function

    return wrapper


class _Handlers:
    def sync_method(self, ws: WebSocket) -> Any:
        return _upper(ws)

    async def async_method(self, ws: WebSocket) -> None:
        await _upper(ws)


class _AwaitableResult:
    """Not a coroutine, only awaitable: what some decorators return."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    def __await__(self) -> Any:
        return _upper(self.ws).__await__()


WEBSOCKET_ENDPOINT_SHAPES = {
    "async-function": (_upper, "HI"),
    "sync-decorator-returning-a-coroutine": (_sync_decorator(_upper), "HI"),
    "lambda-returning-a-coroutine": (lambda ws: _upper(ws), "HI"),
    "partial-of-async": (functools.partial(_upper, suffix="!"), "HI!"),
    "partial-of-sync-decorator": (functools.partial(_sync_decorator(_upper)), "HI"),
    "sync-bound-method": (_Handlers().sync_method, "HI"),
    "async-bound-method": (_Handlers().async_method, "HI"),
    "returns-an-awaitable-object": (_AwaitableResult, "HI"),
}


@pytest.mark.parametrize(
    ("endpoint", "reply"),
    WEBSOCKET_ENDPOINT_SHAPES.values(),
    ids=WEBSOCKET_ENDPOINT_SHAPES.keys(),
)
async def test_websocket_session_awaits_whatever_the_endpoint_returns(
    endpoint: Any, reply: str, ws_scope, run_asgi
) -> None:
    app = websocket_session(endpoint)  # never refused up front
    messages = [CONNECT, {"type": "websocket.receive", "text": "hi"}]
    chan = await run_asgi(app, ws_scope(), messages=messages)
    assert chan.sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": reply},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]


class _NamedRoute:
    def __repr__(self) -> str:
        return "WebSocketRoute(path='/feed', name='feed')"


@pytest.mark.parametrize("returned", [None, "text", 42], ids=["none", "str", "int"])
async def test_websocket_endpoint_returning_no_awaitable_names_the_route(
    returned: Any, ws_scope, run_asgi
) -> None:
    def feed(ws: WebSocket) -> Any:
        return returned

    app = websocket_session(feed)
    with pytest.raises(TypeError) as info:
        await run_asgi(app, ws_scope(route=_NamedRoute()), messages=[CONNECT])
    message = str(info.value)
    assert message.startswith("WebSocketRoute(path='/feed', name='feed'): ")
    assert f"feed returned {returned!r}, not an awaitable" in message
    assert "async function" in message


async def test_websocket_endpoint_returning_no_awaitable_goes_through_the_handlers(
    ws_scope, run_asgi
) -> None:
    def feed(ws: WebSocket) -> None:
        return None

    seen: list[str] = []

    async def on_type_error(ws: WebSocket, exc: Exception) -> None:
        seen.append(str(exc))
        await ws.close(1011)

    app = ExceptionMiddleware(websocket_session(feed), handlers={TypeError: on_type_error})
    chan = await run_asgi(app, ws_scope(), messages=[CONNECT])
    assert chan.sent == [{"type": "websocket.close", "code": 1011, "reason": ""}]
    assert "not an awaitable" in seen[0]


async def test_websocket_session(ws_scope, run_asgi) -> None:
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text((await ws.receive_text()).upper())
        await ws.close()

    messages = [CONNECT, {"type": "websocket.receive", "text": "hi"}]
    chan = await run_asgi(websocket_session(echo), ws_scope(), messages=messages)
    assert [m["type"] for m in chan.sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    assert chan.sent[1]["text"] == "HI"


async def test_websocket_session_uses_handlers(ws_scope, run_asgi) -> None:
    async def fails(ws: WebSocket) -> None:
        await ws.accept()
        raise HTTPException(400, "bad")

    app = ExceptionMiddleware(websocket_session(fails))
    chan = await run_asgi(app, ws_scope(), messages=[CONNECT])
    assert chan.sent[-1] == {"type": "websocket.close", "code": 1008, "reason": "bad"}


# --- HTTPEndpoint --------------------------------------------------------------------


class Items(HTTPEndpoint):
    async def get(self, request: Request) -> Any:
        return PlainTextResponse("list")

    def post(self, request: Request) -> Any:  # sync: runs in a thread
        return PlainTextResponse("created", status_code=201)

    async def secret(self, request: Request) -> Any:  # not a verb: never dispatched
        return PlainTextResponse("leaked")


async def test_endpoint_dispatch(http_scope, run_asgi, sent_response) -> None:
    resp = sent_response((await run_asgi(Items, http_scope())).sent)
    assert resp.body == b"list"
    resp = sent_response((await run_asgi(Items, http_scope(method="POST"))).sent)
    assert (resp.status, resp.body) == (201, b"created")


async def test_head_uses_get_without_body(http_scope, run_asgi, sent_response) -> None:
    resp = sent_response((await run_asgi(Items, http_scope(method="HEAD"))).sent)
    assert (resp.status, resp.body) == (200, b"")


@pytest.mark.parametrize(
    "method",
    [
        pytest.param("DELETE", id="standard-verb-without-handler"),
        pytest.param("SECRET", id="method-named-like-an-attribute"),
        pytest.param("DISPATCH", id="method-named-dispatch"),
        pytest.param("__INIT__", id="dunder-method"),
        pytest.param("METHOD_NOT_ALLOWED", id="method-named-like-the-405-helper"),
        pytest.param("get", id="lower-case-verb"),
    ],
)
async def test_non_dispatchable_methods_get_405(
    method: str, http_scope, run_asgi, sent_response
) -> None:
    resp = sent_response((await run_asgi(Items, http_scope(method=method))).sent)
    assert resp.status == 405
    assert resp.header("allow") == "GET, HEAD, POST"
    assert resp.body == b"Method Not Allowed"


async def test_405_is_raised_inside_exception_middleware(
    http_scope, run_asgi, sent_response
) -> None:
    async def handle_405(request: Request, exc: HTTPException) -> Any:
        return JSONResponse({"allow": exc.headers["Allow"]}, status_code=405)

    app = ExceptionMiddleware(Items, handlers={405: handle_405})
    resp = sent_response((await run_asgi(app, http_scope(method="PUT"))).sent)
    assert resp.body == b'{"allow":"GET, HEAD, POST"}'


async def test_query_verb_is_dispatched(http_scope, run_asgi, sent_response) -> None:
    class Search(HTTPEndpoint):
        async def query(self, request: Request) -> Any:
            return PlainTextResponse("found")

    resp = sent_response((await run_asgi(Search, http_scope(method="QUERY"))).sent)
    assert resp.body == b"found"


# --- WebSocketEndpoint --------------------------------------------------------------


def recorder_endpoint(encoding: Any, log: list[Any]) -> type[WebSocketEndpoint]:
    class Echo(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            log.append(data)
            if encoding == "bytes":
                await websocket.send_bytes(data)
            elif encoding == "json":
                await websocket.send_json(data)
            else:
                await websocket.send_text(str(data))

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            log.append(("closed", close_code))

    Echo.encoding = encoding
    return Echo


@pytest.mark.parametrize(
    ("encoding", "frame", "decoded"),
    [
        (None, {"text": "hi"}, "hi"),
        (None, {"bytes": b"\x01"}, b"\x01"),
        (None, {"text": "hi", "bytes": None}, "hi"),
        (None, {"text": None, "bytes": b"\x02"}, b"\x02"),
        (None, {"text": ""}, ""),
        (None, {"bytes": b""}, b""),
        ("text", {"text": "hi"}, "hi"),
        ("bytes", {"bytes": b"\x01"}, b"\x01"),
        ("json", {"text": '{"a":1}'}, {"a": 1}),
        ("json", {"bytes": b"[1]"}, [1]),
    ],
)
async def test_websocket_endpoint_decodes(encoding, frame, decoded, ws_scope, run_asgi) -> None:
    log: list[Any] = []
    messages = [
        CONNECT,
        {"type": "websocket.receive", **frame},
        {"type": "websocket.disconnect", "code": 1001},
    ]
    chan = await run_asgi(recorder_endpoint(encoding, log), ws_scope(), messages=messages)
    assert log == [decoded, ("closed", 1001)]
    assert chan.sent[0]["type"] == "websocket.accept"


@pytest.mark.parametrize(
    ("encoding", "frame", "message"),
    [
        ("text", {"bytes": b"x"}, "Expected text websocket messages, but got bytes"),
        ("bytes", {"text": "x"}, "Expected bytes websocket messages, but got text"),
        ("json", {"text": "{not json"}, "Malformed JSON data received."),
    ],
)
async def test_websocket_endpoint_wrong_frame_closes_1003(
    encoding, frame, message, ws_scope, channel
) -> None:
    log: list[Any] = []
    chan = channel([CONNECT, {"type": "websocket.receive", **frame}], then="block")
    with pytest.raises(RuntimeError) as info:
        await recorder_endpoint(encoding, log)(ws_scope(), chan.receive, chan.send)
    assert str(info.value) == message  # Starlette's texts
    assert chan.sent[-1] == {"type": "websocket.close", "code": 1003, "reason": ""}
    assert log == [("closed", 1011)]


async def test_websocket_endpoint_handler_error_closes_1011(ws_scope, channel) -> None:
    class Broken(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            raise ValueError("bug")

    chan = channel([CONNECT, {"type": "websocket.receive", "text": "x"}], then="block")
    with pytest.raises(ValueError):
        await Broken(ws_scope(), chan.receive, chan.send)
    assert chan.sent[-1]["type"] == "websocket.close"
    assert chan.sent[-1]["code"] == 1011


async def test_explicit_head_handler_wins(http_scope, run_asgi, sent_response) -> None:
    class WithHead(HTTPEndpoint):
        async def get(self, request: Request) -> Any:
            return PlainTextResponse("get body")

        async def head(self, request: Request) -> Any:
            return PlainTextResponse("", headers={"x-from": "head"})

    resp = sent_response((await run_asgi(WithHead, http_scope(method="HEAD"))).sent)
    assert resp.header("x-from") == "head"


async def test_upload_files_closed_when_handler_fails(http_scope, run_asgi) -> None:
    kept: list[Any] = []
    body = (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--B--\r\n"
    )

    async def endpoint(request: Request) -> Any:
        form = await request.form()
        kept.append(form["f"])
        raise ValueError("handler bug")

    scope = http_scope(method="POST", headers=[("content-type", "multipart/form-data; boundary=B")])
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    with pytest.raises(ValueError, match="handler bug"):
        await run_asgi(request_response(endpoint), scope, messages=messages)
    assert kept[0].file.closed


async def test_websocket_endpoint_can_reject_in_on_connect(ws_scope, channel) -> None:
    log: list[Any] = []

    class Private(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            await websocket.close(code=1008)

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            log.append(close_code)

    chan = channel([CONNECT, {"type": "websocket.disconnect", "code": 1008}], then="block")
    await Private(ws_scope(), chan.receive, chan.send)
    assert chan.sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    assert log == [1008]


def test_endpoint_scope_type_is_checked(http_scope, ws_scope) -> None:
    async def noop(*_: Any) -> Any:
        return None

    with pytest.raises(ValueError, match="'http' scope"):
        Items(ws_scope(), noop, noop)
    with pytest.raises(ValueError, match="'websocket' scope"):
        WebSocketEndpoint(http_scope(), noop, noop)
    # Starlette asserts the scope type: catchable as AssertionError too.
    with pytest.raises(AssertionError):
        Items(ws_scope(), noop, noop)
    with pytest.raises(AssertionError):
        WebSocketEndpoint(http_scope(), noop, noop)


# --- a client that leaves mid-body ends the request quietly -----------------------


async def _read_body(request: Request) -> Any:
    await request.body()
    return PlainTextResponse("never")


async def _read_json(request: Request) -> Any:
    await request.json()
    return PlainTextResponse("never")


async def _read_form(request: Request) -> Any:
    await request.form()
    return PlainTextResponse("never")


async def _read_stream(request: Request) -> Any:
    async for _ in request.stream():
        pass
    return PlainTextResponse("never")


async def _echo_stream(request: Request) -> Any:
    # The disconnect surfaces while the *response* is being sent.
    return StreamingResponse(request.stream())


def _sync_read_body(request: Request) -> Any:
    from anyio.from_thread import run

    run(request.body)
    return PlainTextResponse("never")


DISCONNECT_READERS = {
    "body": _read_body,
    "json": _read_json,
    "form": _read_form,
    "stream": _read_stream,
    "stream_echoed_by_response": _echo_stream,
    "sync_endpoint_body": _sync_read_body,
}


class _UploadEndpoint(HTTPEndpoint):
    async def post(self, request: Request) -> Any:
        await request.form()
        return PlainTextResponse("never")


def _half_an_upload() -> list[dict[str, Any]]:
    return [
        {
            "type": "http.request",
            "body": b"--b\r\ncontent-disposition: form-data; name=",
            "more_body": True,
        },
        {"type": "http.disconnect"},
    ]


def _upload_scope(http_scope: Any) -> dict[str, Any]:
    return http_scope(method="POST", headers=[("content-type", "multipart/form-data; boundary=b")])


@pytest.mark.parametrize("app_kind", ["plain", "exception_middleware", "server_error_middleware"])
@pytest.mark.parametrize("reader", DISCONNECT_READERS.values(), ids=DISCONNECT_READERS.keys())
async def test_client_disconnect_mid_body_ends_quietly(
    http_scope, channel, caplog: pytest.LogCaptureFixture, reader: Any, app_kind: str
) -> None:
    app: Any = request_response(reader)
    if app_kind == "exception_middleware":
        app = ExceptionMiddleware(
            app, handlers={Exception: lambda r, e: PlainTextResponse("", 500)}
        )
    elif app_kind == "server_error_middleware":
        app = ServerErrorMiddleware(app)
    chan = channel(_half_an_upload())
    caplog.set_level(logging.DEBUG, logger="flagstone_requests")
    with anyio.fail_after(5):
        await app(_upload_scope(http_scope), chan.receive, chan.send)
    if reader is _echo_stream:
        # The response had started; it just stops (no 500 after it).
        assert [m.get("status") for m in chan.sent if "status" in m] == [200]
    else:
        assert chan.sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)


async def test_client_disconnect_in_http_endpoint_ends_quietly(
    http_scope, channel, caplog: pytest.LogCaptureFixture
) -> None:
    chan = channel(_half_an_upload())
    with anyio.fail_after(5):
        await _UploadEndpoint(_upload_scope(http_scope), chan.receive, chan.send)
    assert chan.sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_server_error_middleware_ends_a_raw_apps_disconnect_quietly(
    http_scope, channel, caplog: pytest.LogCaptureFixture
) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await Request(scope, receive).body()

    chan = channel(_half_an_upload())
    with anyio.fail_after(5):
        await ServerErrorMiddleware(raw)(_upload_scope(http_scope), chan.receive, chan.send)
    assert chan.sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("wrapped", ["bare", "server_error_middleware"])
async def test_websocket_disconnect_escaping_an_endpoint_propagates_as_in_starlette(
    ws_scope, channel, wrapped: str
) -> None:
    # Starlette's test client re-raises it when the session ends, and ported
    # tests rely on that; a server logs it, so endpoints should catch it.
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:  # never catches WebSocketDisconnect
            await websocket.send_text(await websocket.receive_text())

    app: Any = websocket_session(echo)
    if wrapped == "server_error_middleware":
        app = ServerErrorMiddleware(app)
    chan = channel(
        [
            CONNECT,
            {"type": "websocket.receive", "text": "hi"},
            {"type": "websocket.disconnect", "code": 1001},
        ]
    )
    with anyio.fail_after(5), pytest.raises(WebSocketDisconnect) as info:
        await app(ws_scope(), chan.receive, chan.send)
    assert info.value.code == 1001
    assert [m["type"] for m in chan.sent][:2] == ["websocket.accept", "websocket.send"]


async def test_websocket_endpoint_default_encoding_passes_text_and_bytes(
    ws_scope, run_asgi
) -> None:
    received: list[Any] = []

    class Echo(WebSocketEndpoint):  # `encoding` left at its default, None
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            received.append(data)
            if isinstance(data, str):
                await websocket.send_text(data)
            else:
                await websocket.send_bytes(data)

    messages = [
        CONNECT,
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.receive", "bytes": b"\x00\xff"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    chan = await run_asgi(Echo, ws_scope(), messages=messages)
    assert Echo.encoding is None
    assert received == ["hi", b"\x00\xff"]
    assert chan.sent[1:] == [
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.send", "bytes": b"\x00\xff"},
    ]


async def test_websocket_endpoint_unknown_encoding_says_which_are_valid(ws_scope, channel) -> None:
    class Odd(WebSocketEndpoint):
        encoding = "xml"  # type: ignore[assignment]

    chan = channel([CONNECT, {"type": "websocket.receive", "text": "<a/>"}], then="block")
    with pytest.raises(AssertionError) as info:  # Starlette asserts
        await Odd(ws_scope(), chan.receive, chan.send)
    assert str(info.value) == "Unsupported 'encoding' attribute xml"
    assert isinstance(info.value, RuntimeError)
    assert any('Odd.encoding is \'xml\'; use "text", "bytes"' in n for n in info.value.__notes__)
    assert chan.sent[-1] == {"type": "websocket.close", "code": 1011, "reason": ""}


# --- sync handlers that return an awaitable -------------------------------------------


def _sync_http_decorator(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(request: Request) -> Any:
        return func(request)

    return wrapper


@_sync_http_decorator
async def _decorated_hello(request: Request) -> Any:
    return PlainTextResponse(f"hello {request.method}")


async def test_sync_handler_returning_a_coroutine_is_awaited(
    http_scope, run_asgi, sent_response
) -> None:
    resp = sent_response((await run_asgi(request_response(_decorated_hello), http_scope())).sent)
    assert (resp.status, resp.body) == (200, b"hello GET")


async def test_sync_endpoint_method_returning_a_coroutine_is_awaited(
    http_scope, run_asgi, sent_response
) -> None:
    class Decorated(HTTPEndpoint):
        post = staticmethod(_decorated_hello)

    resp = sent_response((await run_asgi(Decorated, http_scope(method="POST"))).sent)
    assert (resp.status, resp.body) == (200, b"hello POST")
