"""The mini framework (packages/meta/examples/minifw): each extension point, used as a framework does.

Run under a strict warnings policy (every warning is an error), as framework
test suites are.  Each test names the extension point it documents.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from flagstone import (
    HTTPException,
    Lifespan,
    Request,
    Route,
    TestClient,
    UploadFile,
    WebSocket,
    WebSocketDenialResponse,
    WebSocketDisconnect,
)

pytestmark = pytest.mark.filterwarnings("error")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def minifw() -> Any:
    import sys

    sys.path.insert(0, str(EXAMPLES))
    try:
        import minifw
    finally:
        sys.path.remove(str(EXAMPLES))
    return minifw


@dataclasses.dataclass
class Item:
    name: str
    price: float


@pytest.fixture(params=["MiniFW", "MiniAPI"])
def app_class(request: pytest.FixtureRequest) -> str:
    """Every test runs on both application classes: through `App.__init__`, and FastAPI's shape."""
    return str(request.param)


@pytest.fixture
def app(minifw: Any, app_class: str) -> Any:
    """A small application written in minifw, with a typed lifespan and an included router."""

    @asynccontextmanager
    async def lifespan(app: minifw.MiniFW) -> AsyncIterator[dict[str, Any]]:
        yield {"store": {1: Item("hammer", 9.5)}, "app_class": type(app).__name__}

    typed: Lifespan[minifw.MiniFW] = lifespan
    app = getattr(minifw, app_class)(lifespan=typed)

    @app.get("/items/{item_id:int}")
    async def read_item(request: Request, item_id: int, detail: bool = False) -> Any:
        store = request.state.store
        if item_id not in store:
            raise HTTPException(404, f"no item {item_id}")
        item = store[item_id]
        return {"item": item, "detail": detail} if detail else item

    @app.post("/items", status_code=201)
    def create_item(request: Request, item: Item) -> Item:  # sync: runs in the threadpool
        request.state.store[len(request.state.store) + 1] = item
        return item

    @app.post("/upload")
    async def upload(name: str = minifw.File()) -> dict[str, str]:
        return {"name": name}

    @app.get("/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        return {
            "route": type(request.scope["minifw.route"]).__name__,
            "router": type(request.scope["minifw.router"]).__name__,
            "app_class": request.state.app_class,
        }

    @app.websocket("/echo/{room}")
    async def echo(websocket: WebSocket, room: str, times: int = 1) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}: " + " ".join([text] * times))
        await websocket.close()

    users = minifw.APIRouter()

    @users.get("/{user_id:int}", name="user")
    async def get_user(user_id: int) -> dict[str, int]:
        return {"user_id": user_id}

    app.include_router(users, prefix="/users")
    return app


@pytest.fixture
def client(app: Any, anyio_backend: str) -> Iterator[TestClient]:
    with TestClient(app, backend=anyio_backend) as client:  # type: ignore[arg-type]  # a str fixture
        yield client


# --- Route subclass without __init__ (APIRoute) ----------------------------------------


def test_typed_path_and_query_parameters_are_injected(client: TestClient) -> None:
    assert client.get("/items/1").json() == {"name": "hammer", "price": 9.5}
    detailed = client.get("/items/1", params={"detail": "true"}).json()
    assert detailed == {"item": {"name": "hammer", "price": 9.5}, "detail": True}


def test_a_json_body_becomes_a_dataclass(client: TestClient) -> None:
    response = client.post("/items", json={"name": "saw", "price": "12"})
    assert (response.status_code, response.json()) == (201, {"name": "saw", "price": 12.0})
    assert client.get("/items/2").json() == {"name": "saw", "price": 12.0}


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "loc"),
    [
        ("GET", "/items/1", {"params": {"detail": "maybe"}}, ["query", "detail"]),
        ("POST", "/items", {"json": {"name": "x", "price": "cheap"}}, ["body", "item"]),
        ("POST", "/items", {"content": b"not json"}, ["body", "item"]),
    ],
    ids=["bad-query-bool", "bad-body-field", "body-not-json"],
)
def test_invalid_input_is_a_422_listing_the_problem(
    client: TestClient, method: str, url: str, kwargs: dict[str, Any], loc: list[str]
) -> None:
    response = client.request(method, url, **kwargs)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


def test_an_upload_where_text_was_expected_is_reported_through_vars(client: TestClient) -> None:
    # The error carries the input, encoded with vars(): UploadFile must allow it.
    response = client.post("/upload", files={"name": ("a.txt", b"abc", "text/plain")})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["file", "name"]
    assert error["input"]["filename"] == "a.txt"
    assert error["input"]["size"] == 3
    assert isinstance(UploadFile.__dict__.get("__slots__"), type(None))


def test_the_base_class_answers_405_with_allow(client: TestClient) -> None:
    response = client.delete("/items/1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_an_http_exception_from_an_endpoint_uses_the_default_handler(client: TestClient) -> None:
    response = client.get("/items/99")
    assert (response.status_code, response.text) == (404, "no item 99")


def test_url_path_for_reverses_framework_routes(app: Any) -> None:
    assert app.url_path_for("read_item", item_id=3) == "/items/3"
    assert app.url_path_for("user", user_id=5) == "/users/5"


def test_app_routes_compare_by_value_with_base_routes(app: Any, minifw: Any) -> None:
    route = next(r for r in app.routes if r.path == "/items/{item_id:int}")
    assert isinstance(route, minifw.APIRoute)
    assert route == Route("/items/{item_id:int}", route.endpoint, methods=["GET"])


# --- overridden matches(), overridden Router.app ---------------------------------------


def test_the_overridden_matches_and_router_app_both_run(
    client: TestClient, app: Any, app_class: str
) -> None:
    before = app.api.requests_seen
    assert client.get("/whoami").json() == {
        "route": "APIRoute",
        "router": "APIRouter",
        "app_class": app_class,
    }
    assert app.api.requests_seen == before + 1


# --- routes copied and changed after construction (include_router) ---------------------


def test_included_routes_answer_under_their_prefix_only(client: TestClient) -> None:
    assert client.get("/users/7").json() == {"user_id": 7}
    assert client.get("/7").status_code == 404


# --- WebSocketRoute subclass with super().__init__ ---------------------------------------


def test_websocket_parameters_are_injected(client: TestClient) -> None:
    with client.websocket_connect("/echo/lobby?times=2") as websocket:
        websocket.send_text("hi")
        assert websocket.receive_text() == "lobby: hi hi"
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_text()
    assert closed.value.code == 1000


def test_invalid_websocket_parameters_reach_the_apps_handlers(client: TestClient) -> None:
    # The 422 handler answers an HTTP response; on a WebSocket before accept
    # flagstone sends it as a denial response (the test client supports it).
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/echo/lobby?times=many"),
    ):
        pass
    assert denied.value.status_code == 422
    assert denied.value.json()["detail"][0]["loc"] == ["query", "times"]


# --- static files, when flagstone-staticfiles is installed -------------------------------


def test_static_files_are_mounted_when_the_package_exists(
    minifw: Any, app_class: str, tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_text("static hello")
    app = getattr(minifw, app_class)()
    if importlib.util.find_spec("flagstone_staticfiles") is None:
        with pytest.raises(ImportError, match="pip install flagstone-staticfiles"):
            app.mount_static("/static", str(tmp_path))
        return
    app.mount_static("/static", str(tmp_path))
    with TestClient(app) as client:
        assert client.get("/static/hello.txt").text == "static hello"


# --- an application class in FastAPI's shape (MiniAPI: no App.__init__) -----------------


def test_the_fastapi_shaped_app_never_ran_app_init(minifw: Any) -> None:
    app = minifw.MiniAPI()
    # What App.__init__ would have set and MiniAPI does not: class-level defaults.
    assert "max_body_size" not in vars(app)
    assert "body_idle_timeout" not in vars(app)
    assert set(vars(app)) == {
        "debug", "state", "router", "exception_handlers", "user_middleware", "middleware_stack",
    }  # fmt: skip


def test_the_fastapi_shaped_app_takes_middleware_and_handlers_like_app(
    minifw: Any, anyio_backend: str
) -> None:
    class Stamp:
        def __init__(self, app: Any, value: str) -> None:
            self.app, self.value = app, value

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def stamped(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-stamp", b"v")]
                await send(message)

            await self.app(scope, receive, stamped)

    async def on_teapot(request: Request, exc: Exception) -> Any:
        from flagstone import PlainTextResponse

        return PlainTextResponse("handled teapot", 418)

    app = minifw.MiniAPI(exception_handlers={418: on_teapot})
    app.add_middleware(Stamp, value="v")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, backend=anyio_backend, raise_server_exceptions=False) as client:
        response = client.get("/teapot")
        assert (response.status_code, response.text) == (418, "handled teapot")
        assert response.headers["x-stamp"] == "v"
        assert client.get("/boom").status_code == 500
    app.max_body_size = 4  # App's own attribute, set after construction, is honoured

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"n": len(await request.body())}

    app.middleware_stack = None  # rebuilt on the next call
    with TestClient(app, backend=anyio_backend) as client:
        assert client.post("/echo", content=b"0123456789").status_code == 413
