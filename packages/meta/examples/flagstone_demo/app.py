"""The flagstone demo: a small but real application that uses every package.

- form login that stores the user in the session (`regenerate()` on login:
  the session-fixation defence), logout that clears it;
- a file upload with limits (one file, 1 MiB, answered 413/400 past them);
- a WebSocket chat room, and a server-sent-events feed of new messages, on
  flagstone-broadcast: they reach the clients of every worker process;
- an audit-log line written by a background task for every message (a
  response's `background=` for the JSON API, app-owned tasks for chat);
- a JSON API; `url_for` for every link in the HTML;
- pages rendered by `Jinja2Templates` (templates/), CSS and JavaScript served
  by `StaticFiles` (static/), mounted at `/static`.

Configuration (environment): `FLAGSTONE_DEMO_SECRET` (session key; a random
one per process by default, so set it when running several workers),
`FLAGSTONE_DEMO_REDIS_URL` (keep sessions in Redis instead of a cookie, and
carry chat between workers over Redis pub/sub instead of memory://),
`FLAGSTONE_DEMO_AUDIT_LOG` (audit log path; by default `audit.log` in a new
`flagstone-demo-*` directory under the temp dir, one per run, which
`tools/serve_demo.py` prints).
Serve it with `python -m hatch run demo:serve`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from flagstone import (
    App,
    AppTasks,
    AppTasksMiddleware,
    BackgroundTask,
    EventSourceResponse,
    HTTPException,
    Jinja2Templates,
    JSONResponse,
    Middleware,
    Mount,
    RedirectResponse,
    RedisStore,
    Request,
    Route,
    Session,
    SessionMiddleware,
    SessionStore,
    StaticFiles,
    TemplateResponse,
    WebSocket,
    WebSocketRoute,
    event_source_response,
    immutable_if_fingerprinted,
    websocket_relay,
)

from ._hub import CHANNEL, ChatMember, Hub

PASSWORD = "flagstone"
MAX_UPLOAD = 1024 * 1024
MAX_MESSAGE = 500
USERNAME = re.compile(r"[A-Za-z0-9_-]{1,32}")

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
uploads: list[dict[str, object]] = []
audit_tasks = AppTasks(max_concurrency=32, when_full="wait", shutdown_timeout=5.0)


def audit_log_path() -> Path:
    """Where audit lines go: `FLAGSTONE_DEMO_AUDIT_LOG`, else `audit.log` in a directory of this run.

    Not a fixed name in the shared temp dir: two users (or two runs) would
    write into one file, and on a multi-user machine someone else could own
    or link it first.  `tools/serve_demo.py` picks the directory once per run,
    so several workers share it, and prints the path.
    """
    configured = os.environ.get("FLAGSTONE_DEMO_AUDIT_LOG")
    return Path(configured) if configured else _run_directory() / "audit.log"


@functools.cache
def _run_directory() -> Path:
    # mkdtemp: a new directory only this user can enter (mode 0700).
    return Path(tempfile.mkdtemp(prefix="flagstone-demo-"))


async def write_audit(event: str, user: str, detail: str) -> None:
    """Append one JSON line to the audit log, off the event loop."""
    line = json.dumps({"at": time.time(), "event": event, "user": user, "detail": detail})
    # Open, write and close in ONE worker-thread call.  With anyio's async
    # file (a thread hop per open, write and close) each pending line held an
    # open file while it queued for the next hop; under load (tools/load) the
    # background writes fell behind and the server held thousands of open
    # descriptors and grew without bound.
    await anyio.to_thread.run_sync(append_line, audit_log_path(), line)


def append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def current_user(request: Request | WebSocket) -> str | None:
    user = request.session.get("user")
    return user if isinstance(user, str) else None


def require_user(request: Request) -> str:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "log in first")
    return user


async def home(request: Request) -> TemplateResponse:
    user = current_user(request)
    if user is None:
        return login_page(request)
    context = {"user": user, "max_upload": MAX_UPLOAD, "uploads": uploads}
    return templates.TemplateResponse(request, "home.html", context)


def login_page(request: Request, error: str = "", status_code: int = 200) -> TemplateResponse:
    return templates.TemplateResponse(
        request, "login.html", {"error": error}, status_code=status_code
    )


async def login(request: Request) -> TemplateResponse | RedirectResponse:
    async with request.form(max_fields=10, max_files=0) as form:
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text, and
    # the password is whatever the client sent.
    password_ok = secrets.compare_digest(
        password.encode("utf-8", "surrogatepass"), PASSWORD.encode()
    )
    if not USERNAME.fullmatch(username) or not password_ok:
        return login_page(request, "Unknown user name or wrong password.", status_code=400)
    # A new session id at the moment privilege changes: a session id planted
    # before login (fixation) is worthless afterwards.
    session = request.session
    if isinstance(session, Session):
        session.regenerate()
    session["user"] = username
    task = BackgroundTask(write_audit, "login", username, "")
    return RedirectResponse(request.url_for("home"), status_code=303, background=task)


async def logout(request: Request) -> RedirectResponse:
    user = current_user(request)
    request.session.clear()
    task = BackgroundTask(write_audit, "logout", user or "", "")
    return RedirectResponse(request.url_for("home"), status_code=303, background=task)


async def upload(request: Request) -> RedirectResponse:
    user = require_user(request)
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD) as form:
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise HTTPException(400, 'send one file in the "file" field')
        digest = hashlib.sha256()
        size = 0
        while chunk := await file.read(64 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise HTTPException(413, f"the file is larger than {MAX_UPLOAD} bytes")
            digest.update(chunk)
        record = {
            "filename": file.filename or "unnamed",
            "size": size,
            "sha256": digest.hexdigest(),
        }
    uploads.append(record)
    del uploads[:-20]
    task = BackgroundTask(write_audit, "upload", user, str(record["filename"]))
    return RedirectResponse(request.url_for("home"), status_code=303, background=task)


async def api_me(request: Request) -> JSONResponse:
    return JSONResponse({"user": current_user(request)})


async def api_pid(request: Request) -> JSONResponse:
    """Which worker process answered (shows a multi-worker server spreading load)."""
    return JSONResponse({"pid": os.getpid(), "user": current_user(request)})


def hub_of(connection: Request | WebSocket) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


async def api_messages(request: Request) -> JSONResponse:
    hub = hub_of(request)
    if request.method == "GET":
        return JSONResponse({"messages": list(hub.history)})
    user = require_user(request)
    payload = await request.json()
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
        raise HTTPException(422, f'send {{"text": "..."}} with 1 to {MAX_MESSAGE} characters')
    message = await hub.publish(user, text)
    task = BackgroundTask(write_audit, "message", user, text)
    return JSONResponse(message, status_code=201, background=task)


async def events(request: Request) -> EventSourceResponse:
    require_user(request)
    hub = hub_of(request)
    # Subscribed before it returns: a message posted once the response
    # started reaches this feed, from whichever worker it was posted on.
    return await event_source_response(
        hub.broadcast, CHANNEL, encode=hub.feed_event, ping_interval=10.0
    )


async def chat(websocket: WebSocket) -> None:
    user = current_user(websocket)
    if user is None:
        # Accept, then close: a close before accept is a bare HTTP 403 that
        # drops the code and reason, and a browser sees only "1006 failed".
        # Closing an open socket tells the client why (1008 policy violation).
        await websocket.accept()
        await websocket.close(code=1008, reason="log in first")
        return
    await websocket.accept()
    hub = hub_of(websocket)
    member = ChatMember(websocket)

    async def said(text: str) -> None:
        text = text.strip()[:MAX_MESSAGE]
        if text:
            message = await hub.publish(user, text)
            try:
                # The request is a long-lived socket: audit writes go to the
                # app-owned task group instead of waiting for a response.
                await audit_tasks.spawn(write_audit, "chat", user, text)
            except Exception:
                # Served without lifespan (daphne) the task group never
                # started: fail loudly (1011), once the sender saw its message.
                await member.wait_sent(message["id"])
                raise

    await websocket_relay(member, hub.broadcast, CHANNEL, on_receive=said)


def session_store() -> SessionStore | None:
    # No Redis: the session lives in the signed cookie itself (store=None),
    # so any worker holding FLAGSTONE_DEMO_SECRET can read it.  A MemoryStore
    # here would tie each session to the one process that created it.
    url = os.environ.get("FLAGSTONE_DEMO_REDIS_URL")
    return RedisStore(url) if url else None


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    audit_log_path().touch()
    hub: Hub = app.state.hub
    async with hub.running():
        yield


def create_app() -> App:
    """Build the demo app (a function, so tests get fresh configuration)."""
    secret = os.environ.get("FLAGSTONE_DEMO_SECRET") or secrets.token_urlsafe(32)
    routes = [
        Route("/", home, name="home"),
        Route("/login", login, methods=["POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/upload", upload, methods=["POST"], name="upload", max_body_size=2 * MAX_UPLOAD),
        Route("/api/me", api_me, name="api_me"),
        Route("/api/pid", api_pid, name="api_pid"),
        Route("/api/messages", api_messages, methods=["GET", "POST"], name="api_messages"),
        Route("/events", events, name="events"),
        WebSocketRoute("/ws/chat", chat, name="chat"),
        # no-cache for these unfingerprinted names: browsers revalidate (a 304).
        Mount(
            "/static",
            StaticFiles(directory=HERE / "static", cache_control=immutable_if_fingerprinted),
            name="static",
        ),
    ]
    middleware = [
        Middleware(AppTasksMiddleware, audit_tasks),
        Middleware(SessionMiddleware, secret_key=secret, store=session_store()),
    ]
    app = App(routes=routes, middleware=middleware, lifespan=lifespan, max_body_size=64 * 1024)
    app.state.hub = Hub(os.environ.get("FLAGSTONE_DEMO_REDIS_URL") or None)
    return app


app = create_app()
