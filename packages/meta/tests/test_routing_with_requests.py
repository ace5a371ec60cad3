"""flagstone-routing with flagstone-requests: function endpoints, url_for, rendered errors.

Routing's own tests use raw ASGI endpoints only; these need both packages.
"""

from __future__ import annotations

import httpx
import pytest

from flagstone_requests import (
    ExceptionMiddleware,
    HTTPEndpoint,
    JSONResponse,
    PlainTextResponse,
    Request,
)
from flagstone_routing import Host, Mount, Route, Router

pytestmark = pytest.mark.anyio


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def sync_home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("sync home")


async def user(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "id": request.path_params["user_id"],
            "org": request.path_params["org"],
            "self": str(request.url_for("orgs:users:user", org="acme", user_id=7)),
            "home": str(request.url_for("home")),
        }
    )


async def upload(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


class Things(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("things")


def make_app() -> Router:
    return Router(
        [
            Route("/", home, name="home"),
            Route("/sync", sync_home),
            Route("/things", Things),
            Route("/upload", upload, methods=["POST"], max_body_size=5),
            Mount(
                "/orgs/{org}",
                name="orgs",
                routes=[
                    Mount(
                        "/users", name="users", routes=[Route("/{user_id:int}", user, name="user")]
                    )
                ],
            ),
        ]
    )


def client(app: object, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


async def test_function_endpoints_sync_and_async_and_class_endpoints() -> None:
    async with client(make_app()) as c:
        assert (await c.get("/")).text == "home"
        assert (await c.get("/sync")).text == "sync home"
        assert (await c.get("/things")).text == "things"


async def test_url_for_inside_mounts_two_deep_keeps_root_path() -> None:
    async with client(make_app(), root_path="/srv") as c:
        response = await c.get("/srv/orgs/acme/users/7")
    assert response.json() == {
        "id": 7,
        "org": "acme",
        "self": "https://testserver/srv/orgs/acme/users/7",
        "home": "https://testserver/srv/",
    }


async def test_404_and_405_are_rendered_by_exception_middleware() -> None:
    async def not_found(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("custom 404", status_code=404)

    app = ExceptionMiddleware(make_app(), handlers={404: not_found})
    async with client(app) as c:
        missing = await c.get("/nope")
        wrong_method = await c.delete("/")
    assert (missing.status_code, missing.text) == (404, "custom 404")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD"


async def test_redirect_slashes_with_function_endpoints() -> None:
    async with client(make_app()) as c:
        response = await c.get("/sync/")
    assert response.status_code == 307
    assert response.headers["location"] == "/sync"


async def test_body_limit_with_a_function_endpoint() -> None:
    async with client(ExceptionMiddleware(make_app())) as c:
        small = await c.post("/upload", content=b"abc")
        large = await c.post("/upload", content=b"abcdefgh")
    assert small.text == "3"
    assert large.status_code == 413


# --- one Host validator -----------------------------------------------------------------

HOST_HEADERS = {
    "plain_name": b"api.example.org",
    "name_ending_in_hyphen": b"a-",  # once trusted by URLs but never routed
    "name_of_300_characters": b"a" * 300,  # once routed but never trusted by URLs
    "leading_zero_port": b"api.example.org:000080",
    "port_out_of_range": b"api.example.org:65536",
    "ipv6_literal": b"[::1]:8000",
    "not_an_ipv6_literal": b"[:::]",
    "ipvfuture_literal": b"[v1.x]",
    "path_in_host": b"api.example.org/admin?x=",
}


async def _seen_by_url_and_router(host: bytes) -> tuple[bool, bool]:
    """(Request.url took its host from the header, a catch-all Host route matched)."""

    async def by_host(request: Request) -> PlainTextResponse:
        return PlainTextResponse("host " + request.url.netloc)

    async def fallback(request: Request) -> PlainTextResponse:
        return PlainTextResponse("fallback " + request.url.netloc)

    app = Router([Host("{any}", app=Router([Route("/", by_host)])), Route("/", fallback)])
    response = await client(app).get("/", headers={"host": host.decode("latin-1")})
    route, netloc = response.text.split(" ", 1)
    return netloc != "testserver", route == "host"


@pytest.mark.parametrize("host", HOST_HEADERS.values(), ids=HOST_HEADERS.keys())
async def test_url_building_and_host_routing_trust_the_same_hosts(host: bytes) -> None:
    trusted_by_url, routed = await _seen_by_url_and_router(host)
    assert trusted_by_url == routed
