"""`App` subclassed the way FastAPI does it: its own `__init__`, no `super().__init__()`.

The regression this pins: an attribute only `App.__init__` set made every
request of such an application fail with AttributeError.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagstone import (
    App,
    HTTPException,
    JSONResponse,
    Middleware,
    Request,
    Route,
    Router,
    State,
    TestClient,
)


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.path_params.get("name", "world")})


async def boom(request: Request) -> JSONResponse:
    raise HTTPException(418, "teapot")


class FastAPIShaped(App):
    """Sets only what FastAPI sets itself; never calls App.__init__."""

    def __init__(self, routes: list[Any], middleware: list[Middleware] | None = None) -> None:
        self.debug = False
        self.state = State()
        self.router = Router(routes)
        self.exception_handlers = {}
        self.user_middleware = list(middleware or [])
        self.middleware_stack = None


class Bare(App):
    """Sets only the two attributes the subclassing contract requires."""

    def __init__(self, routes: list[Any]) -> None:
        self.router = Router(routes)
        self.state = State()


ROUTES = [Route("/hello/{name}", hello), Route("/boom", boom)]


@pytest.mark.parametrize("cls", [FastAPIShaped, Bare])
def test_serves_requests_without_app_init(cls: type[App]) -> None:
    app = cls(ROUTES)  # type: ignore[call-arg]
    with TestClient(app) as client:
        assert client.get("/hello/ada").json() == {"hello": "ada"}
        response = client.get("/boom")
        assert response.status_code == 418
        assert response.text == "teapot"
        assert client.get("/missing").status_code == 404


def test_object_new_plus_documented_attributes_serves() -> None:
    app = object.__new__(App)
    app.router = Router(ROUTES)
    app.state = State()
    assert TestClient(app).get("/hello/bob").json() == {"hello": "bob"}


def test_add_middleware_and_handlers_without_init_do_not_touch_the_class() -> None:
    class Tag:
        def __init__(self, app: Any, value: str) -> None:
            self.app, self.value = app, value

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def tagged(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-tag", self.value.encode()),
                    ]
                await send(message)

            await self.app(scope, receive, tagged)

    async def on_teapot(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"handled": True}, status_code=418)

    app = Bare(ROUTES)
    app.add_middleware(Tag, value="one")
    app.add_exception_handler(418, on_teapot)
    response = TestClient(app).get("/boom")
    assert response.headers["x-tag"] == "one"
    assert response.json() == {"handled": True}
    # The class defaults stay empty for the next application.
    other = Bare(ROUTES)
    assert list(other.user_middleware) == []
    assert dict(other.exception_handlers) == {}
    assert App.user_middleware == ()


def test_public_attributes_changed_after_construction() -> None:
    app = App(routes=ROUTES)
    app.debug = True
    app.max_body_size = 4
    client = TestClient(app)
    assert client.post("/hello/x", content=b"0123456789").status_code in (405, 413)
    app2 = App(routes=[Route("/echo", _echo, methods=["POST"])])
    app2.max_body_size = 4
    assert TestClient(app2).post("/echo", content=b"0123456789").status_code == 413


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"n": len(await request.body())})
