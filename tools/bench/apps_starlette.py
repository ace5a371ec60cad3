"""The scenarios as Starlette applications (Starlette is a benchmark-only dependency).

Written the way a Starlette user would write them, through its public API
only: `Starlette(routes=..., middleware=...)`, `Route`, `WebSocketRoute`,
the responses, `SessionMiddleware`, `BackgroundTask`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from bench_scenarios import (
    BACKGROUND_RUNS,
    CORS_ORIGIN,
    GZIP_STREAM_CHUNK,
    GZIP_STREAM_CHUNKS,
    GZIP_TEXT,
    JSON_PAYLOAD,
    MIDDLEWARE_SCENARIOS,
    SECRET_KEY,
    STREAM_CHUNK,
    STREAM_CHUNKS,
    PassThrough,
    Scenario,
    expected_route_body,
    route_path,
    static_directory,
)
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from flagstone_contract import ASGIApp, Scope

__all__ = ["build", "read_request", "variant"]

Endpoint = Callable[[Request], Awaitable[Response]]


def variant() -> str:
    """How the Starlette apps are built (shown in the report)."""
    return "starlette.applications.Starlette"


async def hello(request: Request) -> Response:
    """Plain text."""
    return PlainTextResponse("Hello, world!")


async def json_endpoint(request: Request) -> Response:
    """A JSON document."""
    return JSONResponse(JSON_PAYLOAD)


async def params(request: Request) -> Response:
    """Path parameter + query parameters echoed as JSON."""
    query = request.query_params
    payload = {
        "user_id": request.path_params["user_id"],
        "q": query["q"],
        "page": int(query["page"]),
    }
    return JSONResponse(payload)


def route_endpoint(index: int) -> Endpoint:
    """The endpoint of route `index` in the routes-N scenarios."""

    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(expected_route_body(index, request.path_params["item_id"]))

    return endpoint


async def form(request: Request) -> Response:
    """An urlencoded form echoed as JSON."""
    async with request.form() as data:
        return JSONResponse({key: str(value) for key, value in data.multi_items()})


async def multipart(request: Request) -> Response:
    """A multipart upload: answer `<filename>:<size>` of the file part."""
    async with request.form() as data:
        upload = data["file"]
        assert isinstance(upload, UploadFile)
        content = await upload.read()
        return PlainTextResponse(f"{upload.filename}:{len(content)}")


async def session(request: Request) -> Response:
    """Read and write the session."""
    count = int(request.session.get("count", 0)) + 1
    request.session["count"] = count
    return PlainTextResponse(str(count))


async def background(request: Request) -> Response:
    """Respond, then run one background task."""
    return PlainTextResponse("queued", background=BackgroundTask(BACKGROUND_RUNS.bump))


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK


async def streaming(request: Request) -> Response:
    """1 MiB in 64 KiB chunks."""
    return StreamingResponse(_chunks(), media_type="application/octet-stream")


async def websocket(ws: WebSocket) -> None:
    """Accept and echo every text message until the client leaves."""
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)


_ENDPOINTS: dict[str, tuple[str, Endpoint]] = {
    "hello": ("/", hello),
    "json": ("/json", json_endpoint),
    "params": ("/users/{user_id:int}", params),
    "form": ("/form", form),
    "multipart": ("/upload", multipart),
    "session": ("/session", session),
    "background": ("/background", background),
    "streaming": ("/stream", streaming),
    "middleware-5": ("/", hello),
}


# --- middleware scenarios (issue 15) ------------------------------------------------


async def gzip_text(request: Request) -> Response:
    """1 KiB of text."""
    return PlainTextResponse(GZIP_TEXT)


async def _gzip_chunks() -> AsyncIterator[bytes]:
    for _ in range(GZIP_STREAM_CHUNKS):
        yield GZIP_STREAM_CHUNK


async def gzip_stream(request: Request) -> Response:
    """16 x 4 KiB of text, streamed."""
    return StreamingResponse(_gzip_chunks(), media_type="text/plain")


class PassDispatch(BaseHTTPMiddleware):
    """The `base-middleware` layer: dispatch returns call_next's response."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


def _cors() -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=[CORS_ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
    )


def build_middleware_scenario(scenario: Scenario) -> ASGIApp:
    """The Starlette app for one of the middleware scenarios."""
    routes = [
        Route("/", hello),
        Route("/gzip", gzip_text),
        Route("/gzip-stream", gzip_stream),
    ]
    middleware = {
        "cors-preflight": [_cors()],
        "cors-simple": [_cors()],
        "gzip-1k": [Middleware(GZipMiddleware)],
        "gzip-stream": [Middleware(GZipMiddleware)],
        "base-middleware": [Middleware(PassDispatch)],
    }[scenario.name]
    return Starlette(routes=routes, middleware=middleware)


def build(scenario: Scenario) -> ASGIApp:
    """The Starlette app for `scenario`."""
    if scenario.name in MIDDLEWARE_SCENARIOS:
        return build_middleware_scenario(scenario)
    routes: list[BaseRoute]
    middleware: list[Middleware] = []
    if scenario.routes:
        routes = [Route(route_path(i), route_endpoint(i)) for i in range(scenario.routes)]
    elif scenario.name == "websocket":
        routes = [WebSocketRoute("/ws", websocket)]
    elif scenario.name.startswith("static-"):
        routes = [Mount("/static", StaticFiles(directory=static_directory()), name="static")]
    else:
        path, endpoint = _ENDPOINTS[scenario.name]
        methods = ["POST"] if scenario.request.method == "POST" else None
        routes = [Route(path, endpoint, methods=methods)]
    if scenario.name == "session":
        middleware = [Middleware(SessionMiddleware, secret_key=SECRET_KEY)]
    elif scenario.name == "middleware-5":
        middleware = [Middleware(PassThrough) for _ in range(5)]
    return Starlette(routes=routes, middleware=middleware)


def read_request() -> Callable[[Scope], tuple[str, str, object]]:
    """The micro-benchmark: a Starlette Request built on the scope, three reads."""

    def read(scope: Scope) -> tuple[str, str, object]:
        request = Request(scope)
        return (
            request.headers["user-agent"],
            request.query_params["q"],
            request.path_params["user_id"],
        )

    return read
