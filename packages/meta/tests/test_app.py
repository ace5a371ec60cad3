"""The App: Starlette's application class with every flagstone package together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from flagstone import (
    App,
    AsyncTestClient,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    TestClient,
    WebSocket,
    WebSocketRoute,
)
from flagstone_contract import ASGIApp, Message, Receive, Scope, Send


class HeaderMiddleware:
    """A CORS-style pure ASGI middleware that adds a header to every response."""

    def __init__(self, app: ASGIApp, name: str = "x-added", value: str = "yes") -> None:
        self.app = app
        self.header = (name.encode(), value.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)


def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def forbidden(request: Request) -> PlainTextResponse:
    raise HTTPException(403, "nope")


def app_is_me(request: Request) -> JSONResponse:
    return JSONResponse({"same": request.app is request.scope["app"]})


def test_routes_and_app_in_scope() -> None:
    app = App(routes=[Route("/", hello), Route("/me", app_is_me)])
    client = TestClient(app)
    assert client.get("/").text == "hello"
    assert client.get("/me").json() == {"same": True}
    assert client.get("/missing").status_code == 404


def test_http_exception_is_rendered() -> None:
    client = TestClient(App(routes=[Route("/", forbidden)]))
    response = client.get("/")
    assert (response.status_code, response.text) == (403, "nope")


def test_405_lists_allowed_methods() -> None:
    client = TestClient(App(routes=[Route("/", hello, methods=["GET", "POST"])]))
    response = client.delete("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_500_is_rendered_outside_user_middleware(anyio_backend: str) -> None:
    """As in Starlette: the 500 is sent by the outermost layer, past user middleware."""
    app = App(routes=[Route("/", boom)], middleware=[Middleware(HeaderMiddleware)])
    client = TestClient(app, raise_server_exceptions=False, backend=anyio_backend)  # type: ignore[arg-type]
    response = client.get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "x-added" not in response.headers


def test_500_passes_through_user_middleware_on_request(anyio_backend: str) -> None:
    """`errors_through_middleware=True`: the 500 carries the headers user middleware adds."""
    app = App(
        routes=[Route("/", boom)],
        middleware=[Middleware(HeaderMiddleware)],
        errors_through_middleware=True,
    )
    client = TestClient(app, raise_server_exceptions=False, backend=anyio_backend)  # type: ignore[arg-type]
    response = client.get("/")
    assert response.status_code == 500
    assert response.headers["x-added"] == "yes"
    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app, backend=anyio_backend).get("/")  # type: ignore[arg-type]


def test_500_still_raises_the_original_exception_for_the_server() -> None:
    app = App(routes=[Route("/", boom)], middleware=[Middleware(HeaderMiddleware)])
    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app).get("/")


@pytest.mark.parametrize("through", [False, True], ids=["starlette-order", "through-middleware"])
def test_custom_500_handler(anyio_backend: str, through: bool) -> None:
    calls: list[str] = []

    def on_error(request: Request, exc: Exception) -> PlainTextResponse:
        calls.append(str(exc))
        return PlainTextResponse(f"handled {exc}", status_code=500)

    app = App(
        routes=[Route("/", boom)],
        middleware=[Middleware(HeaderMiddleware)],
        exception_handlers={Exception: on_error},
        errors_through_middleware=through,
    )
    client = TestClient(app, raise_server_exceptions=False, backend=anyio_backend)  # type: ignore[arg-type]
    response = client.get("/")
    assert (response.status_code, response.text) == (500, "handled boom")
    assert ("x-added" in response.headers) is through
    assert calls == ["boom"]  # once, whichever layer answered


def test_exception_handler_by_status_and_class() -> None:
    class Teapot(Exception):
        pass

    def raise_teapot(request: Request) -> PlainTextResponse:
        raise Teapot()

    def on_teapot(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("short and stout", status_code=418)

    def on_404(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"missing": request.url.path}, status_code=404)

    app = App(routes=[Route("/tea", raise_teapot)], exception_handlers={Teapot: on_teapot})
    app.add_exception_handler(404, on_404)
    client = TestClient(app)
    assert client.get("/tea").status_code == 418
    assert client.get("/nowhere").json() == {"missing": "/nowhere"}


def test_middleware_order_first_listed_is_outermost() -> None:
    seen: list[str] = []

    class Record:
        def __init__(self, app: ASGIApp, tag: str) -> None:
            self.app, self.tag = app, tag

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(self.tag)
            await self.app(scope, receive, send)

    app = App(
        routes=[Route("/", hello)], middleware=[Middleware(Record, "a"), Middleware(Record, "b")]
    )
    app.add_middleware(Record, "first")
    TestClient(app).get("/")
    assert seen == ["first", "a", "b"]


def test_add_middleware_after_start_fails_loudly() -> None:
    app = App(routes=[Route("/", hello)])
    TestClient(app).get("/")
    with pytest.raises(RuntimeError) as info:
        app.add_middleware(HeaderMiddleware)
    assert str(info.value) == "Cannot add middleware after an application has started"
    assert "App(middleware=[...])" in info.value.__notes__[0]


def test_add_exception_handler_after_start_fails_loudly() -> None:
    app = App(routes=[Route("/", hello)])
    TestClient(app).get("/")
    with pytest.raises(RuntimeError, match="exception_handlers=") as info:
        app.add_exception_handler(404, lambda request, exc: None)
    assert str(info.value) == "Cannot add exception handlers after an application has started"


def test_url_path_for_mount_host_and_add_route() -> None:
    inner = App(routes=[Route("/item/{id:int}", hello, name="item")])
    app = App()
    app.mount("/shop", inner, name="shop")
    app.add_route("/hi", hello, name="hi")
    assert app.url_path_for("hi") == "/hi"
    client = TestClient(app)
    assert client.get("/hi").text == "hello"
    assert client.get("/shop/item/3").text == "hello"
    assert [getattr(route, "path", None) for route in app.routes] == ["/shop", "/hi"]


def test_websocket_route_and_add_websocket_route() -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text.upper())
        await websocket.close()

    app = App(routes=[WebSocketRoute("/ws", echo)])
    app.add_websocket_route("/ws2", echo)
    client = TestClient(app)
    for path in ("/ws", "/ws2"):
        with client.websocket_connect(path) as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "HI"


def test_lifespan_state_reaches_requests() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello from lifespan"}
        events.append("shutdown")

    def greet(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    app = App(routes=[Route("/", greet)], lifespan=lifespan)
    with TestClient(app) as client:
        assert client.get("/").text == "hello from lifespan"
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_max_body_size_answers_413() -> None:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = App(routes=[Route("/", echo, methods=["POST"])], max_body_size=10)
    client = TestClient(app)
    assert client.post("/", content=b"x" * 10).text == "10"
    assert client.post("/", content=b"x" * 11).status_code == 413


def test_max_body_size_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_body_size"):
        App(max_body_size=-1)


@pytest.mark.anyio
async def test_async_client_with_app(anyio_backend: str) -> None:
    app = App(routes=[Route("/", hello)])
    async with AsyncTestClient(app) as client:
        response = await client.get("/")
    assert response.text == "hello"
