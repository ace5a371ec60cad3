"""Drop-in fidelity: WebSocket endpoints of every callable shape, in every position.

A Starlette app awaits whatever a WebSocket endpoint returns, so ported apps
use sync decorators, partials, bound methods and callable objects as
endpoints.  Each shape is served here at the top level and inside a `Mount`,
next to an HTTP route that must keep answering, through the test client on
asyncio and trio, and through uvicorn on 127.0.0.1 (this module is the app:
`test_fidelity:app`).  An endpoint that can never work fails on its own
connection with an error naming its route; the rest of the app is untouched.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagstone import (
    App,
    Middleware,
    Mount,
    PlainTextResponse,
    Request,
    Route,
    TestClient,
    WebSocket,
    WebSocketDenialResponse,
    WebSocketEndpoint,
    WebSocketRoute,
)


async def greet(websocket: WebSocket, greeting: str = "hello") -> None:
    await websocket.accept()
    name = await websocket.receive_text()
    await websocket.send_text(f"{greeting} {name}")
    await websocket.close()


def sync_decorator(endpoint: Any) -> Any:
    @functools.wraps(endpoint)
    def wrapper(websocket: WebSocket) -> Any:
        return endpoint(websocket)  # the coroutine, from a plain function

    return wrapper


class Handlers:
    def sync_method(self, websocket: WebSocket) -> Any:
        return greet(websocket)

    async def async_method(self, websocket: WebSocket) -> None:
        await greet(websocket)


class AsyncCallable:
    async def __call__(self, websocket: WebSocket) -> None:
        await greet(websocket)


class SyncCallable:
    def __call__(self, websocket: WebSocket) -> Any:
        return greet(websocket)


class AsgiCallable:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await greet(WebSocket(scope, receive, send))


class Greeter(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"hello {data}")
        await websocket.close()


class RawGreeter(WebSocketEndpoint):  # encoding None: text or bytes
    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"hello {data if isinstance(data, str) else data.decode()}")
        await websocket.close()


SHAPES: dict[str, Any] = {
    "async-function": greet,
    "sync-decorator": sync_decorator(greet),
    "lambda": lambda websocket: greet(websocket),
    "partial-of-async": functools.partial(greet, greeting="hello"),
    "partial-of-sync-decorator": functools.partial(sync_decorator(greet)),
    "sync-bound-method": Handlers().sync_method,
    "async-bound-method": Handlers().async_method,
    "async-callable-object": AsyncCallable(),
    "sync-callable-object": SyncCallable(),
    "asgi-callable-object": AsgiCallable(),
    "websocket-endpoint": Greeter,
    "websocket-endpoint-no-encoding": RawGreeter,
}


def not_awaitable(websocket: WebSocket) -> None:
    """Unusable: a sync function that returns nothing to await."""


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def ws_routes() -> list[Any]:
    routes: list[Any] = [WebSocketRoute(f"/{name}", shape) for name, shape in SHAPES.items()]
    return [*routes, WebSocketRoute("/broken", not_awaitable, name="broken")]


class AcceptHeader:
    """Middleware appending to the accept message's headers in place."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_wrapper(message: Any) -> None:
            if message["type"] == "websocket.accept":
                message["headers"].append((b"x-accepted-by", b"middleware"))
            await send(message)

        await self.app(scope, receive, send_wrapper)


app = App(
    routes=[
        Route("/", home),
        *ws_routes(),
        Mount("/mounted", routes=[Route("/", home), *ws_routes()]),
    ],
    middleware=[Middleware(AcceptHeader)],
)

PREFIXES = ["", "/mounted"]


@pytest.fixture
def client(anyio_backend: str) -> Iterator[TestClient]:
    # `with`: the lifespan runs, which prepares every route up front.
    with TestClient(app, backend=anyio_backend) as client:
        yield client


@pytest.mark.parametrize("prefix", PREFIXES, ids=["top-level", "mounted"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_websocket_endpoint_shape_is_served(
    client: TestClient, shape: str, prefix: str
) -> None:
    with client.websocket_connect(f"{prefix}/{shape}") as websocket:
        assert websocket.extra_headers == [(b"x-accepted-by", b"middleware")]
        websocket.send_text("ada")
        assert websocket.receive_text() == "hello ada"
    assert client.get(f"{prefix}/").text == "home"


class RecordErrors:
    """User middleware: sees what the inner error middleware re-raises."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            app_errors.append(exc)
            raise


app_errors: list[Exception] = []


@pytest.mark.parametrize("prefix", PREFIXES, ids=["top-level", "mounted"])
def test_an_unusable_endpoint_raises_in_the_test_naming_its_route(
    client: TestClient, prefix: str
) -> None:
    # As in Starlette: the endpoint's error reaches the test.
    with pytest.raises(TypeError) as info, client.websocket_connect(f"{prefix}/broken"):
        pass
    assert str(info.value).startswith("WebSocketRoute(path='/broken', name='broken'): ")
    assert client.get(f"{prefix}/").text == "home"


@pytest.mark.parametrize("prefix", PREFIXES, ids=["top-level", "mounted"])
def test_an_unusable_endpoint_fails_alone_naming_its_route(anyio_backend: str, prefix: str) -> None:
    app_errors.clear()
    recorded = App(
        routes=app.routes, middleware=[Middleware(RecordErrors), Middleware(AcceptHeader)]
    )
    with TestClient(recorded, backend=anyio_backend, raise_server_exceptions=False) as client:
        # A WebSocket session re-raises the app's error whatever
        # raise_server_exceptions says (as in Starlette), after the 500 denial.
        with (
            pytest.raises(TypeError, match="WebSocketRoute") as raised,
            client.websocket_connect(f"{prefix}/broken"),
        ):
            pass
        assert isinstance(raised.value.__cause__, WebSocketDenialResponse)
        assert raised.value.__cause__.status_code == 500
        # Everything else still works.
        assert client.get(f"{prefix}/").text == "home"
        with client.websocket_connect(f"{prefix}/sync-decorator") as websocket:
            websocket.send_text("bob")
            assert websocket.receive_text() == "hello bob"
    (error,) = app_errors
    assert isinstance(error, TypeError)
    assert str(error).startswith("WebSocketRoute(path='/broken', name='broken'): ")
    assert "not_awaitable returned None, not an awaitable" in str(error)


def test_websocket_endpoint_without_encoding_gets_bytes_too(client: TestClient) -> None:
    for prefix in PREFIXES:
        with client.websocket_connect(f"{prefix}/websocket-endpoint-no-encoding") as websocket:
            websocket.send_bytes(b"ada")
            assert websocket.receive_text() == "hello ada"


# --- the same app through uvicorn -------------------------------------------------------

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parents[2] / "tools"))

from serving import StartFailed, free_port, http_answers, start  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("fidelity") / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "test_fidelity:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--lifespan", "on"]
    server = start("uvicorn", command, log, port=port, cwd=TESTS, env={"PYTHONPATH": str(TESTS)})
    try:
        server.wait_until(lambda: http_answers(port, "/"), "answering")
        yield server.url.replace("http://", "ws://")
    except StartFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        server.stop()
    # The only exceptions logged are the unusable route's, each naming it.
    for traceback in log.read_text(errors="replace").split("Traceback")[1:]:
        assert "WebSocketRoute(path='/broken', name='broken')" in traceback, traceback


@pytest.mark.parametrize("prefix", PREFIXES, ids=["top-level", "mounted"])
def test_every_shape_through_uvicorn(served: str, prefix: str) -> None:
    from websockets.sync.client import connect

    for shape in SHAPES:
        with connect(f"{served}{prefix}/{shape}") as websocket:
            assert websocket.response.headers["x-accepted-by"] == "middleware", shape
            websocket.send("ada")
            assert websocket.recv() == "hello ada", shape


@pytest.mark.parametrize("prefix", PREFIXES, ids=["top-level", "mounted"])
def test_unusable_route_through_uvicorn_is_a_500_for_that_route_only(
    served: str, prefix: str
) -> None:
    import httpx
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    # Before accept, the error middleware answers the handshake with a 500
    # (uvicorn supports the denial-response extension).
    with pytest.raises(InvalidStatus) as info:
        connect(f"{served}{prefix}/broken")
    assert info.value.response.status_code == 500
    assert httpx.get(served.replace("ws://", "http://") + f"{prefix}/").text == "home"
