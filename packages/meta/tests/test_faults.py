"""Faults across the toolkit: what happens when the client, a task, a mounted
app or a session store misbehaves, and that nothing is left behind.

Each fault is driven against a flagstone `App`, either through the test
client or by calling the ASGI app directly with a scripted `receive`/`send`
(the way a server would), and each test checks that no file descriptor,
thread or task outlived it.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from flagstone import (
    App,
    BackgroundTasks,
    EventSourceResponse,
    JSONResponse,
    LifespanFailed,
    Middleware,
    Mount,
    PlainTextResponse,
    RedisStore,
    Request,
    Route,
    ServerSentEvent,
    SessionMiddleware,
    StreamingResponse,
    TestClient,
    WebSocket,
    WebSocketDisconnect,
    WebSocketRoute,
)

BOUND = 10.0  # seconds: every fault must resolve well within this, never hang

# --- leak accounting -------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    fds: int
    threads: int

    @classmethod
    def now(cls) -> Resources:
        return cls(fds=len(os.listdir("/proc/self/fd")), threads=threading.active_count())


def assert_nothing_leaked(before: Resources) -> None:
    """Open files and threads are back to `before` (idle worker threads may
    take a moment to be reaped, so poll with a deadline)."""
    deadline = time.monotonic() + BOUND
    while True:
        after = Resources.now()
        if after.fds <= before.fds and after.threads <= before.threads:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"leaked resources: before {before}, after {after}")
        time.sleep(0.05)  # polling with a deadline, not synchronising


def running_tasks() -> int:
    return len(anyio.get_running_tasks())


# --- a scripted ASGI conversation ---------------------------------------------------


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


async def call_app(
    app: Any, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any
) -> None:
    with anyio.fail_after(BOUND):
        await app(scope, receive, send)


# --- 1. client disconnect in the middle of an upload --------------------------------

BOUNDARY = b"faultboundary"


def partial_multipart(file_bytes: int) -> bytes:
    """The start of a multipart body whose file part never ends."""
    return (
        b"--" + BOUNDARY + b"\r\n"
        b'content-disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"content-type: application/octet-stream\r\n\r\n" + b"z" * file_bytes
    )


def upload_app(events: list[str]) -> App:
    async def upload(request: Request) -> JSONResponse:
        events.append("endpoint started")
        try:
            # A small spool, so the partial file has already rolled over to a
            # real temporary file (an open descriptor) when the client leaves.
            async with request.form(spool_max_size=1024, max_part_size=8 * 1024 * 1024) as form:
                return JSONResponse({"fields": len(form)})
        finally:
            events.append("endpoint finished")

    return App(routes=[Route("/upload", upload, methods=["POST"])])


async def upload_then_disconnect(
    app: App, chunks: int, fds_at_disconnect: list[int]
) -> list[dict[str, Any]]:
    headers = [(b"content-type", b"multipart/form-data; boundary=" + BOUNDARY)]
    scope = http_scope("POST", "/upload", headers)
    sent: list[dict[str, Any]] = []
    body = [partial_multipart(64 * 1024)] + [b"z" * (64 * 1024)] * (chunks - 1)

    async def receive() -> dict[str, Any]:
        if body:
            return {"type": "http.request", "body": body.pop(0), "more_body": True}
        fds_at_disconnect.append(Resources.now().fds)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # Unlike Starlette, the disconnect ends the request quietly: nothing
    # escapes for the server to log as an error; what was made is cleaned up.
    await call_app(app, scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_disconnect_mid_upload_closes_temp_files_and_ends_the_endpoint() -> None:
    events: list[str] = []
    app = upload_app(events)
    await upload_then_disconnect(app, 2, [])  # warm-up: lazy imports, worker threads
    before, tasks_before = Resources.now(), running_tasks()

    events.clear()
    fds_at_disconnect: list[int] = []
    sent = await upload_then_disconnect(app, 8, fds_at_disconnect)  # 512 KiB, then gone

    # The partial file was on disk (an extra descriptor) when the client left.
    assert fds_at_disconnect[0] > before.fds

    assert events == ["endpoint started", "endpoint finished"]
    # Nothing is answered to a client that left: no success, and no 500
    # either (a client going away is not a server error).
    assert [m for m in sent if m["type"] == "http.response.start"] == []
    assert running_tasks() == tasks_before
    assert_nothing_leaked(before)


# --- 2. client disconnect in the middle of a stream ---------------------------------


def streaming_app(state: dict[str, Any]) -> App:
    async def numbers() -> AsyncIterator[bytes]:
        try:
            for number in range(100_000):
                state["produced"] = number + 1
                yield b"%d\n" % number
        finally:
            state["closed_after"] = state["sent_chunks"]

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(numbers(), media_type="text/plain")

    return App(routes=[Route("/numbers", endpoint)])


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["http.disconnect", "failing send (spec 2.4)"])
async def test_disconnect_mid_stream_runs_the_iterators_finally_at_once(how: str) -> None:
    state: dict[str, Any] = {"sent_chunks": 0, "produced": 0}
    app = streaming_app(state)
    scope = http_scope("GET", "/numbers", [])
    if how.startswith("failing send"):
        scope["asgi"]["spec_version"] = "2.4"
    gone = anyio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] != "http.response.body":
            return
        if gone.is_set() and how.startswith("failing send"):
            raise OSError("connection reset by peer")  # what a 2.4 server raises
        state["sent_chunks"] += 1
        if state["sent_chunks"] == 10:
            gone.set()
        await anyio.lowlevel.checkpoint()

    before, tasks_before = Resources.now(), running_tasks()
    await call_app(app, scope, receive, send)

    assert "closed_after" in state, "the iterator's finally did not run"
    # At once: at most a chunk or two past the disconnect, not the 100,000.
    assert state["closed_after"] <= 12
    assert state["produced"] <= 13
    assert running_tasks() == tasks_before
    assert_nothing_leaked(before)


# --- 3. an exception in a background task -------------------------------------------


def failing_audit(user: str) -> None:
    raise ValueError(f"audit store rejected {user}")


def background_app(done: list[str]) -> App:
    async def endpoint(request: Request) -> JSONResponse:
        tasks = BackgroundTasks()
        tasks.add_task(done.append, "first")
        tasks.add_task(failing_audit, "ada")
        return JSONResponse({"ok": True}, background=tasks)

    return App(routes=[Route("/", endpoint)])


def test_background_task_failure_is_logged_and_raised_as_itself(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []
    before = Resources.now()
    client = TestClient(background_app(done), backend=anyio_backend)  # type: ignore[arg-type]
    failing = pytest.raises(ValueError, match="audit store rejected ada")
    with caplog.at_level(logging.ERROR, logger="flagstone.background"), client, failing:
        client.get("/")
    assert done == ["first"]
    failures = [r for r in caplog.records if r.name == "flagstone.background"]
    assert failures, "the failure was not logged"
    message = failures[0].getMessage()
    assert "test_faults.failing_audit" in message
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is ValueError
    assert_nothing_leaked(before)


def test_background_task_failure_does_not_change_the_sent_response(anyio_backend: str) -> None:
    done: list[str] = []
    client = TestClient(
        background_app(done),
        backend=anyio_backend,  # type: ignore[arg-type]
        raise_server_exceptions=False,
    )
    with client:
        response = client.get("/")
    # The response was complete before the task ran; the client got it whole.
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert done == ["first"]


# --- 4. a failing lifespan startup in a mounted app ---------------------------------


def test_failing_startup_of_a_mounted_app_fails_the_whole_startup(anyio_backend: str) -> None:
    stages: list[str] = []

    @asynccontextmanager
    async def outer_lifespan(app: App) -> AsyncIterator[None]:
        stages.append("outer started")
        try:
            yield
        finally:
            stages.append("outer stopped")

    @asynccontextmanager
    async def broken_lifespan(app: App) -> AsyncIterator[None]:
        raise RuntimeError("cannot reach the billing database at db:5432")
        yield  # pragma: no cover

    inner = App(
        routes=[Route("/", lambda request: PlainTextResponse("inner"))], lifespan=broken_lifespan
    )
    outer = App(routes=[Mount("/billing", app=inner)], lifespan=outer_lifespan)
    before = Resources.now()
    client = TestClient(outer, backend=anyio_backend)  # type: ignore[arg-type]
    expected = "cannot reach the billing database at db:5432"
    with pytest.raises(LifespanFailed, match=expected), client:
        pass  # pragma: no cover - startup must fail
    # The app that had started is shut down again: no half-started process.
    assert stages == ["outer started", "outer stopped"]
    assert_nothing_leaked(before)


# --- 5. Redis unavailable for RedisStore ---------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_app(port: int) -> App:
    async def endpoint(request: Request) -> JSONResponse:
        request.session["user"] = "ada"
        return JSONResponse({"ok": True})

    store = RedisStore(f"redis://:hunter2@127.0.0.1:{port}/0", timeout=1.0)
    middleware = [Middleware(SessionMiddleware, secret_key="k", store=store)]
    return App(routes=[Route("/", endpoint)], middleware=middleware)


def test_unreachable_redis_is_a_503_for_the_session_endpoint_only(anyio_backend: str) -> None:
    port = closed_port()
    app = session_app(port)
    app.add_route("/health", lambda request: PlainTextResponse("fine"))
    started = time.monotonic()
    client = TestClient(app, backend=anyio_backend)  # type: ignore[arg-type]
    with client:
        response = client.get("/")
        health = client.get("/health")
    assert time.monotonic() - started < BOUND
    assert response.status_code == 503
    assert "session store" in response.text
    assert f"127.0.0.1:{port}" not in response.text  # no internals for the client
    assert "retry-after" in response.headers
    assert "set-cookie" not in response.headers
    assert health.status_code == 200


def test_unreachable_redis_is_one_log_line_per_outage_not_a_hang(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    client = TestClient(session_app(port), backend=anyio_backend)  # type: ignore[arg-type]
    started = time.monotonic()
    with caplog.at_level(logging.ERROR), client:
        statuses = [client.get("/").status_code for _ in range(5)]
    assert time.monotonic() - started < BOUND
    assert statuses == [503] * 5
    # The store logs what failed and where (password redacted), once.
    logged = [r.getMessage() for r in caplog.records if r.name == "flagstone_sessions"]
    assert len(logged) == 1, logged
    assert f"127.0.0.1:{port}" in logged[0]
    assert "failed" in logged[0]
    assert not any("hunter2" in line for line in logged)


# --- 6. a slow client on a streaming response ---------------------------------------


CHUNKS = 500


@pytest.mark.anyio
async def test_slow_client_backpressures_a_streaming_response() -> None:
    counts = {"produced": 0, "consumed": 0, "max_ahead": 0}
    chunk = b"x" * 4096

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            counts["produced"] += 1
            ahead = counts["produced"] - counts["consumed"]
            counts["max_ahead"] = max(counts["max_ahead"], ahead)
            yield chunk

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app = App(routes=[Route("/download", endpoint)])
    # The "network": a zero-buffer channel between the app's send and a client
    # that reads one chunk at a time and does other work between reads.
    wire_send, wire_receive = anyio.create_memory_object_stream[dict[str, Any]](0)
    requested = False
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        await wire_send.send(message)

    async def slow_client() -> None:
        nonlocal received
        async with wire_receive:
            async for message in wire_receive:
                if message["type"] == "http.response.body":
                    received += len(message.get("body", b""))
                    counts["consumed"] += 1 if message.get("body") else 0
                    for _ in range(5):  # a slow reader: busy between reads
                        await anyio.lowlevel.checkpoint()
                    if not message.get("more_body", False):
                        return

    before, tasks_before = Resources.now(), running_tasks()
    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_client)
        async with wire_send:
            await call_app(app, http_scope("GET", "/download", []), receive, send)

    assert received == CHUNKS * len(chunk)
    # Backpressure: the app never ran more than a chunk or two ahead of the
    # reader, so memory held for this response stays bounded by the chunk size.
    assert counts["max_ahead"] <= 2
    assert running_tasks() == tasks_before
    assert_nothing_leaked(before)


# --- 7. regression: the demo's audit writes under load -------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def open_files_named(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            pass  # closed between listdir and readlink
    return count


@pytest.mark.anyio
async def test_demo_audit_writes_hold_at_most_one_open_file_per_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tools/load found the demo server holding thousands of open audit-log
    # descriptors (RSS x4.4 over 40,000 requests): each queued background
    # write held an open file between its thread hops.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    demo = importlib.import_module("flagstone_demo.app")
    audit_log = tmp_path / "audit.log"
    monkeypatch.setenv("FLAGSTONE_DEMO_AUDIT_LOG", str(audit_log))
    writers = 300
    threads = anyio.to_thread.current_default_thread_limiter().total_tokens
    most_open = 0
    finished = anyio.Event()

    async def sample() -> None:
        nonlocal most_open
        while not finished.is_set():
            most_open = max(most_open, open_files_named(audit_log))
            await anyio.lowlevel.checkpoint()

    async def write_all() -> None:
        async with anyio.create_task_group() as writers_group:
            for number in range(writers):
                writers_group.start_soon(demo.write_audit, "message", "ada", f"line {number}")
        finished.set()

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            tg.start_soon(write_all)

    assert len(audit_log.read_text().splitlines()) == writers
    assert most_open <= threads
    assert open_files_named(audit_log) == 0


# --- 6b. the same over a real socket: uvicorn and a slow reader ---------------------

UVICORN_CHUNK = 64 * 1024
UVICORN_CHUNKS = 512  # 32 MiB in all
# Socket buffers on loopback (up to net.ipv4.tcp_wmem max, 4 MiB here, plus
# what the reader's kernel holds) and uvicorn's 64 KiB write high-water mark:
# far below the 32 MiB an unthrottled producer would race ahead.
MAX_AHEAD = 12 * 1024 * 1024


@dataclass
class UvicornThread:
    server: Any
    thread: threading.Thread
    port: int


@pytest.fixture
def slow_stream_server() -> Any:
    import uvicorn

    counts = {"produced": 0, "finished": False}

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for _ in range(UVICORN_CHUNKS):
                counts["produced"] += UVICORN_CHUNK
                yield b"s" * UVICORN_CHUNK
        finally:
            counts["finished"] = True

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app = App(routes=[Route("/stream", endpoint)])
    port = closed_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + BOUND
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)  # polling until it listens
        yield port, counts
    finally:
        server.should_exit = True
        thread.join(timeout=BOUND)
        assert not thread.is_alive(), "uvicorn did not stop"


def test_slow_client_backpressures_a_stream_under_uvicorn(slow_stream_server: Any) -> None:
    port, counts = slow_stream_server
    consumed, most_ahead = 0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # A small receive window: the client is slower than the producer.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(BOUND)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        while data := sock.recv(16 * 1024):
            consumed += len(data)
            most_ahead = max(most_ahead, counts["produced"] - consumed)
    assert consumed > UVICORN_CHUNKS * UVICORN_CHUNK  # the whole body (plus framing)
    assert counts["finished"]
    assert most_ahead <= MAX_AHEAD, f"producer ran {most_ahead} bytes ahead of the reader"


# --- 8. disconnects through a real server: upload, SSE, WebSocket, a blocked sync stream ---
# Each app runs under uvicorn in a thread with its logging left to the root
# logger (log_config=None), so `caplog` sees what a production log would:
# a client going away must never be an ERROR there.


@contextmanager
def served(app: Any) -> Iterator[int]:
    """`app` under uvicorn (h11 and httptools alike: the default) on a free port."""
    import uvicorn

    port = closed_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), "uvicorn to start")
        assert thread.is_alive(), "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=BOUND)
        assert not thread.is_alive(), "uvicorn did not stop"


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll `check` with a deadline (polling, not a sleep to synchronise)."""
    deadline = time.monotonic() + BOUND
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def test_upload_abandoned_mid_body_logs_no_error_under_uvicorn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    app = upload_app(events)
    caplog.set_level(logging.INFO)
    with served(app) as port, socket.create_connection(("127.0.0.1", port), BOUND) as sock:
        body = partial_multipart(256 * 1024)
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: multipart/form-data; boundary=" + BOUNDARY + b"\r\n"
            b"content-length: 1048576\r\n\r\n" + body
        )
        wait_for(lambda: "endpoint started" in events, "the endpoint to start reading")
        sock.close()  # the client leaves with 3/4 of the body unsent
        wait_for(lambda: "endpoint finished" in events, "the endpoint to end")
    assert server_errors(caplog) == []


def test_sse_client_leaving_ends_the_stream_quietly_under_uvicorn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = {"sent": 0, "closed": False}

    async def ticks() -> AsyncIterator[ServerSentEvent]:
        try:
            while True:
                state["sent"] += 1
                yield ServerSentEvent(data=str(state["sent"]))
                await anyio.sleep(0.01)  # pacing the stream, not synchronising the test
        finally:
            state["closed"] = True

    async def events(request: Request) -> EventSourceResponse:
        return EventSourceResponse(ticks())

    caplog.set_level(logging.INFO)
    with served(App(routes=[Route("/events", events)])) as port:
        with socket.create_connection(("127.0.0.1", port), BOUND) as sock:
            sock.sendall(b"GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            received = b""
            while received.count(b"data:") < 3:
                received += sock.recv(4096)
        wait_for(lambda: state["closed"], "the event generator's finally")
        sent_at_close = state["sent"]
    assert b"200 OK" in received
    assert sent_at_close < 1000  # it stopped when the client left, not later
    assert server_errors(caplog) == []


def test_websocket_client_vanishing_is_not_a_server_error_under_uvicorn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from websockets.sync.client import connect

    seen: list[Any] = []

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass  # the documented way (the demo's chat too): the client left
        finally:
            seen.append(websocket.client_state)

    caplog.set_level(logging.INFO)
    with served(App(routes=[WebSocketRoute("/ws", echo)])) as port:
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=BOUND) as client:
            client.send("hi")
            assert client.recv(timeout=BOUND) == "hi"
            # Vanish without a close frame: a dropped connection.
            client.socket.shutdown(socket.SHUT_RDWR)
        wait_for(lambda: bool(seen), "the endpoint to see the disconnect")
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=BOUND) as client:
            client.send("still up")
            assert client.recv(timeout=BOUND) == "still up"
            client.close()  # an orderly close, too
        wait_for(lambda: len(seen) == 2, "the second endpoint to end")
    assert server_errors(caplog) == []


def test_sync_generator_blocked_in_its_thread_while_the_client_leaves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    state = {"finally": False, "blocked": False, "finished": False}

    def blocking_chunks() -> Iterator[bytes]:
        try:
            yield b"first chunk\n"
            state["blocked"] = True
            release.wait(BOUND)  # stuck in its worker thread (a slow query, say)
            yield b"second chunk\n"
            yield b"third chunk\n"
        finally:
            state["finally"] = True

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(blocking_chunks(), background=done)

    async def done() -> None:
        state["finished"] = True

    caplog.set_level(logging.INFO)
    threads_before = threading.active_count()
    with served(App(routes=[Route("/stream", endpoint)])) as port:
        with socket.create_connection(("127.0.0.1", port), BOUND) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            received = b""
            while b"first chunk" not in received:
                received += sock.recv(4096)
            wait_for(lambda: state["blocked"], "the generator to block")
        # The client is gone while the generator sits in its thread; a thread
        # cannot be interrupted, so the request ends as soon as it returns.
        release.set()
        wait_for(lambda: state["finally"], "the generator's finally")
    assert server_errors(caplog) == []
    # uvicorn's thread and the worker threads are gone again.
    wait_for(lambda: threading.active_count() <= threads_before + 1, "threads to be reaped")


# --- 9. an upload that stalls: 408 after the body idle timeout, files closed ----------


async def stalled_upload(app: App) -> list[dict[str, Any]]:
    """128 KiB of a file (past the 1 KiB spool: a real temporary file), then silence."""
    headers = [(b"content-type", b"multipart/form-data; boundary=" + BOUNDARY)]
    scope = http_scope("POST", "/upload", headers)
    body = [partial_multipart(64 * 1024), b"z" * (64 * 1024)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if body:
            return {"type": "http.request", "body": body.pop(0), "more_body": True}
        await anyio.sleep_forever()  # the client neither sends nor leaves
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await call_app(app, scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_stalled_upload_gets_408_and_its_files_are_closed() -> None:
    events: list[str] = []
    app = upload_app(events)
    app.body_idle_timeout = 0.2  # as App(body_idle_timeout=0.2)
    await stalled_upload(app)  # warm-up: lazy imports, worker threads
    before = Resources.now()

    events.clear()
    sent = await stalled_upload(app)
    assert events == ["endpoint started", "endpoint finished"]
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert b"body_idle_timeout" in sent[1]["body"]
    assert_nothing_leaked(before)
