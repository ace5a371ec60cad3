"""A Starlette application and its tests, ported to flagstone by changing imports only.

Everything below the imports is written the way Starlette's documentation
writes it (applications, routing, endpoints, WebSockets, sessions, background
tasks, exception handlers, the test client).  Each `from starlette...` line
is kept as a comment above the flagstone import that replaces it; nothing
else was changed.  docs/porting-from-starlette.md lists the deliberate
differences; none of them needs a change here.

The same module is served by uvicorn on 127.0.0.1 at the end
(`test_porting:app`), so the app is checked through a real server too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio
import httpx
import pytest

# from starlette.applications import Starlette
from flagstone import App as Starlette

# from starlette.background import BackgroundTasks
from flagstone_background import BackgroundTasks

# from starlette import status
# from starlette.exceptions import HTTPException, StarletteDeprecationWarning
# from starlette.middleware import Middleware
# from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
# from starlette.types import ASGIApp, Receive, Scope, Send
from flagstone_contract import (
    MAX_BODY_SIZE_SCOPE_KEY,
    ASGIApp,
    HTTPException,
    Middleware,
    Receive,
    RequestBodyLimitMiddleware,
    Scope,
    Send,
    StarletteDeprecationWarning,
    status,
)

# from starlette.middleware.base import BaseHTTPMiddleware
from flagstone_middleware import BaseHTTPMiddleware

# from starlette.concurrency import run_in_threadpool, run_until_first_complete
# from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
# from starlette.datastructures import URL, FormData, Headers
# from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
# from starlette.middleware.exceptions import ExceptionMiddleware
# from starlette.requests import Request
# from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
# from starlette.responses import Response
# from starlette.websockets import WebSocket, WebSocketDisconnect
from flagstone_requests import (
    URL,
    ExceptionMiddleware,
    FileResponse,
    FormData,
    FormParser,
    Headers,
    HTTPEndpoint,
    JSONResponse,
    MultiPartException,
    MultiPartParser,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    WebSocketEndpoint,
    run_in_threadpool,
    run_until_first_complete,
)

# from starlette.convertors import Convertor, register_url_convertor
# from starlette.routing import Host, Mount, Route, Router, WebSocketRoute
from flagstone_routing import (
    Convertor,
    Host,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    register_url_convertor,
)

# from starlette.middleware.sessions import Session, SessionMiddleware
from flagstone_sessions import Session, SessionMiddleware

# from starlette.templating import Jinja2Templates
from flagstone_templates import Jinja2Templates

# from starlette.testclient import TestClient
# (+ flagstone only: the warning its client gives for a non-lower-case header name)
from flagstone_testclient import ASGIProtocolWarning, TestClient

# ----------------------------------------------------------------------------------------
# The application, as Starlette's documentation writes it.
# ----------------------------------------------------------------------------------------

outbox: list[str] = []  # what the background tasks "sent"


def homepage(request):
    return PlainTextResponse("Hello, world!")


class User(HTTPEndpoint):
    async def get(self, request):
        username = request.path_params["username"]
        if username == "nobody":
            raise HTTPException(status_code=404, detail=f"No user called {username}")
        return PlainTextResponse(f"Hello, {username}")


def user_me(request):
    username = "John Doe"
    return PlainTextResponse(f"Hello, {username}!")


async def user_links(request):
    username = request.path_params["username"]
    return JSONResponse(
        {
            "self": str(request.url_for("users:user_detail", username=username)),
            "dashboard": str(request.url_for("admin:dashboard")),
            "status": str(request.url_for("api:status")),
            "root_path": request.scope.get("root_path", ""),
        }
    )


async def login(request: Request):
    form = await request.form()
    request.session["user"] = form["username"]
    return RedirectResponse(url=request.url_for("whoami"), status_code=303)


async def whoami(request):
    return JSONResponse({"user": request.session.get("user")})


async def logout(request):
    request.session.clear()
    return RedirectResponse(url=request.url_for("homepage"), status_code=303)


async def send_welcome_email(to_address):
    outbox.append(f"welcome {to_address}")


async def send_admin_notification(username):
    outbox.append(f"admin: {username} signed up")


async def signup(request):
    data = await request.json()
    username = data["username"]
    email = data["email"]
    tasks = BackgroundTasks()
    tasks.add_task(send_welcome_email, to_address=email)
    tasks.add_task(send_admin_notification, username=username)
    message = {"status": "Signup successful"}
    return JSONResponse(message, background=tasks)


class CardDeclined(Exception):
    pass


def charge_card(amount):
    if amount > 100:
        raise CardDeclined(f"card declined for {amount}")
    outbox.append(f"charged {amount}")


async def send_receipt(amount):
    outbox.append(f"receipt for {amount}")


async def checkout(request):
    amount = int(request.query_params["amount"])
    tasks = BackgroundTasks()
    tasks.add_task(charge_card, amount)
    tasks.add_task(send_receipt, amount)  # only after a successful charge
    return JSONResponse({"status": "processing"}, background=tasks)


async def show_outbox(request):
    return JSONResponse(outbox)


async def moved(request):
    # Starlette reads a hostname with a port as the whole authority.
    url = request.url.replace(hostname="www.example.org:8443", port=None, scheme="https")
    return RedirectResponse(url=str(url), status_code=301)


async def websocket_endpoint(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text("Hello, websocket!")
    await websocket.close()


class Echo(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket, data):
        await websocket.send_text(f"Message text was: {data}")


class RawEcho(WebSocketEndpoint):
    # encoding left at its default, None: on_receive gets text or bytes.
    async def on_receive(self, websocket, data):
        if isinstance(data, bytes):
            await websocket.send_bytes(data)
        else:
            await websocket.send_text(data)


def requires_token(endpoint):
    """A sync decorator: it returns the endpoint's coroutine, or a close."""

    @functools.wraps(endpoint)
    def wrapper(websocket):
        if websocket.query_params.get("token") != "s3cret":
            return websocket.close(code=1008)
        return endpoint(websocket)

    return wrapper


@requires_token
async def private_feed(websocket):
    await websocket.accept()
    await websocket.send_json({"feed": "private"})
    await websocket.close()


async def who_is_calling(websocket):
    await websocket.accept()
    await websocket.send_json({"authorization": websocket.headers.get("authorization")})
    await websocket.close()


class PriceNotFound(Exception):
    pass


PRICES = {"tea": 3}


async def reprice(item):
    try:
        outbox.append(f"{item} costs {PRICES[item]}")
    except KeyError:
        raise PriceNotFound(item)


async def price(request):
    item = request.path_params["item"]
    tasks = BackgroundTasks()
    tasks.add_task(reprice, item)  # fails after the response for an unknown item
    return JSONResponse({"item": item}, background=tasks)


async def json_modes(websocket):
    await websocket.accept()
    mode = websocket.query_params["mode"]
    try:
        await websocket.send_json({"mode": mode}, mode=mode)
    except RuntimeError as exc:  # what Starlette raises for a bad mode
        await websocket.send_text(f"refused: {exc}")
    await websocket.close()


async def hang_up(websocket):
    await websocket.accept()
    await websocket.receive_text()
    await websocket.close(code=4001, reason="goodbye")


async def admin_home(request):
    return PlainTextResponse("admin")


async def api_status(request):
    return JSONResponse({"status": "ok", "url": str(request.url_for("api:status"))})


async def http_exception(request, exc):
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


errors_reported: list[str] = []  # what the 500 handler "reported"


async def server_error(request, exc):
    errors_reported.append(f"{type(exc).__name__}: {exc}")
    return PlainTextResponse("Internal Server Error", status_code=500)


class UpstreamUnavailable(Exception):
    pass


async def upstream(request):
    raise UpstreamUnavailable("the upstream did not answer")


async def crash(request):
    raise RuntimeError("crashed")


class UpstreamErrors(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        try:
            return await call_next(request)
        except UpstreamUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)


class ServerHeaderMiddleware:
    """Pure ASGI middleware adding a header to every response and WebSocket accept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message):
            if message["type"] in ("http.response.start", "websocket.accept"):
                message["headers"] = list(message.get("headers", []))
                message["headers"].append((b"x-served-by", b"porting-example"))
            await send(message)

        await self.app(scope, receive, send_with_header)


class AcceptHeaderMiddleware:
    """Appends to `websocket.accept` headers in place, as Starlette-era middleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message):
            if message["type"] == "websocket.accept":
                message["headers"].append((b"x-ws-version", b"2"))
            await send(message)

        await self.app(scope, receive, send_wrapper)


class DateTimeConvertor(Convertor):
    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(.[0-9]+)?"

    def convert(self, value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")

    def to_string(self, value: datetime) -> str:
        return value.strftime("%Y-%m-%dT%H:%M:%S")


register_url_convertor("datetime", DateTimeConvertor())


async def event_day(request):
    when = request.path_params["when"]
    return JSONResponse(
        {"day": when.date().isoformat(), "url": str(request.url_for("event_day", when=when))}
    )


FORBIDDEN = HTTPException(status_code=403, detail="Admins only")


async def admin_only(request):
    raise FORBIDDEN


async def upload(request):
    async with request.form() as form:
        contents = await form["file"].read()
        return JSONResponse(
            {"filename": form["file"].filename, "size": len(contents), "note": form.get("note")}
        )


async def handshake_headers(websocket):
    await websocket.accept()
    await websocket.send_json(
        {
            "connection": websocket.headers.get("connection"),
            "upgrade": websocket.headers.get("upgrade"),
        }
    )
    await websocket.close()


class FrameOptionsMiddleware:
    """Route middleware written with a capitalised header name, as many are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"X-Frame-Options", b"DENY")]
            await send(message)

        await self.app(scope, receive, send_wrapper)


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "Hello"}


async def greeting(request):
    return PlainTextResponse(request.state.greeting)


admin = Starlette(routes=[Route("/", admin_home, name="dashboard")])
api = Router(routes=[Route("/status", api_status, name="status")])

routes = [
    Route("/", homepage),
    Route("/greeting", greeting),
    Route("/signup", signup, methods=["POST"]),
    Route("/checkout", checkout, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
    Route("/whoami", whoami),
    Route("/logout", logout),
    Route("/moved", moved),
    Route("/outbox", show_outbox),
    Route("/events/{when:datetime}", event_day, name="event_day"),
    Route("/admin-only", admin_only),
    Route("/upload", upload, methods=["POST"]),
    Route("/framed", homepage, middleware=[Middleware(FrameOptionsMiddleware)]),
    Route("/upstream", upstream),
    Route("/crash", crash),
    Route("/price/{item}", price),
    Mount(
        "/users",
        routes=[
            Route("/me", user_me),
            Route("/{username}", User, name="user_detail"),
            Route("/{username}/links", user_links),
        ],
        name="users",
    ),
    Mount("/admin", app=admin, name="admin"),
    Host("api.example.org:3600", app=api, name="api"),
    WebSocketRoute("/ws", websocket_endpoint),
    WebSocketRoute("/echo", Echo),
    WebSocketRoute("/raw", RawEcho),
    WebSocketRoute("/private", private_feed),
    WebSocketRoute("/json", json_modes),
    WebSocketRoute("/hang-up", hang_up),
    WebSocketRoute("/handshake", handshake_headers),
    WebSocketRoute("/who", who_is_calling),
]

middleware = [
    Middleware(SessionMiddleware, secret_key="porting-example-secret"),
    Middleware(ServerHeaderMiddleware),
    Middleware(AcceptHeaderMiddleware),
    Middleware(UpstreamErrors),
]

exception_handlers = {HTTPException: http_exception, Exception: server_error}

app = Starlette(
    routes=routes,
    middleware=middleware,
    exception_handlers=exception_handlers,
    lifespan=lifespan,
)

# ----------------------------------------------------------------------------------------
# The tests, as Starlette's documentation writes them.  Each runs on asyncio and trio.
# ----------------------------------------------------------------------------------------


@pytest.fixture
def client(anyio_backend: str) -> Iterator[TestClient]:
    outbox.clear()
    errors_reported.clear()
    with TestClient(app, backend=anyio_backend) as client:
        yield client


def test_homepage(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["x-served-by"] == "porting-example"


def test_lifespan_state(client):
    assert client.get("/greeting").text == "Hello"


def test_http_endpoint_in_a_mount(client):
    assert client.get("/users/me").text == "Hello, John Doe!"
    assert client.get("/users/ada").text == "Hello, ada"
    assert client.post("/users/ada").status_code == 405


def test_exception_handlers(client):
    response = client.get("/users/nobody")
    assert response.status_code == 404
    assert response.json() == {"detail": "No user called nobody"}
    assert client.get("/no/such/page").json() == {"detail": "Not Found"}


def test_url_for_through_mounts_and_hosts(client):
    assert client.get("/users/ada/links").json() == {
        "self": "http://testserver/users/ada",
        "dashboard": "http://testserver/admin/",
        "status": "http://api.example.org:3600/status",
        "root_path": "/users",
    }
    assert app.url_path_for("users:user_detail", username="ada") == "/users/ada"
    assert app.url_path_for("api:status").host == "api.example.org:3600"


def test_host_routing_ignores_the_port_but_reverses_with_it(client):
    for host in ("api.example.org:3600", "api.example.org", "API.example.org:80"):
        response = client.get("/status", headers={"host": host})
        assert response.json() == {"status": "ok", "url": "http://api.example.org:3600/status"}
    assert client.get("/status").status_code == 404


def test_mounted_sub_application(client):
    assert client.get("/admin/").text == "admin"


def test_sessions(client):
    response = client.post("/login", data={"username": "ada"})
    assert response.url == "http://testserver/whoami"
    assert response.json() == {"user": "ada"}
    assert client.get("/whoami").json() == {"user": "ada"}
    response = client.get("/logout")
    assert response.text == "Hello, world!"
    assert client.get("/whoami").json() == {"user": None}


def test_background_tasks(client):
    response = client.post("/signup", json={"username": "ada", "email": "ada@example.org"})
    assert response.json() == {"status": "Signup successful"}
    assert outbox == ["welcome ada@example.org", "admin: ada signed up"]


def test_background_tasks_run_in_order_after_the_response(client):
    assert client.post("/checkout?amount=10").json() == {"status": "processing"}
    assert outbox == ["charged 10", "receipt for 10"]


def test_a_failing_background_task_stops_the_ones_after_it(anyio_backend):
    outbox.clear()
    with TestClient(app, backend=anyio_backend) as client, pytest.raises(CardDeclined):
        client.post("/checkout?amount=500")
    assert outbox == []  # no receipt for a declined card


def test_a_failing_background_task_after_the_response_keeps_the_response(anyio_backend):
    outbox.clear()
    errors_reported.clear()
    with TestClient(app, backend=anyio_backend, raise_server_exceptions=False) as client:
        response = client.post("/checkout?amount=500")
    assert (response.status_code, response.json()) == (200, {"status": "processing"})
    assert outbox == []
    # Too late for a 500, but the error handler still hears of it.
    assert errors_reported == ["CardDeclined: card declined for 500"]


def test_middleware_catches_an_endpoint_exception_around_call_next(client):
    response = client.get("/upstream")
    assert response.status_code == 502
    assert response.json() == {"error": "the upstream did not answer"}


def test_the_500_is_sent_outside_user_middleware(anyio_backend):
    errors_reported.clear()
    with TestClient(app, backend=anyio_backend, raise_server_exceptions=False) as client:
        response = client.get("/crash")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "x-served-by" not in response.headers
    assert errors_reported == ["RuntimeError: crashed"]


def test_url_replace_with_a_port_in_the_hostname(client):
    response = client.get("/moved?a=1", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "https://www.example.org:8443/moved?a=1"


def test_websocket_endpoint(client):
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_text() == "Hello, websocket!"


def test_websocket_endpoint_class(client):
    with client.websocket_connect("/echo") as websocket:
        websocket.send_text("hi")
        assert websocket.receive_text() == "Message text was: hi"


def test_websocket_endpoint_without_encoding_gets_text_and_bytes(client):
    with client.websocket_connect("/raw") as websocket:
        websocket.send_text("text")
        assert websocket.receive_text() == "text"
        websocket.send_bytes(b"\x00bytes")
        assert websocket.receive_bytes() == b"\x00bytes"


def test_websocket_accept_headers_reach_middleware(client):
    with client.websocket_connect("/ws") as websocket:
        assert (b"x-ws-version", b"2") in websocket.extra_headers
        assert (b"x-served-by", b"porting-example") in websocket.extra_headers
        assert websocket.receive_text() == "Hello, websocket!"


def test_decorated_websocket_endpoint(client):
    # One route's shape never takes the app down: HTTP routes still answer.
    assert client.get("/").status_code == 200
    with client.websocket_connect("/private?token=s3cret") as websocket:
        assert websocket.receive_json() == {"feed": "private"}


def test_send_json_with_a_bad_mode_is_a_runtime_error(client):
    with client.websocket_connect("/json?mode=binary") as websocket:
        assert websocket.receive_json(mode="binary") == {"mode": "binary"}
    with client.websocket_connect("/json?mode=yaml") as websocket:
        message = websocket.receive_text()
    assert message.startswith("refused: ")
    assert '"text" or "binary"' in message


def test_decorated_websocket_endpoint_refuses_without_a_token(client):
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/private"):
        pass
    assert info.value.code == 1008


def test_websocket_closed_by_the_app(client):
    with client.websocket_connect("/hang-up") as websocket:
        websocket.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            websocket.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "goodbye")


def test_websocket_route_not_found(client):
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/no-such-socket"):
        pass


def test_root_path(anyio_backend):
    with TestClient(app, root_path="/prefix", backend=anyio_backend) as client:
        response = client.get("/prefix/users/ada/links")
    assert response.json() == {
        "self": "http://testserver/prefix/users/ada",
        "dashboard": "http://testserver/prefix/admin/",
        "status": "http://api.example.org:3600/prefix/status",
        "root_path": "/prefix/users",
    }


def test_routes():
    assert app.routes == [
        Route("/", homepage),
        Route("/greeting", greeting),
        Route("/signup", signup, methods=["POST"]),
        Route("/checkout", checkout, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
        Route("/whoami", whoami),
        Route("/logout", logout),
        Route("/moved", moved),
        Route("/outbox", show_outbox),
        Route("/events/{when:datetime}", event_day, name="event_day"),
        Route("/admin-only", admin_only),
        Route("/upload", upload, methods=["POST"]),
        Route("/framed", homepage),
        Route("/upstream", upstream),
        Route("/crash", crash),
        Route("/price/{item}", price),
        Mount(
            "/users",
            routes=[
                Route("/me", user_me),
                Route("/{username}", User, name="user_detail"),
                Route("/{username}/links", user_links),
            ],
            name="users",
        ),
        Mount("/admin", app=admin, name="admin"),
        Host("api.example.org:3600", app=api, name="api"),
        WebSocketRoute("/ws", websocket_endpoint),
        WebSocketRoute("/echo", Echo),
        WebSocketRoute("/raw", RawEcho),
        WebSocketRoute("/private", private_feed),
        WebSocketRoute("/json", json_modes),
        WebSocketRoute("/hang-up", hang_up),
        WebSocketRoute("/handshake", handshake_headers),
        WebSocketRoute("/who", who_is_calling),
    ]


def test_route_reprs():
    assert repr(Route("/users/{username}", User)) == (
        "Route(path='/users/{username}', name='User', methods=[])"
    )
    assert repr(Host("api.example.org", app=api)) == (
        "Host(host='api.example.org', name='', app=Router(routes=1))"
    )
    assert repr(Mount("/static", routes=[])).startswith("Mount(path='/static', name='', ")


def test_custom_convertor(client):
    response = client.get("/events/2026-11-30T09:15:00")
    assert response.json() == {
        "day": "2026-11-30",
        "url": "http://testserver/events/2026-11-30T09:15:00",
    }
    assert client.get("/events/tomorrow").status_code == 404


def test_registering_a_convertor_again_replaces_it_as_in_starlette():
    register_url_convertor("datetime", ClashingConvertor())
    try:
        assert Route("/n/{n:datetime}", event_day).path_regex.match("/n/42")
    finally:
        register_url_convertor("datetime", DateTimeConvertor())


class ClashingConvertor(Convertor):
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def test_file_upload(client):
    response = client.post(
        "/upload", files={"file": ("notes.txt", b"hello")}, data={"note": "first"}
    )
    assert response.json() == {"filename": "notes.txt", "size": 5, "note": "first"}


def test_a_multipart_text_field_that_is_not_utf8_is_read_as_latin1(client):
    body = (
        b'--b\r\ncontent-disposition: form-data; name="file"; filename="a.txt"\r\n\r\nx'
        b'\r\n--b\r\ncontent-disposition: form-data; name="note"\r\n'
        b"content-type: text/plain; charset=utf-8\r\n\r\ncaf\xe9\r\n--b--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = client.post("/upload", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["note"] == "caf\xe9"


async def test_multipart_errors_are_multipart_exceptions(anyio_backend):
    body = b'--b\r\ncontent-disposition: form-data; name="x"\r\n\r\nno closing boundary'

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
    }
    with pytest.raises(MultiPartException):
        await Request(scope, receive).form()


def test_form_limit_errors_are_starlettes_400_texts(anyio_backend):
    client = TestClient(
        Starlette(routes=[Route("/upload", upload, methods=["POST"])]), backend=anyio_backend
    )
    many_fields = "&".join(f"f{i}=x" for i in range(1001))
    response = client.post(
        "/upload",
        content=many_fields,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.text == "Too many fields. Maximum number of fields is 1000."
    files = {f"f{i}": (f"f{i}.txt", b"x") for i in range(1001)}
    response = client.post("/upload", files=files)
    assert response.status_code == 400
    assert response.text == "Too many files. Maximum number of files is 1000."
    boundary = "b" * 257
    response = client.post(
        "/upload",
        content=f"--{boundary}--\r\n".encode(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert response.text == "Invalid multipart data."
    body = b'--b\r\nContent-Disposition: form-data; name="a"\r\nX-Big: ' + b"v" * 5000
    response = client.post(
        "/upload",
        content=body + b"\r\n\r\n1\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400
    assert response.text == "Invalid multipart data."


async def test_form_parsers_as_frameworks_use_them(anyio_backend):
    async def stream():
        yield b"a=1&b=2"

    headers = Headers({"content-type": "application/x-www-form-urlencoded"})
    form = await FormParser(headers, stream()).parse()
    assert form == FormData([("a", "1"), ("b", "2")])
    with pytest.raises(MultiPartException) as caught:
        await FormParser(headers, stream(), max_fields=1).parse()
    assert caught.value.message == "Too many fields. Maximum number of fields is 1."
    headers = Headers({"content-type": "multipart/form-data; boundary=b"})
    with pytest.raises(MultiPartException) as caught:
        await MultiPartParser(headers, stream()).parse()
    assert caught.value.message == "Invalid multipart data."


async def test_run_in_threadpool(anyio_backend):
    assert await run_in_threadpool(sorted, [3, 1, 2]) == [1, 2, 3]


@pytest.mark.filterwarnings(
    "ignore:run_until_first_complete is deprecated:flagstone_contract.StarletteDeprecationWarning"
)
async def test_run_until_first_complete(anyio_backend):
    finished = []

    async def quick():
        finished.append("quick")

    async def slow():
        await anyio.sleep(10)
        finished.append("slow")  # never: cancelled once quick returns

    await run_until_first_complete((quick, {}), (slow, {}))
    assert finished == ["quick"]


async def test_run_until_first_complete_warns(anyio_backend):
    async def quick():
        pass

    with pytest.warns(StarletteDeprecationWarning, match="run_until_first_complete is deprecated"):
        await run_until_first_complete((quick, {}))


def test_a_module_level_http_exception(client):
    response = client.get("/admin-only")
    assert (response.status_code, response.json()) == (403, {"detail": "Admins only"})


def test_a_module_level_http_exception_does_not_grow(client):
    for _ in range(10):
        client.get("/admin-only")
    frames = len(traceback.extract_tb(FORBIDDEN.__traceback__))
    for _ in range(200):
        assert client.get("/admin-only").status_code == 403
    assert len(traceback.extract_tb(FORBIDDEN.__traceback__)) == frames
    assert len(getattr(FORBIDDEN, "__notes__", [])) <= 1
    assert frames < 10


def test_websocket_handshake_headers(client):
    with client.websocket_connect("/handshake") as websocket:
        headers = websocket.receive_json()
    # The test client sends Starlette's handshake headers: no `upgrade` one.
    assert headers == {"connection": "upgrade", "upgrade": None}


def test_websocket_connect_with_auth(client):
    with client.websocket_connect("/who", auth=("ada", "s3cret")) as websocket:
        assert websocket.receive_json() == {"authorization": "Basic YWRhOnMzY3JldA=="}


def test_an_endpoint_exception_keeps_its_own_context(client):
    assert client.get("/price/tea").json() == {"item": "tea"}
    assert outbox == ["tea costs 3"]
    with pytest.raises(PriceNotFound) as info:
        client.get("/price/coffee")
    # Raised after the response: its context is the app's KeyError.
    assert isinstance(info.value.__context__, KeyError)


def test_a_broken_message_sequence_is_an_assertion_error(anyio_backend):
    async def trailers_first(scope, receive, send):
        await send({"type": "http.response.trailers"})

    with pytest.raises(AssertionError, match="without declaring trailers"):
        TestClient(trailers_first, backend=anyio_backend).get("/")


def test_templates_need_a_directory_or_an_environment():
    with pytest.raises(
        AssertionError, match="either 'directory' or 'env' arguments must be passed"
    ):
        Jinja2Templates()


def test_route_middleware_with_a_capitalised_header_name(client):
    # flagstone's client lower-cases the name as servers do and says so with an
    # ASGIProtocolWarning, once per app (so on the first backend that runs):
    # captured here, so that a clean test run prints no warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.get("/framed")
    assert [w.category for w in caught] in ([], [ASGIProtocolWarning])
    assert all("X-Frame-Options" in str(w.message) for w in caught)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.text == "Hello, world!"


# --- Starlette's exact texts and behaviours (issue 25) -------------------------------------
# Written as Starlette's own tests write them: the exact text with ==, the
# exception type Starlette raises.


def test_range_errors_are_starlettes_400s(tmp_path, anyio_backend):
    path = tmp_path / "example.txt"
    path.write_bytes(b"x" * 1000)
    client = TestClient(FileResponse(path), backend=anyio_backend)
    for value, text in [
        ("bytes=100-50", "Range header: start must be less than end"),
        ("bytes=abc-def", "Range header: range must be requested"),
        ("bytes 0-10", "Malformed range header."),
    ]:
        response = client.get("/", headers={"Range": value})
        assert (response.status_code, response.text) == (400, text)
    response = client.get("/", headers={"Range": "bytes=2000-3000"})
    assert (response.status_code, response.content) == (416, b"")
    assert response.headers["content-range"] == "bytes */1000"


def test_multipart_byteranges_end_without_crlf(tmp_path, anyio_backend):
    path = tmp_path / "example.txt"
    path.write_bytes(b"0123456789" * 100)
    client = TestClient(FileResponse(path), backend=anyio_backend)
    response = client.get("/", headers={"Range": "bytes=0-9, 100-109"})
    assert response.status_code == 206
    boundary = response.headers["content-type"].split("boundary=")[1]
    assert response.content.endswith(f"\r\n--{boundary}--".encode())
    assert response.headers["content-length"] == str(len(response.content))


def test_a_file_that_shrank_is_shorter_than_expected(tmp_path, anyio_backend):
    path = tmp_path / "example.txt"
    path.write_bytes(b"x" * 10)
    stat_result = os.stat_result((*os.stat(path)[:6], 20, *os.stat(path)[7:]))
    client = TestClient(FileResponse(path, stat_result=stat_result), backend=anyio_backend)
    with pytest.raises(RuntimeError) as info:
        client.get("/", headers={"Range": "bytes=0-4, 15-19"})
    assert str(info.value) == f"File at path {path} is shorter than expected."


def test_session_cookie_attributes(anyio_backend):
    async def set_session(request):
        request.session["user"] = "alice"
        return JSONResponse({"ok": True})

    session_app = Starlette(
        routes=[Route("/", set_session)],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key="example",
                path="/app",
                https_only=True,
                domain="example.com",
                partitioned=True,
            )
        ],
    )
    response = TestClient(session_app, backend=anyio_backend).get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=")
    assert cookie.endswith(
        "; path=/app; Max-Age=1209600; httponly; samesite=lax; secure; "
        "domain=example.com; partitioned"
    )


def test_session_expires_with_a_negative_max_age(anyio_backend):
    async def update(request):
        request.session.update(await request.json())
        return JSONResponse({"session": request.session})

    async def view(request):
        return JSONResponse({"session": request.session})

    session_app = Starlette(
        routes=[Route("/update", update, methods=["POST"]), Route("/view", view)],
        middleware=[Middleware(SessionMiddleware, secret_key="example", max_age=-1)],
    )
    client = TestClient(session_app, backend=anyio_backend)
    response = client.post("/update", json={"some": "data"})
    assert response.json() == {"session": {"some": "data"}}
    expired = re.search(r"session=([^;]*);", response.headers["set-cookie"])
    assert expired is not None
    client = TestClient(session_app, backend=anyio_backend, cookies={"session": expired[1]})
    assert client.get("/view").json() == {"session": {}}


def test_session_pop_of_a_missing_key_marks_nothing():
    session = Session()
    assert session.pop("missing", None) is None
    assert (session.accessed, session.modified) == (False, False)


def test_request_messages(anyio_backend):
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(RuntimeError) as info:
        Request(scope).url_for("homepage")
    assert str(info.value) == (
        "The `url_for` method can only be used inside a Starlette application or with a router."
    )
    with pytest.raises(AssertionError) as info:
        Request(scope).session  # noqa: B018
    assert str(info.value) == "SessionMiddleware must be installed to access request.session"


async def test_send_early_hints_without_a_send_channel(anyio_backend):
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "extensions": {"http.response.early_hint": {}},
    }
    with pytest.raises(RuntimeError) as info:
        await Request(scope).send_early_hints("</style.css>; rel=preload")
    assert str(info.value) == "Send channel has not been made available"


async def test_stream_consumed(anyio_backend):
    async def receive():
        return {"type": "http.request", "body": b"data", "more_body": False}

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    assert [chunk async for chunk in request.stream()] == [b"data", b""]
    with pytest.raises(RuntimeError) as info:
        await request.body()
    assert str(info.value) == "Stream consumed"


def test_websocket_denial_without_the_extension(anyio_backend):
    async def deny(scope, receive, send):
        websocket = WebSocket(scope, receive, send)
        await websocket.send_denial_response(PlainTextResponse("no", status_code=403))

    scope = {"type": "websocket", "path": "/", "headers": [], "extensions": {}}
    with pytest.raises(RuntimeError) as info:
        anyio.run(deny, scope, None, None, backend=anyio_backend)
    assert str(info.value) == "The server doesn't support the Websocket Denial Response extension."


def test_duplicated_param_names():
    with pytest.raises(ValueError) as info:
        Route("/{id}/{name}/{id}/{name}", homepage)
    assert str(info.value) == "Duplicated param names id, name at path /{id}/{name}/{id}/{name}"


def test_handled_exception_after_the_response_started(anyio_backend):
    async def app_(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise HTTPException(status_code=406)

    client = TestClient(ExceptionMiddleware(app_), backend=anyio_backend)
    with pytest.raises(RuntimeError) as info:
        client.get("/")
    assert str(info.value) == "Caught handled exception, but response already started."
    assert isinstance(info.value.__cause__, HTTPException)


def test_request_body_limit_texts_and_scope_key(anyio_backend):
    seen = []

    async def read(request):
        seen.append(request.scope[MAX_BODY_SIZE_SCOPE_KEY])
        return PlainTextResponse(f"{len(await request.body())}")

    limited = RequestBodyLimitMiddleware(Router([Route("/", read, methods=["POST"])]), 10)
    client = TestClient(limited, backend=anyio_backend)
    response = client.post("/", content=b"x" * 11)
    assert (response.status_code, response.text) == (413, "Content Too Large")
    assert client.post("/", content=b"x" * 10).text == "10"
    assert seen == [10, 10]


async def test_a_response_does_not_need_the_method(anyio_backend):
    sent = []

    async def send(message):
        sent.append(message)

    await Response("hello")({"type": "http", "headers": []}, None, send)
    assert sent[1]["body"] == b"hello"


def test_deprecated_status_names_warn():
    with pytest.warns(StarletteDeprecationWarning) as record:
        assert status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413
    assert str(record[0].message) == (
        "'HTTP_413_REQUEST_ENTITY_TOO_LARGE' is deprecated. Use 'HTTP_413_CONTENT_TOO_LARGE' instead."
    )
    with pytest.raises(AttributeError):
        status.HTTP_999_UNKNOWN  # noqa: B018


def test_url_path_without_a_leading_slash():
    url = URL(scope={"scheme": "http", "server": ("testserver", 80), "path": "@google.com",
                     "query_string": b"", "headers": []})  # fmt: skip
    assert url.path == "/@google.com"
    assert URL(str(url)).path == url.path
    future = URL(scope={"scheme": "http", "server": ("testserver", 80), "path": "/",
                        "query_string": b"", "headers": [(b"host", b"[V1.x]")]})  # fmt: skip
    assert str(future) == "http://testserver/"


async def test_an_oserror_from_send_before_asgi_2_4_propagates(tmp_path, anyio_backend):
    path = tmp_path / "example.txt"
    path.write_bytes(b"x" * 10)

    async def send(message):
        if message["type"] == "http.response.body":
            raise OSError("broken pipe")

    async def receive():
        await anyio.sleep_forever()

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [],
             "asgi": {"version": "3.0", "spec_version": "2.3"}}  # fmt: skip
    with pytest.raises(OSError):
        await FileResponse(path)(scope, receive, send)


# --- the porting guide ---------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
GUIDE = REPO / "docs" / "porting-from-starlette.md"


def test_the_porting_guide_is_linked_from_the_readme():
    assert "(docs/porting-from-starlette.md)" in (REPO / "README.md").read_text()
    assert GUIDE.read_text().startswith("# Porting from Starlette\n")


def test_every_difference_in_the_porting_guide_has_its_four_cells():
    rows = [line for line in GUIDE.read_text().splitlines() if line.startswith("|")]
    tables: list[list[list[str]]] = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if set("".join(cells)) <= {"-"}:
            continue  # the header separator
        if cells[0] in ("Starlette", "What Starlette does"):
            tables.append([])
        tables[-1].append(cells)
    imports, *differences = tables
    assert all(len(cells) == 2 for cells in imports)
    rows_seen = [cells for table in differences for cells in table[1:]]
    assert len(rows_seen) > 50
    for cells in rows_seen:
        assert len(cells) == 4, cells
        assert all(cells), cells


# ----------------------------------------------------------------------------------------
# The same app through a real server: uvicorn on 127.0.0.1.
# ----------------------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parents[2] / "tools"))

from serving import StartFailed, free_port, http_answers, start  # noqa: E402


@dataclass
class Served:
    url: str
    log: Path

    def log_shows(self, text: str, deadline: float = 10.0) -> bool:
        # The server writes its log after the ASGI call ends: poll it, bounded.
        stop_at = time.monotonic() + deadline
        while text not in self.log.read_text(errors="replace"):
            if time.monotonic() > stop_at:
                return False
            time.sleep(0.05)  # polling interval, not synchronisation
        return True


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = free_port()
    log = tmp_path_factory.mktemp("porting") / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "test_porting:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--lifespan", "on"]
    server = start("uvicorn", command, log, port=port, cwd=TESTS, env={"PYTHONPATH": str(TESTS)})
    try:
        server.wait_until(lambda: http_answers(port, "/"), "answering")
        yield Served(server.url, log)
    except StartFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        server.stop()
    # The only exception the server may log is the declined card's.
    for logged in log.read_text(errors="replace").split("Traceback")[1:]:
        assert "CardDeclined: card declined for 500" in logged, logged


def test_served_http_routes(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/").text == "Hello, world!"
        assert http.get("/greeting").text == "Hello"
        assert http.get("/users/ada/links").json()["status"] == "http://api.example.org:3600/status"
        response = http.get("/status", headers={"host": "api.example.org:3600"})
        assert response.json()["url"] == "http://api.example.org:3600/status"
        response = http.get("/moved", follow_redirects=False)
        assert response.headers["location"] == "https://www.example.org:8443/moved"
        http.post("/login", data={"username": "ada"})
        assert http.get("/whoami").json() == {"user": "ada"}
        # uvicorn lowercases the capitalised header name the middleware sent.
        assert http.get("/framed").headers["x-frame-options"] == "DENY"
        assert http.get("/events/2026-11-30T09:15:00").json()["day"] == "2026-11-30"


def test_served_websockets(served: Served) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    ws_url = served.url.replace("http://", "ws://")
    with connect(ws_url + "/raw") as websocket:
        assert websocket.response.headers["x-ws-version"] == "2"
        websocket.send("text")
        assert websocket.recv() == "text"
        websocket.send(b"\x00bytes")
        assert websocket.recv() == b"\x00bytes"
    with connect(ws_url + "/private?token=s3cret") as websocket:
        assert websocket.recv() == '{"feed":"private"}'
    with connect(ws_url + "/handshake") as websocket:
        assert websocket.recv() == '{"connection":"Upgrade","upgrade":"websocket"}'
    with connect(ws_url + "/json?mode=yaml") as websocket:
        assert websocket.recv().startswith(
            'refused: The "mode" argument should be "text" or "binary"'
        )
    with connect(ws_url + "/hang-up") as websocket:
        websocket.send("bye")
        with pytest.raises(ConnectionClosed) as info:
            websocket.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "goodbye")


def test_served_decorated_websocket_refusal(served: Served) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    # Closed before accept: uvicorn answers the handshake with 403.
    with pytest.raises(InvalidStatus) as info:
        connect(served.url.replace("http://", "ws://") + "/private")
    assert info.value.response.status_code == 403


def test_served_background_task_failure_stops_the_rest(served: Served) -> None:
    response = httpx.post(served.url + "/checkout?amount=500", timeout=10)
    assert response.json() == {"status": "processing"}
    # The traceback is logged when that request's ASGI call has ended, so
    # every task it was going to run has run by then.  (uvicorn closes a
    # connection whose app raised: the next request uses a new one.)
    assert served.log_shows("CardDeclined: card declined for 500")
    outbox = httpx.get(served.url + "/outbox", timeout=10).json()
    assert "receipt for 500" not in outbox
