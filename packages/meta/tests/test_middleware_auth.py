"""Authentication in a flagstone App: `request.user`, and `requires` on every kind of endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from flagstone import (
    App,
    AsyncTestClient,
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    BaseUser,
    HTTPConnection,
    HTTPEndpoint,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    SimpleUser,
    WebSocket,
    WebSocketDisconnect,
    WebSocketRoute,
    requires,
)

pytestmark = pytest.mark.anyio


class TokenBackend(AuthenticationBackend):
    """`Authorization: Bearer <name>:<scope>,<scope>`."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        assert isinstance(conn, HTTPConnection)  # ported backends get a real connection
        value = conn.headers.get("authorization")
        if value is None:
            return None
        name, _, scopes = value.removeprefix("Bearer ").partition(":")
        return AuthCredentials(["authenticated", *filter(None, scopes.split(","))]), SimpleUser(
            name
        )


@requires("authenticated")
async def async_page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.user.display_name}")


@requires(["authenticated", "admin"], status_code=404)
def sync_admin(request: Request) -> PlainTextResponse:
    return PlainTextResponse("admin area")


@requires("authenticated", redirect="login")
async def private(request: Request) -> PlainTextResponse:
    return PlainTextResponse("private")


async def login(request: Request) -> PlainTextResponse:
    return PlainTextResponse("login page")


class Dashboard(HTTPEndpoint):
    @requires("authenticated")
    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse({"user": request.user.identity})

    @requires("admin")
    def post(self, request: Request) -> JSONResponse:
        return JSONResponse({"posted": True})


@requires("authenticated")
async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hi {websocket.user.display_name}")
    await websocket.close()


def make_app() -> App:
    return App(
        routes=[
            Route("/page", async_page),
            Route("/admin", sync_admin),
            Route("/private", private),
            Route("/login", login, name="login"),
            Route("/dashboard", Dashboard),
            WebSocketRoute("/ws", ws_endpoint),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())],
    )


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


async def test_async_function_endpoint() -> None:
    async with AsyncTestClient(make_app()) as client:
        assert (await client.get("/page")).status_code == 403
        response = await client.get("/page", headers=bearer("ada"))
        assert response.text == "hello ada"


async def test_sync_function_endpoint_with_status_code() -> None:
    async with AsyncTestClient(make_app()) as client:
        assert (await client.get("/admin", headers=bearer("ada"))).status_code == 404
        assert (await client.get("/admin", headers=bearer("ada:admin"))).text == "admin area"


async def test_redirect_to_a_named_route_with_next() -> None:
    async with AsyncTestClient(make_app(), follow_redirects=False) as client:
        response = await client.get("/private?x=1")
        assert response.status_code == 303
        # Relative, unlike Starlette's absolute `http://testserver/login?next=http...`.
        assert response.headers["location"] == "/login?next=%2Fprivate%3Fx%3D1"
        assert (await client.get("/private", headers=bearer("ada"))).text == "private"


@pytest.mark.parametrize(
    ("host", "target", "location"),
    [
        pytest.param("evil.com", "/private", "/login?next=%2Fprivate", id="foreign-host"),
        pytest.param(
            "evil.com:8000", "/private?a=b&c", "/login?next=%2Fprivate%3Fa%3Db%26c", id="query"
        ),
    ],
)
async def test_redirect_never_names_the_request_host(host: str, target: str, location: str) -> None:
    async with AsyncTestClient(make_app(), follow_redirects=False) as client:
        response = await client.get(target, headers={"host": host})
    assert response.status_code == 303
    assert response.headers["location"] == location


async def test_redirect_under_a_root_path_keeps_it() -> None:
    async with AsyncTestClient(make_app(), follow_redirects=False, root_path="/app") as client:
        response = await client.get("/app/private")
    assert response.headers["location"] == "/app/login?next=%2Fapp%2Fprivate"


async def test_http_endpoint_methods_sync_and_async() -> None:
    async with AsyncTestClient(make_app()) as client:
        assert (await client.get("/dashboard")).status_code == 403
        assert (await client.get("/dashboard", headers=bearer("ada"))).json() == {"user": "ada"}
        assert (await client.post("/dashboard", headers=bearer("ada"))).status_code == 403
        posted = await client.post("/dashboard", headers=bearer("ada:admin"))
        assert posted.json() == {"posted": True}


async def test_websocket_endpoint() -> None:
    async with AsyncTestClient(make_app()) as client:
        async with client.websocket_connect("/ws", headers=bearer("ada")) as ws:
            assert await ws.receive_text() == "hi ada"
        with pytest.raises(Exception) as refused:
            async with client.websocket_connect("/ws"):
                pass
        assert "1000" in str(refused.value) or getattr(refused.value, "code", None) == 1000


def test_requires_needs_a_request_or_websocket_parameter() -> None:
    with pytest.raises(TypeError, match='No "request" or "websocket" argument'):

        @requires("x")
        async def endpoint(req: Any) -> None: ...


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("request", "Parameter with name 'request' is required to be of type 'Request' not 'str'"),
        (
            "websocket",
            "Parameter with name 'websocket' is required to be of type 'WebSocket' not 'str'",
        ),
    ],
)
async def test_requires_called_with_something_else_is_starlettes_assertion(
    kind: str, text: str
) -> None:
    if kind == "request":

        @requires("x")
        async def endpoint(request: Any) -> None: ...

    else:

        @requires("x")
        async def endpoint(websocket: Any) -> None: ...

    with pytest.raises(AssertionError) as info:
        await endpoint("not a connection")
    assert str(info.value) == text
    with pytest.raises(TypeError):  # also what it is
        await endpoint(**{kind: "not a connection"})


async def test_on_error_runs_for_a_refused_websocket_too() -> None:
    class Refusing(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> None:
            raise AuthenticationError("bad token")

    seen: list[str] = []

    def on_error(conn: HTTPConnection, exc: Exception) -> PlainTextResponse:
        seen.append(f"{conn.scope['type']}: {exc}")
        return PlainTextResponse(str(exc), status_code=401)

    app = App(
        routes=[WebSocketRoute("/ws", ws_endpoint), Route("/page", async_page)],
        middleware=[Middleware(AuthenticationMiddleware, backend=Refusing(), on_error=on_error)],
    )
    async with AsyncTestClient(app) as client:
        response = await client.get("/page")
        assert (response.status_code, response.text) == (401, "bad token")
        with pytest.raises(WebSocketDisconnect) as refused:
            async with client.websocket_connect("/ws"):
                pass
        assert refused.value.code == 1000
    assert seen == ["http: bad token", "websocket: bad token"]
