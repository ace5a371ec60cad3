"""BaseHTTPMiddleware with flagstone-requests: each Starlette defect it avoids, on both backends.

Driven at the ASGI level (every message the app sends is recorded), in
front of a flagstone App, a raw ASGI app and a Starlette app.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse as StarlettePlainText
from starlette.routing import Route as StarletteRoute

from flagstone import (
    App,
    BackgroundTask,
    BaseHTTPMiddleware,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Response,
    Route,
    StreamingResponse,
    iterate_in_threadpool,
)

pytestmark = pytest.mark.anyio

Sent = list[dict[str, Any]]


async def drive(
    app: Any,
    *,
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    on_message: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    disconnect_after_first_body: bool = False,
) -> Sent:
    """One request; every message sent.  receive() gives the body, then waits for the end."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: Sent = []
    done = anyio.Event()
    body_pending = True

    async def receive() -> dict[str, Any]:
        nonlocal body_pending
        if body_pending:
            body_pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        final = not message.get("more_body", False) or disconnect_after_first_body
        if message["type"] == "http.response.body" and final:
            done.set()
        if on_message is not None:
            await on_message(message)

    with anyio.fail_after(10):
        await app(scope, receive, send)
    return sent


def status(sent: Sent) -> int:
    return int(sent[0]["status"])


def header(sent: Sent, name: str) -> str | None:
    for key, value in sent[0]["headers"]:
        if key == name.encode():
            return bytes(value).decode()
    return None


def body(sent: Sent) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


class AddHeader(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-dispatch"] = request.url.path
        return response


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello")


async def raw_hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"Hello"})


def starlette_hello() -> Any:
    async def endpoint(request: Any) -> StarlettePlainText:
        return StarlettePlainText("Hello")

    return Starlette(routes=[StarletteRoute("/", endpoint)])


@pytest.mark.parametrize(
    "make_app",
    [
        pytest.param(
            lambda: App(routes=[Route("/", hello)], middleware=[Middleware(AddHeader)]),
            id="flagstone",
        ),
        pytest.param(lambda: AddHeader(raw_hello), id="raw"),
        pytest.param(lambda: AddHeader(starlette_hello()), id="starlette"),
    ],
)
async def test_dispatch_changes_the_response(make_app: Any) -> None:
    sent = await drive(make_app())
    assert status(sent) == 200
    assert body(sent) == b"Hello"
    assert header(sent, "x-dispatch") == "/"


async def test_dispatch_argument_instead_of_subclass() -> None:
    async def dispatch(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.status_code = 201
        return response

    sent = await drive(BaseHTTPMiddleware(raw_hello, dispatch=dispatch))
    assert status(sent) == 201


# --- context variables ------------------------------------------------------------------

request_user: contextvars.ContextVar[str] = contextvars.ContextVar("request_user", default="-")


async def test_contextvar_set_in_the_endpoint_is_visible_after_call_next() -> None:
    seen: list[str] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        request_user.set("ada")
        return PlainTextResponse("ok")

    class Log(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            seen.append(request_user.get())
            return response

    await drive(App(routes=[Route("/", endpoint)], middleware=[Middleware(Log)]))
    assert seen == ["ada"]


# --- background tasks -------------------------------------------------------------------


async def test_background_task_runs_once_after_the_response() -> None:
    events: list[str] = []

    async def task() -> None:
        events.append("task")

    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", background=BackgroundTask(task))

    async def on_message(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            events.append("response complete")

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(AddHeader)])
    await drive(app, on_message=on_message)
    assert events == ["response complete", "task"]


# --- streaming ----------------------------------------------------------------------------


async def test_streaming_response_is_not_buffered() -> None:
    """Chunk i+1 is produced only after the client got chunk i: buffering would deadlock."""
    got = [anyio.Event() for _ in range(4)]
    received: list[bytes] = []

    async def endpoint(request: Request) -> StreamingResponse:
        async def chunks() -> Any:
            for i in range(4):
                yield f"chunk {i};".encode()
                await got[i].wait()

        return StreamingResponse(chunks(), media_type="text/plain")

    async def on_message(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            received.append(message["body"])
            got[len(received) - 1].set()

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(AddHeader)])
    sent = await drive(app, on_message=on_message)
    assert received == [f"chunk {i};".encode() for i in range(4)]
    assert header(sent, "x-dispatch") == "/"


async def test_client_disconnect_ends_an_endless_stream() -> None:
    closed: list[bool] = []

    async def endpoint(request: Request) -> StreamingResponse:
        async def forever() -> Any:
            try:
                while True:
                    yield b"tick"
                    await anyio.lowlevel.checkpoint()
            finally:
                closed.append(True)

        return StreamingResponse(forever())

    app = App(routes=[Route("/", endpoint)], middleware=[Middleware(AddHeader)])
    await drive(app, disconnect_after_first_body=True)
    assert closed == [True]


# --- the body, twice ------------------------------------------------------------------


class ReadBody(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        seen = await request.body()
        response = await call_next(request)
        response.headers["x-seen"] = seen.decode()
        return response


async def test_body_read_in_dispatch_is_readable_by_the_endpoint() -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    app = App(routes=[Route("/", echo, methods=["POST"])], middleware=[Middleware(ReadBody)])
    sent = await drive(app, method="POST", body=b'{"a": 1}')
    assert body(sent) == b'{"a":1}'
    assert header(sent, "x-seen") == '{"a": 1}'


async def test_body_read_in_dispatch_is_replayed_to_a_raw_app() -> None:
    async def raw_echo(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    sent = await drive(ReadBody(raw_echo), method="POST", body=b"payload")
    assert body(sent) == b"payload"


# --- exceptions -------------------------------------------------------------------------


async def test_handled_exception_is_rendered_by_the_apps_handler() -> None:
    async def fail(request: Request) -> Response:
        raise ValueError("bad value")

    async def on_value_error(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {exc}", status_code=422)

    app = App(
        routes=[Route("/", fail)],
        middleware=[Middleware(AddHeader)],
        exception_handlers={ValueError: on_value_error},
    )
    sent = await drive(app)
    assert status(sent) == 422
    assert body(sent) == b"handled bad value"


async def test_unhandled_exception_reaches_dispatch_as_itself() -> None:
    caught: list[BaseException] = []

    async def fail(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom")

    class Catch(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            try:
                return await call_next(request)
            except LookupError as exc:  # not an ExceptionGroup
                caught.append(exc)
                return PlainTextResponse("recovered", status_code=503)

    sent = await drive(Catch(fail))
    assert status(sent) == 503
    assert [str(e) for e in caught] == ["boom"]


async def test_unhandled_exception_propagates_unwrapped() -> None:
    async def fail(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await drive(AddHeader(fail))


async def test_app_without_a_response() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(RuntimeError, match="No response returned"):
        await drive(AddHeader(silent))


async def test_dispatch_may_ignore_the_apps_response() -> None:
    finished: list[str] = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ignored"})
        finally:
            finished.append("app unwound")

    class Replace(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            await call_next(request)
            return PlainTextResponse("replacement")

    sent = await drive(Replace(slow))
    assert body(sent) == b"replacement"
    assert finished == ["app unwound"]


async def test_dispatch_may_rewrite_the_body_through_body_iterator() -> None:
    async def endpoint(request: Request) -> StreamingResponse:
        async def chunks() -> Any:
            yield b"a"
            yield b"b"

        return StreamingResponse(chunks())

    class Upper(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            content = b"".join([chunk async for chunk in response.body_iterator])
            return Response(content.upper(), status_code=response.status_code)

    sent = await drive(App(routes=[Route("/", endpoint)], middleware=[Middleware(Upper)]))
    assert body(sent) == b"AB"


def streamed_ab(finished: list[str]) -> Any:
    async def endpoint(request: Request) -> StreamingResponse:
        async def chunks() -> Any:
            try:
                yield b"a"
                yield b"b"
            finally:
                finished.append("app done")

        return StreamingResponse(chunks())

    return endpoint


async def test_dispatch_may_read_the_body_and_put_it_back() -> None:
    # Starlette's usual pattern for logging or caching a response body.
    finished: list[str] = []
    read: list[bytes] = []

    class Log(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            chunks = [chunk async for chunk in response.body_iterator]
            read.append(b"".join(chunks))
            response.body_iterator = iterate_in_threadpool(iter(chunks))
            return response

    sent = await drive(
        App(routes=[Route("/", streamed_ab(finished))], middleware=[Middleware(Log)])
    )
    assert (body(sent), read, finished) == (b"ab", [b"ab"], ["app done"])


async def test_dispatch_may_wrap_the_body_iterator() -> None:
    finished: list[str] = []

    class Upper(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            original = response.body_iterator

            async def upper() -> Any:
                async for chunk in original:
                    yield chunk.decode().upper()  # text: encoded with the charset

            response.body_iterator = upper()
            return response

    sent = await drive(
        App(routes=[Route("/", streamed_ab(finished))], middleware=[Middleware(Upper)])
    )
    assert (body(sent), finished) == (b"AB", ["app done"])


async def test_a_body_iterator_replaced_unread_still_lets_the_app_finish() -> None:
    finished: list[str] = []

    class Replace(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)

            async def other() -> Any:
                yield b"other"

            response.body_iterator = other()
            return response

    sent = await drive(
        App(routes=[Route("/", streamed_ab(finished))], middleware=[Middleware(Replace)])
    )
    assert (body(sent), finished) == (b"other", ["app done"])


async def test_websocket_and_lifespan_skip_dispatch() -> None:
    calls: list[str] = []

    class Never(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            raise AssertionError("dispatch is for HTTP only")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    await Never(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await Never(app)({"type": "websocket"}, None, None)  # type: ignore[arg-type]
    assert calls == ["lifespan", "websocket"]


async def test_cancelling_the_request_cancels_the_app_task() -> None:
    """No app task outlives the request (asyncio: a plain task; trio: a task group)."""
    unwound: list[bool] = []
    started = anyio.Event()

    async def hang(scope: Any, receive: Any, send: Any) -> None:
        try:
            started.set()
            await anyio.sleep_forever()
        finally:
            unwound.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(drive, AddHeader(hang))
        await started.wait()
        tg.cancel_scope.cancel()
    assert unwound == [True]


async def test_dispatch_request_can_send_early_hints() -> None:
    # Starlette gives dispatch a Request with the send channel.
    class Hints(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            await request.send_early_hints("</style.css>; rel=preload; as=style")
            return await call_next(request)

    app = Hints(raw_hello)
    scope_extensions = {"http.response.early_hint": {}}

    async def with_extension(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "extensions": scope_extensions}, receive, send)

    sent = await drive(with_extension)
    assert sent[0] == {
        "type": "http.response.early_hint",
        "links": [b"</style.css>; rel=preload; as=style"],
    }
    assert sent[1]["status"] == 200
    assert body(sent[1:]) == b"Hello"


class ReadsBody(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        seen = await request.body()
        response = await call_next(request)
        response.headers["x-dispatch-saw"] = seen.decode()
        return response


class UppercaseBody:
    """A raw ASGI middleware rewriting the request body on its way in."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def upper() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                message = {**message, "body": message.get("body", b"").upper()}
            return message

        await self.app(scope, upper, send)


async def echo_body(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await request.body())


async def test_a_body_rewriting_middleware_behind_a_body_reading_dispatch_takes_effect() -> None:
    # Starlette replays the body through receive, so the rewrite applies.
    app = App(
        routes=[Route("/", echo_body, methods=["POST"])],
        middleware=[Middleware(ReadsBody), Middleware(UppercaseBody)],
    )
    sent = await drive(app, method="POST", body=b"hello")
    assert status(sent) == 200
    assert body(sent) == b"HELLO"
    assert header(sent, "x-dispatch-saw") == "hello"


async def test_a_body_read_in_dispatch_is_read_again_by_the_endpoint() -> None:
    app = App(routes=[Route("/", echo_body, methods=["POST"])], middleware=[Middleware(ReadsBody)])
    sent = await drive(app, method="POST", body=b"hello")
    assert (status(sent), body(sent)) == (200, b"hello")
