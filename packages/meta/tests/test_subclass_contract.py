"""The subclassing contract, enforced for every class a framework extends.

docs/building-a-framework.md ("The subclassing contract, class by class")
lists, per class, what a subclass that skips `__init__` must set and what it
may set.  This module reads that table and, for every class in it:

- checks that every attribute an instance built normally holds has a
  class-level default, is derived (`_derived_names`), or is listed as one a
  subclass must set: a new attribute fails here until it has one of those;
- builds an instance the way FastAPI builds its application (a subclass
  whose `__init__` never calls the base one, setting only the listed
  attributes) and serves a request with it, comparing what it sends with
  what an instance built normally sends;
- builds one through `super().__init__`;
- changes public attributes after construction, on both.

Shapes: sync and async endpoints, mounted and not, HTTP and WebSocket,
in-process, and `App` under a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import re
import sys
import tempfile
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import flagstone
from flagstone import (
    APP_TASKS_KEY,
    BODY_IDLE_TIMEOUT_KEY,
    App,
    AppTasks,
    AppTasksMiddleware,
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    BackgroundMiddleware,
    BaseHTTPMiddleware,
    BodyIdleTimeout,
    CompressionMiddleware,
    CORSMiddleware,
    EventSourceResponse,
    ExceptionMiddleware,
    FileResponse,
    GZipMiddleware,
    Host,
    HTMLResponse,
    HTTPEndpoint,
    HTTPException,
    HTTPSRedirectMiddleware,
    JSONResponse,
    Mount,
    PlainTextResponse,
    RedirectResponse,
    Request,
    RequestBodyLimitMiddleware,
    Response,
    Route,
    Router,
    ServerErrorMiddleware,
    SessionMiddleware,
    SimpleUser,
    StaticFiles,
    StreamingResponse,
    TrustedHostMiddleware,
    WebSocket,
    WebSocketEndpoint,
    WebSocketRoute,
)

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[3]
GUIDE = REPO / "docs" / "building-a-framework.md"
HERE = Path(__file__).resolve().parent


# --- the table -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    required: frozenset[str]
    optional: frozenset[str]


def _names(cell: str) -> frozenset[str]:
    # The attribute names are the backticked identifiers before any "(" note.
    return frozenset(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cell.split("(")[0]))


def contract_table() -> dict[str, Row]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("<!-- subclass-contract")
    end = text.index("<!-- /subclass-contract -->")
    rows: dict[str, Row] = {}
    for line in text[start:end].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(\w+)`", cells[0]) if len(cells) == 3 else None
        if match:
            rows[match.group(1)] = Row(_names(cells[1]), _names(cells[2]))
    return rows


TABLE = contract_table()


# --- ASGI plumbing -----------------------------------------------------------------


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or [])],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }
    scope.setdefault("headers", []).append((b"host", b"testserver"))
    scope.update(extra)
    return scope


def ws_scope(path: str = "/ws") -> dict[str, Any]:
    scope = http_scope(path)
    scope.update(type="websocket", scheme="ws", subprotocols=[])
    del scope["method"]
    return scope


class Channel:
    """receive() hands out `inbound` (then waits forever); send() records."""

    def __init__(self, *inbound: dict[str, Any]) -> None:
        self.inbound = list(inbound)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.inbound:
            return self.inbound.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def request_channel(body: bytes = b"") -> Channel:
    return Channel({"type": "http.request", "body": body, "more_body": False})


def ws_channel(*texts: str) -> Channel:
    frames = [{"type": "websocket.receive", "text": text} for text in texts]
    return Channel(
        {"type": "websocket.connect"}, *frames, {"type": "websocket.disconnect", "code": 1000}
    )


def reply(sent: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What a client sees: status, the headers that matter, the body (or WebSocket frames)."""
    if sent and sent[0]["type"].startswith("websocket"):
        return tuple((m["type"], m.get("text"), m.get("code")) for m in sent)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = sorted(
        (k.decode().lower(), v.decode())
        for k, v in start.get("headers", [])
        if k.lower() not in (b"date", b"etag", b"last-modified")
    )
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], tuple(headers), body


async def serve(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[Any, ...]:
    channel = request_channel(body) if scope["type"] == "http" else ws_channel("hi")
    with anyio.fail_after(10):
        await app(scope, channel.receive, channel.send)
    return reply(channel.sent)


# --- endpoints and downstream apps, in both shapes ------------------------------------


async def async_hello(request: Request) -> Response:
    return PlainTextResponse(f"async {request.path_params.get('n', '')}")


def sync_hello(request: Request) -> Response:
    return PlainTextResponse(f"sync {request.path_params.get('n', '')}")


async def teapot(request: Request) -> Response:
    raise HTTPException(418, "teapot")


async def ws_upper(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text((await websocket.receive_text()).upper())
    await websocket.close()


async def downstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app a middleware wraps: reads the body, answers 600 bytes of text."""
    if scope["type"] == "lifespan":
        return
    request = Request(scope, receive, send)
    body = await request.body()
    session = scope.get("session")
    if session is not None:
        session["seen"] = True
    text = f"hello {len(body)} {scope.get(BODY_IDLE_TIMEOUT_KEY)} {APP_TASKS_KEY in scope} "
    user = scope.get("user")
    text += f"{getattr(user, 'display_name', '')} " + "x" * 600
    await PlainTextResponse(text)(scope, receive, send)


async def downstream_other(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await PlainTextResponse("other", 202)(scope, receive, send)


async def raising(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise HTTPException(418, "teapot")


async def crashing(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise ValueError("boom")


ROUTES = [
    Route("/sync/{n:int}", sync_hello),
    Route("/async/{n:int}", async_hello),
    Route("/teapot", teapot),
    Mount("/mounted", routes=[Route("/async/{n:int}", async_hello), Route("/sync", sync_hello)]),
    WebSocketRoute("/ws", ws_upper),
]


class PathEndpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("endpoint get")

    def post(self, request: Request) -> Response:
        return PlainTextResponse("endpoint post")


class EchoEndpoint(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"echo {data}")


class Tagger(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-tag"] = "dispatch"
        return response


async def other_dispatch(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    response.headers["x-tag"] = "other"
    return response


class UserBackend(AuthenticationBackend):
    async def authenticate(self, conn: Any) -> Any:
        return AuthCredentials(["authenticated"]), SimpleUser("ada")


class RefusingBackend(AuthenticationBackend):
    async def authenticate(self, conn: Any) -> Any:
        raise AuthenticationError("no")


async def events() -> AsyncIterator[dict[str, Any]]:
    yield {"data": "one"}
    yield {"data": "two"}


async def chunks() -> AsyncIterator[bytes]:
    yield b"chunk one, "
    yield b"chunk two"


STATIC = tempfile.TemporaryDirectory()  # lives as long as the module
STATIC_DIR = Path(STATIC.name)
(STATIC_DIR / "hello.txt").write_text("static hello")
(STATIC_DIR / "index.html").write_text("<p>index</p>")


# --- one case per class ----------------------------------------------------------------

Exercise = Callable[[Any], Awaitable[Any]]


@dataclass
class Case:
    cls: type
    build: Callable[[type], Any]  # an instance of the given class (or subclass), built normally
    exercise: Exercise  # what it sends for a few requests
    change: Callable[[Any], None]  # assign public attributes after construction
    probe: Exercise | None = None  # what shows the change (default: exercise)


async def each(app: Any, *scopes: dict[str, Any], body: bytes = b"") -> tuple[Any, ...]:
    return tuple([await serve(app, scope, body) for scope in scopes])


def app_paths(app: Any) -> Awaitable[Any]:
    return each(
        app,
        http_scope("/sync/1"),
        http_scope("/async/2"),
        http_scope("/mounted/async/3"),
        http_scope("/mounted/sync"),
        http_scope("/nowhere"),
        ws_scope("/ws"),
        # Rendered by the App's exception layer (a bare Router has none).
        *([http_scope("/teapot")] if isinstance(app, App) else []),
    )


async def route_alone(route: Any) -> Any:
    # Matched and handled by a router, mounted and not.
    path = "/ws" if isinstance(route, WebSocketRoute) else "/items/7"
    make = ws_scope if isinstance(route, WebSocketRoute) else http_scope
    return (
        await each(Router([route]), make(path)),
        await each(Router([Mount("/api", routes=[route])]), make("/api" + path)),
        route.url_path_for("item", n=7) if not isinstance(route, WebSocketRoute) else None,
    )


async def exercise_request(request: Request) -> Any:
    return (request.method, str(request.url), dict(request.headers), await request.body())


async def exercise_websocket(ws: WebSocket) -> Any:
    await ws.accept()
    text = await ws.receive_text()
    await ws.send_text(text.upper())
    await ws.close()
    channel: Channel = ws._send.__self__  # type: ignore[attr-defined]
    return reply(channel.sent)


def response_exercise(method: str = "GET") -> Exercise:
    async def run(response: Any) -> Any:
        return await serve(response, http_scope("/", method=method))

    return run


async def exercise_endpoint(endpoint: Any) -> Any:
    with anyio.fail_after(10):
        await endpoint
    channel: Channel = endpoint.send.__self__
    return reply(channel.sent)


def middleware_exercise(
    *headers: tuple[str, str], method: str = "GET", body: bytes = b""
) -> Exercise:
    async def run(middleware: Any) -> Any:
        return await each(middleware, http_scope("/", method, list(headers)), body=body)

    return run


def make_endpoint(cls: type, scope: dict[str, Any], channel: Channel) -> Any:
    return cls(scope, channel.receive, channel.send)


def setter(**values: Any) -> Callable[[Any], None]:
    def change(obj: Any) -> None:
        for name, value in values.items():
            setattr(obj, name, value)

    return change


def set_app_handlers(app: Any) -> None:
    async def on_teapot(request: Request, exc: Exception) -> Response:
        return JSONResponse({"handled": True}, 418)

    app.exception_handlers = {418: on_teapot}


def compile_like(route: Any, path: str) -> None:
    regex, fmt, convertors = flagstone.compile_path(path)
    route.path, route.path_regex, route.path_format, route.param_convertors = (
        path,
        regex,
        fmt,
        convertors,
    )


CASES: dict[str, Case] = {
    "App": Case(App, lambda cls: cls(routes=list(ROUTES)), app_paths, set_app_handlers),
    "Router": Case(
        Router,
        lambda cls: cls(list(ROUTES)),
        app_paths,
        lambda router: setattr(router, "routes", [Route("/sync/{n:int}", async_hello)]),
    ),
    "Route": Case(
        Route,
        lambda cls: cls("/items/{n:int}", sync_hello, name="item"),
        route_alone,
        lambda route: compile_like(route, "/items/{n:int}/x"),
        probe=lambda route: each(Router([route]), http_scope("/items/7/x")),
    ),
    "WebSocketRoute": Case(
        WebSocketRoute,
        lambda cls: cls("/ws", ws_upper),
        route_alone,
        lambda route: compile_like(route, "/ws2"),
        probe=lambda route: each(Router([route]), ws_scope("/ws2")),
    ),
    "Mount": Case(
        Mount,
        lambda cls: cls(
            "/m", routes=[Route("/async/{n:int}", async_hello), Route("/sync", sync_hello)]
        ),
        lambda mount: each(Router([mount]), http_scope("/m/async/4"), http_scope("/m/sync")),
        lambda mount: setattr(mount, "app", Router([Route("/sync", async_hello)])),
        probe=lambda mount: each(Router([mount]), http_scope("/m/sync")),
    ),
    "Host": Case(
        Host,
        lambda cls: cls("api.example.org", Router([Route("/sync/{n:int}", sync_hello)])),
        lambda host: each(
            Router([host]), http_scope("/sync/5", headers=[("host", "api.example.org")])
        ),
        lambda host: setattr(host, "app", Router([Route("/sync/{n:int}", async_hello)])),
    ),
    "StaticFiles": Case(
        StaticFiles,
        lambda cls: cls(directory=STATIC_DIR),
        lambda static: each(static, http_scope("/hello.txt"), http_scope("/")),
        setter(html=True),
    ),
    "Request": Case(
        Request,
        lambda cls: cls(http_scope("/r?x=1", "POST"), request_channel(b"payload").receive),
        exercise_request,
        lambda request: setattr(request, "scope", {**request.scope, "method": "PUT"}),
    ),
    "WebSocket": Case(
        WebSocket,
        lambda cls: (lambda ch: cls(ws_scope(), ch.receive, ch.send))(ws_channel("hey")),
        exercise_websocket,
        lambda ws: setattr(ws, "_receive", ws_channel("changed").receive),
    ),
    "Response": Case(
        Response,
        lambda cls: cls("plain", headers={"x-a": "1"}, media_type="text/plain"),
        response_exercise(),
        setter(status_code=201),
    ),
    "HTMLResponse": Case(
        HTMLResponse, lambda cls: cls("<p>x</p>"), response_exercise(), setter(status_code=202)
    ),
    "PlainTextResponse": Case(
        PlainTextResponse,
        lambda cls: cls("text"),
        response_exercise("HEAD"),
        setter(status_code=203),
    ),
    "JSONResponse": Case(
        JSONResponse, lambda cls: cls({"a": [1, 2]}), response_exercise(), setter(status_code=201)
    ),
    "RedirectResponse": Case(
        RedirectResponse,
        lambda cls: cls("/elsewhere"),
        response_exercise(),
        setter(status_code=308),
    ),
    "StreamingResponse": Case(
        StreamingResponse, lambda cls: cls(chunks()), response_exercise(), setter(status_code=206)
    ),
    "FileResponse": Case(
        FileResponse,
        lambda cls: cls(STATIC_DIR / "hello.txt"),
        response_exercise(),
        setter(status_code=203),
    ),
    "EventSourceResponse": Case(
        EventSourceResponse, lambda cls: cls(events()), response_exercise(), setter(status_code=201)
    ),
    "HTTPEndpoint": Case(
        HTTPEndpoint,
        lambda cls: make_endpoint(
            type("Sub", (PathEndpoint, cls), {}),
            http_scope("/e", "POST"),
            request_channel(),
        ),
        exercise_endpoint,
        lambda endpoint: setattr(endpoint, "scope", {**endpoint.scope, "method": "GET"}),
    ),
    "WebSocketEndpoint": Case(
        WebSocketEndpoint,
        lambda cls: make_endpoint(
            type("Sub", (EchoEndpoint, cls), {}),
            ws_scope(),
            ws_channel("a", "b"),
        ),
        exercise_endpoint,
        lambda endpoint: setattr(endpoint, "receive", ws_channel("changed").receive),
    ),
    "ExceptionMiddleware": Case(
        ExceptionMiddleware,
        lambda cls: cls(raising),
        middleware_exercise(),
        setter(app=downstream_other),
    ),
    "ServerErrorMiddleware": Case(
        ServerErrorMiddleware,
        lambda cls: cls(crashing),
        lambda mw: _server_error(mw),
        setter(handler=lambda request, exc: PlainTextResponse("handled 500", 500)),
    ),
    "SessionMiddleware": Case(
        SessionMiddleware,
        lambda cls: cls(downstream, secret_key="s" * 32),
        middleware_exercise(),
        setter(session_cookie="sid", path="/app", max_age=60),
        probe=lambda mw: _cookie_name(mw),
    ),
    "CORSMiddleware": Case(
        CORSMiddleware,
        lambda cls: cls(downstream),
        middleware_exercise(("origin", "https://a.example")),
        setter(allow_origins=frozenset({"https://a.example"}), allow_credentials=True),
    ),
    "CompressionMiddleware": Case(
        CompressionMiddleware,
        lambda cls: cls(downstream),
        middleware_exercise(("accept-encoding", "gzip")),
        setter(minimum_size=10**6),
    ),
    "GZipMiddleware": Case(
        GZipMiddleware,
        lambda cls: cls(downstream),
        middleware_exercise(("accept-encoding", "gzip")),
        setter(minimum_size=10**6),
    ),
    "TrustedHostMiddleware": Case(
        TrustedHostMiddleware,
        lambda cls: cls(downstream),
        middleware_exercise(("host", "evil.example")),
        setter(allowed_hosts=["good.example"]),
    ),
    "HTTPSRedirectMiddleware": Case(
        HTTPSRedirectMiddleware,
        lambda cls: cls(downstream, allowed_hosts=["*"]),
        middleware_exercise(),
        setter(status_code=308),
    ),
    "AuthenticationMiddleware": Case(
        AuthenticationMiddleware,
        lambda cls: cls(downstream, backend=UserBackend()),
        middleware_exercise(),
        setter(backend=RefusingBackend()),
    ),
    "BaseHTTPMiddleware": Case(
        BaseHTTPMiddleware,
        lambda cls: type("Sub", (Tagger, cls), {})(downstream),
        middleware_exercise(),
        setter(dispatch_func=other_dispatch),
    ),
    "RequestBodyLimitMiddleware": Case(
        RequestBodyLimitMiddleware,
        lambda cls: cls(downstream, None),
        middleware_exercise(method="POST", body=b"0123456789"),
        setter(max_body_size=4),
    ),
    "BodyIdleTimeout": Case(
        BodyIdleTimeout,
        lambda cls: cls(downstream, 7.5),
        middleware_exercise(),
        setter(seconds=2.5),
    ),
    "BackgroundMiddleware": Case(
        BackgroundMiddleware,
        lambda cls: cls(downstream),
        middleware_exercise(),
        setter(app=downstream_other),
    ),
    "AppTasksMiddleware": Case(
        AppTasksMiddleware,
        lambda cls: cls(downstream, AppTasks()),
        middleware_exercise(),
        setter(app=downstream_other),
    ),
}


async def _server_error(middleware: Any) -> Any:
    channel = request_channel()
    with pytest.raises(ValueError, match="boom"):
        await middleware(http_scope("/"), channel.receive, channel.send)
    return reply(channel.sent)


async def _cookie_name(middleware: Any) -> Any:
    ((status, headers, _),) = await each(middleware, http_scope("/app"))
    return status, [
        value.split(";")[0].split("=")[0] + value[value.index(";") :]
        for name, value in headers
        if name == "set-cookie"
    ]


# --- helpers for the three ways of building ---------------------------------------


def class_defaults(cls: type, name: str) -> bool:
    """True when `name` has a class-level value (a slot descriptor is not one)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return not isinstance(vars(klass)[name], types.MemberDescriptorType)
    return False


def instance_attributes(obj: Any) -> set[str]:
    names = set(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        for slot in vars(klass).get("__slots__", ()):
            if hasattr(obj, slot):
                names.add(slot)
    return names


def without_init(case: Case) -> Any:
    """FastAPI's shape: a subclass whose own `__init__` sets only the documented attributes."""
    row = TABLE[case.cls.__name__]
    template = case.build(case.cls)
    # Every required attribute; the optional ones the template holds itself.
    documented = row.required | (row.optional & instance_attributes(template))

    def __init__(self: Any) -> None:
        for name in sorted(documented):
            value = getattr(template, name)
            if getattr(value, "__self__", None) is template:
                continue  # bound to the template (Router.middleware_stack): not ours to copy
            setattr(self, name, value)

    base = type(template)  # the class itself, or the minimal subclass the case needs
    bare_cls = type(f"Bare{base.__name__}", (base,), {"__init__": __init__})
    return bare_cls()


def with_super_init(cls: type) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        super(sub, self).__init__(*args, **kwargs)  # type: ignore[misc]
        self.framework_extra = "kept"

    sub = type(f"Super{cls.__name__}", (cls,), {"__init__": __init__})
    return sub


IDS = list(CASES)


# --- the tests ---------------------------------------------------------------------------


def test_every_extensible_class_has_a_row_and_a_case() -> None:
    assert set(TABLE) == set(CASES)
    for name, case in CASES.items():
        assert case.cls.__name__ == name
        assert getattr(flagstone, name) is case.cls


@pytest.mark.parametrize("name", IDS)
def test_every_attribute_has_a_default_or_a_documented_line(name: str) -> None:
    case, row = CASES[name], TABLE[name]
    instance = case.build(case.cls)
    derived = getattr(case.cls, "_derived_names", frozenset())
    undocumented = {
        attribute
        for attribute in instance_attributes(instance)
        if not class_defaults(case.cls, attribute)
        and attribute not in derived
        and attribute not in row.required
    }
    assert not undocumented, (
        f"{name} sets {sorted(undocumented)} in __init__ with no class-level default: give each "
        "one a default, derive it (DerivedAttributes), or list it in "
        "docs/building-a-framework.md as one a subclass that skips __init__ must set"
    )
    no_default = {a for a in row.optional if not class_defaults(case.cls, a) and a not in derived}
    assert not no_default, f"{name}: documented as optional but without a class-level default"


@pytest.mark.parametrize("name", IDS)
async def test_serves_without_init(name: str) -> None:
    case = CASES[name]
    expected = await case.exercise(case.build(case.cls))
    assert await case.exercise(without_init(case)) == expected


@pytest.mark.parametrize("name", IDS)
async def test_serves_with_super_init(name: str) -> None:
    case = CASES[name]
    expected = await case.exercise(case.build(case.cls))
    instance = case.build(with_super_init(case.cls))
    assert instance.framework_extra == "kept"
    assert await case.exercise(instance) == expected


@pytest.mark.parametrize("name", IDS)
async def test_public_attributes_changed_after_construction(name: str) -> None:
    case = CASES[name]
    probe = case.probe or case.exercise
    unchanged = await probe(case.build(case.cls))
    built, bare = case.build(case.cls), without_init(case)
    case.change(built)
    case.change(bare)
    changed = await probe(built)
    assert changed != unchanged
    assert await probe(bare) == changed


# --- App under a real server ----------------------------------------------------------

SERVED_APP = """
from flagstone import App, PlainTextResponse, Route, Router, State

async def hello(request):
    return PlainTextResponse("served " + request.path_params["name"])

def sync_hello(request):
    return PlainTextResponse("sync served")

class FastAPIShaped(App):
    def __init__(self):
        self.router = Router([Route("/hello/{name}", hello), Route("/sync", sync_hello)])
        self.state = State()

app = FastAPIShaped()
"""


def test_an_app_that_skips_init_under_uvicorn(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "tools"))
    from serving import free_port, http_answers, start

    (tmp_path / "shaped_app.py").write_text(SERVED_APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "shaped_app:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--lifespan", "on"]
    server = start("uvicorn", command, tmp_path / "uvicorn.log", port=port, cwd=tmp_path)
    try:
        server.wait_until(lambda: http_answers(port, "/sync"), "answering")
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/hello/ada").text == "served ada"
            assert http.get("/sync").text == "sync served"
            assert http.get("/nowhere").status_code == 404
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "uvicorn.log").read_text(errors="replace")
