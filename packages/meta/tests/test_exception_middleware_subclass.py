"""`ExceptionMiddleware.http_exception` / `websocket_exception` overridden, as frameworks do.

A spec-first framework subclasses the exception middleware and overrides
`http_exception(self, request, exc)` to render `application/problem+json`;
it installs the subclass from its own `build_middleware_stack`, or as a
middleware of its own around the application.  The override must be the
one called, for what the router raises (404/405), for what an endpoint
raises, and for what a middleware raises.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagstone import (
    App,
    ExceptionMiddleware,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Response,
    Route,
    Router,
    ServerErrorMiddleware,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    WebSocketRoute,
)
from flagstone_contract import ASGIApp, Receive, Scope, Send


class ProblemJSON(ExceptionMiddleware):
    """Renders HTTPException as RFC 9457 problem details."""

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {
                "type": "about:blank",
                "status": exc.status_code,
                "detail": exc.detail,
                "instance": request.url.path,
            },
            status_code=exc.status_code,
            headers=exc.headers,
            media_type="application/problem+json",
        )

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        assert isinstance(exc, WebSocketException)
        await websocket.close(code=4000 + exc.code % 1000, reason=f"problem: {exc.reason}")


class SyncProblem(ExceptionMiddleware):
    """A sync override (runs in a worker thread, as any sync handler)."""

    def http_exception(self, request: Request, exc: Exception) -> Response:  # type: ignore[override]
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(f"sync problem {exc.status_code}", exc.status_code)


async def teapot(request: Request) -> Response:
    raise HTTPException(418, "I'm a teapot", headers={"x-why": "tea"})


def sync_teapot(request: Request) -> Response:
    raise HTTPException(418, "short and stout")


async def ws_refuse(websocket: WebSocket) -> None:
    await websocket.accept()
    raise WebSocketException(1008, "go away")


ROUTES = [
    Route("/teapot", teapot),
    Route("/sync-teapot", sync_teapot),
    Route("/post-only", teapot, methods=["POST"]),
    WebSocketRoute("/ws", ws_refuse),
]


class Framework(App):
    """A framework's own `build_middleware_stack` that instantiates its subclass."""

    exception_middleware_class: type[ExceptionMiddleware] = ProblemJSON

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self.exception_middleware_class(self.router, debug=self.debug)
        return ServerErrorMiddleware(app, debug=self.debug)


def assert_problem(response: Any, status: int, detail: str, path: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "status": status,
        "detail": detail,
        "instance": path,
    }


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_frameworks_own_stack_calls_the_override(backend: str) -> None:
    client = TestClient(Framework(routes=ROUTES), backend=backend)
    response = client.get("/teapot")
    assert_problem(response, 418, "I'm a teapot", "/teapot")
    assert response.headers["x-why"] == "tea"
    assert_problem(client.get("/sync-teapot"), 418, "short and stout", "/sync-teapot")
    # What the router raises goes through the override too.
    assert_problem(client.get("/nowhere"), 404, "Not Found", "/nowhere")
    assert_problem(client.get("/post-only"), 405, "Method Not Allowed", "/post-only")


def test_the_websocket_override_is_called(backend: str) -> None:
    client = TestClient(Framework(routes=ROUTES), backend=backend)
    with client.websocket_connect("/ws") as ws, pytest.raises(WebSocketDisconnect) as caught:
        ws.receive_text()
    assert (caught.value.code, caught.value.reason) == (4008, "problem: go away")


def test_a_sync_override_runs_too(backend: str) -> None:
    class SyncFramework(Framework):
        exception_middleware_class = SyncProblem

    response = TestClient(SyncFramework(routes=ROUTES), backend=backend).get("/teapot")
    assert (response.status_code, response.text) == (418, "sync problem 418")


def test_the_subclass_as_middleware_around_apps_stack(backend: str) -> None:
    # Installed as user middleware, the subclass renders what a middleware
    # inside it raises (here an API-key check), while App's own exception
    # layer keeps rendering what endpoints raise the plain way.
    class RequireKey:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and (b"x-key", b"k") not in scope["headers"]:
                raise HTTPException(401, "missing key", headers={"WWW-Authenticate": "Key"})
            await self.app(scope, receive, send)

    app = App(routes=ROUTES, middleware=[Middleware(ProblemJSON), Middleware(RequireKey)])
    client = TestClient(app, backend=backend)
    response = client.get("/teapot")
    assert_problem(response, 401, "missing key", "/teapot")
    assert response.headers["www-authenticate"] == "Key"
    plain = client.get("/teapot", headers={"x-key": "k"})
    assert (plain.status_code, plain.text) == (418, "I'm a teapot")


def test_handlers_given_for_httpexception_win_over_the_override(backend: str) -> None:
    async def mine(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("mine", 499)

    app = ProblemJSON(Router(ROUTES), handlers={HTTPException: mine})
    assert TestClient(app, backend=backend).get("/teapot").text == "mine"


def test_the_base_class_keeps_starlettes_plain_rendering(backend: str) -> None:
    client = TestClient(App(routes=ROUTES), backend=backend)
    response = client.get("/teapot")
    assert (response.status_code, response.text) == (418, "I'm a teapot")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.anyio
async def test_super_calls_reach_the_base_rendering() -> None:
    class Tagging(ExceptionMiddleware):
        async def http_exception(self, request: Request, exc: Exception) -> Response:
            response = await super().http_exception(request, exc)
            response.headers["x-framework"] = "yes"
            return response

    middleware = Tagging(Router(ROUTES))
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    response = await middleware.http_exception(request, HTTPException(403, "no"))
    assert (response.status_code, response.body, response.headers["x-framework"]) == (
        403,
        b"no",
        "yes",
    )
