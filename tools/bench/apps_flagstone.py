"""The scenarios as flagstone applications, written against the Starlette-compatible names.

The flagstone packages are written at the same time as this harness, so any
name may be missing when the benchmark runs.  Every name is therefore looked
up when a scenario is built (`_load`), and a missing one raises ImportError
with the usual "cannot import name" message; the runner reports that
scenario's flagstone column as "n/a (<message>)" instead of crashing.  The
lookups go through importlib rather than `from ... import` so that
`mypy --strict` over this file passes whether or not a name exists yet (a
static import of a missing name is a type error; a `type: ignore` on it
would become an "unused ignore" error once the name lands).

The app is `flagstone.App` when the meta package provides it, the same
shape as `Starlette(...)`.  Otherwise it is `flagstone_routing.Router`
wrapped the way Starlette wraps its router (ServerErrorMiddleware outermost,
then the user middleware, then ExceptionMiddleware), with whichever of
those two middlewares `flagstone_requests` already has; `variant()` says
which, and the report prints it.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

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

from flagstone_contract import ASGIApp, Middleware, Scope, wrap_middleware

__all__ = ["build", "read_request", "variant"]


def _load(module: str, name: str) -> Any:
    """`from module import name`, looked up at run time (see the module docstring)."""
    imported = importlib.import_module(module)
    try:
        return getattr(imported, name)
    except AttributeError:
        raise ImportError(f"cannot import name {name!r} from {module!r}") from None


def _optional(module: str, name: str) -> Any | None:
    try:
        return _load(module, name)
    except ImportError:
        return None


def variant() -> str:
    """Which flagstone application object the scenarios run on."""
    try:
        _load("flagstone", "App")
        return "flagstone.App"
    except ImportError as exc:
        app_error = str(exc)
    try:
        _load("flagstone_routing", "Router")
    except ImportError as exc:
        return f"n/a (flagstone.App: {app_error}; Router: {exc})"
    wrappers = [
        name
        for name in ("ServerErrorMiddleware", "ExceptionMiddleware")
        if _optional("flagstone_requests", name) is not None
    ]
    stack = "flagstone_routing.Router" + "".join(f" + {name}" for name in wrappers)
    return f"{stack} (fallback: flagstone.App unavailable: {app_error})"


def _application(routes: Sequence[Any], middleware: Sequence[Middleware]) -> ASGIApp:
    app_class = _optional("flagstone", "App")
    if app_class is not None:
        app: ASGIApp = app_class(routes=list(routes), middleware=list(middleware))
        return app
    # The fallback stack mirrors what Starlette(...) builds around its router,
    # so the comparison stays like for like.
    app = _load("flagstone_routing", "Router")(routes=list(routes))
    exception_middleware = _optional("flagstone_requests", "ExceptionMiddleware")
    if exception_middleware is not None:
        app = exception_middleware(app)
    app = wrap_middleware(app, middleware)
    server_error_middleware = _optional("flagstone_requests", "ServerErrorMiddleware")
    if server_error_middleware is not None:
        app = server_error_middleware(app)
    return app


# --- endpoints (typed Any: the classes are looked up at run time) ----------------------


async def hello(request: Any) -> Any:
    """Plain text."""
    return _resolved["PlainTextResponse"]("Hello, world!")


async def json_endpoint(request: Any) -> Any:
    """A JSON document."""
    return _resolved["JSONResponse"](JSON_PAYLOAD)


async def params(request: Any) -> Any:
    """Path parameter + query parameters echoed as JSON."""
    query = request.query_params
    payload = {
        "user_id": request.path_params["user_id"],
        "q": query["q"],
        "page": int(query["page"]),
    }
    return _resolved["JSONResponse"](payload)


def route_endpoint(index: int) -> Callable[[Any], Any]:
    """The endpoint of route `index` in the routes-N scenarios."""

    async def endpoint(request: Any) -> Any:
        return _resolved["PlainTextResponse"](
            expected_route_body(index, request.path_params["item_id"])
        )

    return endpoint


async def form(request: Any) -> Any:
    """An urlencoded form echoed as JSON."""
    async with request.form() as data:
        fields = {key: str(value) for key, value in data.multi_items()}
    return _resolved["JSONResponse"](fields)


async def multipart(request: Any) -> Any:
    """A multipart upload: answer `<filename>:<size>` of the file part."""
    async with request.form() as data:
        upload = data["file"]
        content = await upload.read()
        answer = f"{upload.filename}:{len(content)}"
    return _resolved["PlainTextResponse"](answer)


async def session(request: Any) -> Any:
    """Read and write the session."""
    count = int(request.session.get("count", 0)) + 1
    request.session["count"] = count
    return _resolved["PlainTextResponse"](str(count))


async def background(request: Any) -> Any:
    """Respond, then run one background task."""
    task = _resolved["BackgroundTask"](BACKGROUND_RUNS.bump)
    return _resolved["PlainTextResponse"]("queued", background=task)


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK


async def streaming(request: Any) -> Any:
    """1 MiB in 64 KiB chunks."""
    return _resolved["StreamingResponse"](_chunks(), media_type="application/octet-stream")


async def websocket(ws: Any) -> None:
    """Accept and echo every text message until the client leaves."""
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)


_ENDPOINTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
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


# The names the endpoints use, looked up once at build time: a per-request
# importlib lookup would charge flagstone a cost the Starlette apps (plain
# module globals) do not pay.
_resolved: dict[str, Any] = {}


def _check_names(scenario: Scenario) -> None:
    """Resolve the names `scenario` needs; ImportError now rather than on the first request."""
    needed = {
        "json": ["JSONResponse"],
        "params": ["JSONResponse"],
        "form": ["JSONResponse"],
        "session": ["PlainTextResponse"],
        "streaming": ["StreamingResponse"],
        "websocket": ["WebSocket"],
    }.get(scenario.name, ["PlainTextResponse"])
    for name in needed:
        _resolved[name] = _load("flagstone_requests", name)
    if scenario.name == "background":
        _resolved["BackgroundTask"] = _load("flagstone_background", "BackgroundTask")


# --- middleware scenarios (issue 15) ------------------------------------------------


async def gzip_text(request: Any) -> Any:
    """1 KiB of text."""
    return _resolved["PlainTextResponse"](GZIP_TEXT)


async def _gzip_chunks() -> AsyncIterator[bytes]:
    for _ in range(GZIP_STREAM_CHUNKS):
        yield GZIP_STREAM_CHUNK


async def gzip_stream(request: Any) -> Any:
    """16 x 4 KiB of text, streamed."""
    return _resolved["StreamingResponse"](_gzip_chunks(), media_type="text/plain")


async def pass_dispatch(request: Any, call_next: Any) -> Any:
    """The `base-middleware` layer: dispatch returns call_next's response."""
    return await call_next(request)


def build_middleware_scenario(scenario: Scenario) -> ASGIApp:
    """The flagstone app for one of the middleware scenarios."""
    for name in ("PlainTextResponse", "StreamingResponse"):
        _resolved[name] = _load("flagstone_requests", name)
    route = _load("flagstone_routing", "Route")
    routes = [route("/", hello), route("/gzip", gzip_text), route("/gzip-stream", gzip_stream)]
    cors = Middleware(
        _load("flagstone_middleware", "CORSMiddleware"),
        allow_origins=[CORS_ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
    )
    gzip = Middleware(_load("flagstone_middleware", "GZipMiddleware"))
    base = Middleware(_load("flagstone_middleware", "BaseHTTPMiddleware"), dispatch=pass_dispatch)
    middleware = {
        "cors-preflight": [cors],
        "cors-simple": [cors],
        "gzip-1k": [gzip],
        "gzip-stream": [gzip],
        "base-middleware": [base],
    }[scenario.name]
    return _application(routes, middleware)


def build(scenario: Scenario) -> ASGIApp:
    """The flagstone app for `scenario`; ImportError when a needed name is missing."""
    if scenario.name in MIDDLEWARE_SCENARIOS:
        return build_middleware_scenario(scenario)
    _check_names(scenario)
    route = _load("flagstone_routing", "Route")
    routes: list[Any]
    middleware: list[Middleware] = []
    if scenario.routes:
        routes = [route(route_path(i), route_endpoint(i)) for i in range(scenario.routes)]
    elif scenario.name == "websocket":
        routes = [_load("flagstone_routing", "WebSocketRoute")("/ws", websocket)]
    elif scenario.name.startswith("static-"):
        static_files = _load("flagstone_staticfiles", "StaticFiles")
        mount = _load("flagstone_routing", "Mount")
        routes = [mount("/static", static_files(directory=static_directory()), name="static")]
    else:
        path, endpoint = _ENDPOINTS[scenario.name]
        methods = ["POST"] if scenario.request.method == "POST" else None
        routes = [route(path, endpoint, methods=methods)]
    if scenario.name == "session":
        session_middleware = _load("flagstone_sessions", "SessionMiddleware")
        middleware = [Middleware(session_middleware, secret_key=SECRET_KEY)]
    elif scenario.name == "middleware-5":
        middleware = [Middleware(PassThrough) for _ in range(5)]
    return _application(routes, middleware)


def read_request() -> Callable[[Scope], tuple[str, str, object]]:
    """The micro-benchmark: a flagstone Request built on the scope, three reads."""
    request_class = _load("flagstone_requests", "Request")

    def read(scope: Scope) -> tuple[str, str, object]:
        request = request_class(scope)
        return (
            request.headers["user-agent"],
            request.query_params["q"],
            request.path_params["user_id"],
        )

    return read
