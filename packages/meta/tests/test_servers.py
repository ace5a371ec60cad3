"""Flagstone under real ASGI servers: uvicorn, hypercorn, granian and daphne.

Each server is started for real (a subprocess on a free 127.0.0.1 port,
waited for until it answers, always stopped) and the same smoke suite runs
against it: `servers_smoke_app.py` for the HTTP/WebSocket basics, then the
demo app (login, /api/me, chat echo).  Servers differ in the ASGI spec
version they speak, the extensions they offer (granian: pathsend), how they
report a client disconnect and how they refuse a WebSocket; the tests assert
flagstone behaves the same under all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import Served, StartFailed, free_port, http_answers, start
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"
BIN = Path(sys.executable).parent


def _command(name: str, module: str, port: int) -> list[str]:
    if name == "uvicorn":
        return [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)]
    if name == "hypercorn":
        return [_binary("hypercorn"), "-b", f"127.0.0.1:{port}", module]
    if name == "granian":
        return [
            _binary("granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            module,
        ]
    if name == "daphne":
        return [_binary("daphne"), "-b", "127.0.0.1", "-p", str(port), module]
    raise AssertionError(name)


SERVERS = ["uvicorn", "hypercorn", "granian", "daphne"]


def _binary(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(
            f"{name} is not installed; these tests run it for real. "
            f"Install it into the dev env: hatch run pip install {name}",
            pytrace=False,
        )
    return on_path


def wait_until_answering(server: Served, path: str = "/", deadline: float = 30.0) -> None:
    """Poll (with a deadline) until the server answers HTTP; fail with its log."""
    try:
        server.wait_until(lambda: http_answers(server.port, path), "answering HTTP", deadline)
    except StartFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def log_shows(server: Served, text: str, deadline: float = 10.0) -> bool:
    """Poll the server's log (written after the response) until `text` appears."""
    stop_at = time.monotonic() + deadline
    while time.monotonic() < stop_at:
        if text in server.log_tail(size=1_000_000):
            return True
        time.sleep(0.05)  # polling interval
    return False


@pytest.fixture(scope="module")
def smoke_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("smoke") / "payload.bin"
    path.write_bytes(bytes(range(256)) * 1200 + b"end")  # ~300 KB, not a chunk multiple
    return path


def launch(name: str, module: str, cwd: Path, env: dict[str, str], log: Path) -> Served:
    port = free_port()
    return start(
        name,
        _command(name, module, port),
        log,
        port=port,
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), **env},
    )


@pytest.fixture(scope="module")
def servers(
    smoke_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], Served]]:
    """Every server with the smoke app and with the demo, all started at once.

    Start-up (importing the app in a fresh interpreter) dominates the run
    time; starting the eight processes together overlaps it.
    """
    logs = tmp_path_factory.mktemp("logs")
    apps = {
        "smoke": ("servers_smoke_app:app", TESTS, {"SERVERS_SMOKE_FILE": str(smoke_file)}),
        "demo": (
            "flagstone_demo.app:app",
            EXAMPLES,
            {
                "FLAGSTONE_DEMO_SECRET": "servers-test-secret",
                "FLAGSTONE_DEMO_AUDIT_LOG": str(logs / "audit.log"),
                "FLAGSTONE_DEMO_REDIS_URL": "",
            },
        ),
    }
    running: dict[tuple[str, str], Served] = {}
    try:
        for app_name, (module, cwd, env) in apps.items():
            for name in SERVERS:
                log = logs / f"{app_name}-{name}.log"
                running[app_name, name] = launch(name, module, cwd, env, log)
        for server in running.values():
            wait_until_answering(server)
        yield running
    finally:
        for server in running.values():
            server.stop()


@pytest.fixture(params=SERVERS)
def smoke(request: pytest.FixtureRequest, servers: dict[tuple[str, str], Served]) -> Served:
    return servers["smoke", request.param]


@pytest.fixture(params=SERVERS)
def demo(request: pytest.FixtureRequest, servers: dict[tuple[str, str], Served]) -> Served:
    return servers["demo", request.param]


@pytest.fixture
def client(smoke: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=smoke.url, timeout=10.0) as http:
        yield http


# -- HTTP ----------------------------------------------------------------------


def test_hello(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "hello, world"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "12"


def test_json(client: httpx.Client) -> None:
    response = client.get("/json")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True, "unicode": "flagstone ✓"}


def test_path_and_query_params(client: httpx.Client) -> None:
    response = client.get("/items/42", params=[("q", "a b"), ("q", "é"), ("limit", "5")])
    assert response.json() == {"item_id": 42, "q": ["a b", "é"], "limit": "5"}
    assert client.get("/items/not-a-number").status_code == 404


def test_post_body_echo(client: httpx.Client) -> None:
    body = os.urandom(200_000)
    response = client.post("/echo", content=body, headers={"content-type": "application/x-test"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-test"
    assert response.content == body


def test_chunked_request_body_echo(client: httpx.Client) -> None:
    def parts() -> Iterator[bytes]:
        for index in range(8):
            yield bytes([index]) * 10_000

    response = client.post("/echo", content=parts())
    assert response.content == b"".join(parts())


def test_multipart_upload(client: httpx.Client) -> None:
    data = os.urandom(300_000)
    response = client.post(
        "/upload",
        files={"file": ("blob.bin", data, "application/octet-stream")},
        data={"note": "hi"},
    )
    assert response.json() == {
        "filename": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "hi",
    }


def test_streaming_one_mebibyte(client: httpx.Client) -> None:
    received = bytearray()
    with client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        for chunk in response.iter_bytes():
            received += chunk
    expected = b"".join(bytes([index]) * 64 * 1024 for index in range(16))
    assert len(received) == 1024 * 1024
    assert received == expected


def test_server_sent_events(client: httpx.Client) -> None:
    with client.stream("GET", "/sse") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = [block for block in response.read().decode().split("\n\n") if block]
    assert events == [f'id: {n}\nevent: tick\ndata: {{"n":{n}}}' for n in range(3)]


def test_head_has_headers_but_no_body(client: httpx.Client) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "12"
    assert response.content == b""


def test_head_of_a_file_has_no_body(client: httpx.Client, smoke_file: Path) -> None:
    response = client.head("/file")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(smoke_file.stat().st_size)
    assert response.content == b""


def test_404_and_405(client: httpx.Client) -> None:
    assert client.get("/nowhere").status_code == 404
    response = client.post("/")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_exception_becomes_500_and_server_keeps_serving(client: httpx.Client) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert "boom on purpose" not in response.text  # no traceback leaks without debug
    assert client.get("/").status_code == 200


def test_lifespan_state_reaches_requests(smoke: Served, client: httpx.Client) -> None:
    response = client.get("/state")
    if smoke.name != "daphne":
        assert response.json() == {"started": True, "name": "smoke"}
        return
    # Daphne has no lifespan protocol: no state reaches requests, and the
    # error the server logs says why instead of a bare AttributeError.
    assert response.status_code == 500
    assert log_shows(smoke, 'the server sent no scope["state"]')


def test_file_response_with_pathsend_when_offered(client: httpx.Client, smoke_file: Path) -> None:
    before = client.get("/info").json()["counters"]["pathsend"]
    response = client.get("/file")
    assert response.status_code == 200
    assert response.content == smoke_file.read_bytes()
    assert response.headers["content-length"] == str(smoke_file.stat().st_size)
    assert "etag" in response.headers
    assert "last-modified" in response.headers
    info = client.get("/info").json()
    offered = "http.response.pathsend" in info["scope"]["extensions"]
    sent = info["counters"]["pathsend"] - before
    assert sent == (1 if offered else 0)


def test_granian_offers_pathsend(smoke: Served, client: httpx.Client) -> None:
    client.get("/")
    extensions = client.get("/info").json()["scope"]["extensions"]
    assert ("http.response.pathsend" in extensions) == (smoke.name == "granian")


def test_file_range_request(client: httpx.Client, smoke_file: Path) -> None:
    response = client.get("/file", headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == smoke_file.read_bytes()[10:20]


def test_client_disconnect_ends_endless_stream(smoke: Served) -> None:
    with httpx.Client(base_url=smoke.url, timeout=10.0) as http:
        start_counts = http.get("/info").json()["counters"]
        with http.stream("GET", "/endless") as response:
            assert next(response.iter_raw()).startswith(b"tick")
        # Leaving the block closes the connection; the app must notice and
        # stop its generator (its `finally` counts the end).
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=smoke.url, timeout=10.0) as http:
        while time.monotonic() < deadline:
            counts = http.get("/info").json()["counters"]
            if counts["endless_ended"] > start_counts["endless_ended"]:
                break
            time.sleep(0.05)  # polling interval
    assert counts["endless_started"] == start_counts["endless_started"] + 1
    assert counts["endless_ended"] == start_counts["endless_ended"] + 1


# -- WebSocket -----------------------------------------------------------------


def test_websocket_echo_and_close_code(smoke: Served) -> None:
    with connect(smoke.ws_url + "/ws/echo", open_timeout=10, close_timeout=5) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "echo:hello"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"echo:\x00\x01"
        ws.send("close")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001


def test_websocket_client_close_is_clean(smoke: Served, client: httpx.Client) -> None:
    with connect(smoke.ws_url + "/ws/echo", open_timeout=10, close_timeout=5) as ws:
        ws.send("x")
        assert ws.recv(timeout=10) == "echo:x"
    assert client.get("/").status_code == 200


def test_websocket_denied_before_accept(smoke: Served) -> None:
    with pytest.raises(InvalidStatus) as denied:
        connect(smoke.ws_url + "/ws/deny", open_timeout=10)
    assert denied.value.response.status_code == 403


def test_websocket_to_unknown_path_is_refused(smoke: Served) -> None:
    with pytest.raises(InvalidStatus) as denied:
        connect(smoke.ws_url + "/ws/nowhere", open_timeout=10)
    assert denied.value.response.status_code in (403, 404)


# -- the demo app --------------------------------------------------------------


def _login(http: httpx.Client, user: str) -> str:
    response = http.post("/login", data={"username": user, "password": "flagstone"})
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    return cookie


def test_demo_login_me_and_chat(demo: Served) -> None:
    with httpx.Client(base_url=demo.url, timeout=10.0) as http:
        assert http.get("/api/me").json() == {"user": None}
        cookie = _login(http, "ada")
        assert http.get("/api/me").json() == {"user": "ada"}
        with connect(
            demo.ws_url + "/ws/chat", additional_headers={"cookie": cookie}, open_timeout=10
        ) as ws:
            # A message posted through the JSON API reaches the socket.
            posted = http.post("/api/messages", json={"text": "via api"})
            assert posted.status_code == 201
            assert json.loads(ws.recv(timeout=10))["text"] == "via api"
            ws.send("hello from " + demo.name)
            message = json.loads(ws.recv(timeout=10))
            assert message["user"] == "ada"
            assert message["text"] == "hello from " + demo.name
            assert set(message) == {"id", "user", "text", "at"}
            if demo.name == "daphne":
                # No lifespan under daphne, so the app-owned audit tasks never
                # started: the chat loop fails loudly (1011) with the reason.
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=10)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1011
                assert log_shows(demo, "AppTasks is not running")
                return
            ws.send("second")
            assert json.loads(ws.recv(timeout=10))["text"] == "second"


def test_demo_chat_refuses_anonymous(demo: Served) -> None:
    # The demo accepts, then closes with 1008 and a reason the browser can show.
    with (
        connect(demo.ws_url + "/ws/chat", open_timeout=10) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    if demo.name == "daphne":
        # Daphne (autobahn) lets an app close only with 1000 or 3000-4999:
        # the 1008 is refused and the server closes with 1011 instead.
        assert closed.value.rcvd.code == 1011
        assert log_shows(demo, "invalid close code 1008")
        return
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "log in first")


def test_demo_logout_ends_session(demo: Served) -> None:
    with httpx.Client(base_url=demo.url, timeout=10.0) as http:
        _login(http, "grace")
        assert http.get("/api/me").json() == {"user": "grace"}
        assert http.post("/logout").status_code == 303
        assert http.get("/api/me").json() == {"user": None}
        assert http.get("/events").status_code == 401
