"""Shared fixtures: raw ASGI drivers, a tiny cookie jar, signed-cookie forgery, redis-server."""

from __future__ import annotations

import json
import sys
from base64 import b64encode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner

# tools/serving.py starts the real redis-server (shared with meta's tests and tools/).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import ServiceMissing, StartFailed, redis_server
from system_deps import require

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
            if any(
                a.lower() in ("max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt")
                for a in attributes
            ):
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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start redis-server on a free 127.0.0.1 port for this test session; stop it after."""
    require("redis-server")  # skipped here only if this machine cannot install it
    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as redis:
            yield f"redis://127.0.0.1:{redis.port}/0"
    except (ServiceMissing, StartFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
