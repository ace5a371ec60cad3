"""Shared fixtures: raw ASGI drivers, a tiny cookie jar, signed-cookie forgery, redis-server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from base64 import b64encode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from itsdangerous import TimestampSigner

Action = Callable[[Any], Any]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k.decode().lower() == name]

    @property
    def set_cookies(self) -> list[str]:
        return self.header_values("set-cookie")

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def session_app(actions: dict[str, Action]) -> Any:
    """A raw ASGI app: path -> action(session); the action's result is the JSON body."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        result = actions[scope["path"]](scope["session"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(result).encode()})

    return app


async def call_http(app: Any, path: str = "/", cookie: str | None = None) -> Response:
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return Response(start["status"], list(start.get("headers", [])), body)


@dataclass
class Jar:
    """Keeps one browser's cookies across requests (enough of RFC 6265 for these tests)."""

    app: Any
    cookies: dict[str, str] = field(default_factory=dict)

    async def get(self, path: str = "/") -> Response:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items()) or None
        response = await call_http(self.app, path, header)
        self.absorb(response.set_cookies)
        return response

    def absorb(self, set_cookies: list[str]) -> None:
        for set_cookie in set_cookies:
            pair, *attributes = set_cookie.split("; ")
            name, _, value = pair.partition("=")
            if any(a.lower() == "max-age=0" for a in attributes):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value


async def call_websocket(
    app: Any, cookie: str | None = None, incoming: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Run a websocket connection; return every message the app sent."""
    headers = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    queue = [{"type": "websocket.connect"}, *(incoming or [])]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def forge_cookie(
    data: Any,
    key: str | bytes = "secret",
    *,
    age: int = 0,
    raw_payload: bytes | None = None,
    salt: bytes | None = None,
) -> str:
    """A cookie in Starlette's format, signed `age` seconds ago (raw_payload: sign anything)."""
    now = TimestampSigner("x").get_timestamp()

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return now - age

    signer = PastSigner(key) if salt is None else PastSigner(key, salt=salt)
    payload = raw_payload if raw_payload is not None else b64encode(json.dumps(data).encode())
    return signer.sign(payload).decode()


def tamper(signed: str) -> str:
    """Change one fully significant character of the signature (not the last one,
    whose low bits base64 ignores, so changing it may keep the signature valid)."""
    index = len(signed) - 5
    replacement = "A" if signed[index] != "A" else "B"
    return signed[:index] + replacement + signed[index + 1 :]


@pytest.fixture
def helpers() -> Any:
    """The helpers above, for test modules (which cannot import conftest)."""

    class Helpers:
        Jar = Jar
        Response = Response
        session_app = staticmethod(session_app)
        call_http = staticmethod(call_http)
        call_websocket = staticmethod(call_websocket)
        forge_cookie = staticmethod(forge_cookie)
        tamper = staticmethod(tamper)

    return Helpers


# -- a real redis-server -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Start redis-server on a free 127.0.0.1 port for this test session; stop it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; the RedisStore tests run a real one. "
            "Install it with: sudo apt-get install redis-server",
            pytrace=False,
        )
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Wait for the readiness line, not a sleep; the timer kills a server that
    # hangs silently so readline() cannot block forever.
    watchdog = threading.Timer(15, process.kill)
    watchdog.start()
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Ready to accept connections" in line:
                break
    finally:
        watchdog.cancel()
    if not _ping(port):
        process.kill()
        pytest.fail("redis-server did not start:\n" + "".join(output[-20:]), pytrace=False)
    # Keep draining its output so a full pipe never blocks the server.
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
