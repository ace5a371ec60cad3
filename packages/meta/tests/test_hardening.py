"""Issue 27 through a whole App: in-process on both backends, and through uvicorn.

No absolute URL is built from a `Host` the application did not allow
(HTTPS redirects, `requires`' login redirect, templates' `url_for`), and a
middleware misconfiguration fails the startup with the user's error instead
of starting and answering 500 to every request.  The apps are in
hardening_app.py, which uvicorn imports.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagstone import (
    App,
    AsyncTestClient,
    CompressionMiddleware,
    GZipMiddleware,
    HTMLResponse,
    Middleware,
    Request,
    Route,
    SessionMiddleware,
    TestClient,
)

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parents[2] / "tools"))
sys.path.insert(0, str(TESTS))  # hardening_app, the module uvicorn serves

from hardening_app import app as hardening_app  # noqa: E402
from hardening_app import login  # noqa: E402
from serving import StartFailed, free_port, http_answers, start  # noqa: E402

# (target, Host header) -> (status, Location or body).  evil.com is the attacker's.
CASES = [
    # Nothing configured: Starlette's redirect, with a warning in the log
    # (a ported app keeps working; configure a host to close this).
    pytest.param(
        "/alone/x", "example.com", 307, "https://example.com/alone/x",
        id="https-redirect-alone-as-starlette",
    ),
    pytest.param("/trusted/x", "evil.com", 400, None, id="trusted-host-refuses"),
    pytest.param(
        "/trusted/x?q=1", "example.com", 307, "https://example.com/trusted/x?q=1",
        id="trusted-host-allows",
    ),
    pytest.param(
        "/canonical/x", "evil.com", 307, "https://example.com/canonical/x", id="canonical-host"
    ),
    pytest.param("/private", "evil.com", 303, "/login?next=%2Fprivate", id="requires-relative"),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(("target", "host", "status", "location"), CASES)
async def test_no_absolute_url_from_an_unallowed_host_in_process(
    target: str, host: str, status: int, location: str | None
) -> None:
    async with AsyncTestClient(hardening_app, follow_redirects=False) as client:
        response = await client.get(target, headers={"host": host})
    assert response.status_code == status
    assert response.headers.get("location") == location


@pytest.mark.anyio
async def test_template_url_for_uses_the_configured_base_url_in_process() -> None:
    async with AsyncTestClient(hardening_app) as client:
        response = await client.get("/page", headers={"host": "evil.com"})
    assert response.text == "https://example.com/login"


# --- startup fails on a middleware misconfiguration -------------------------------------


def test_a_middleware_that_cannot_be_built_fails_with_test_client() -> None:
    app = App(routes=[Route("/login", login)], middleware=[Middleware(SessionMiddleware)])
    with pytest.raises(TypeError, match="secret_key"), TestClient(app):
        pass  # pragma: no cover - never entered


class ConfigurationError(Exception):
    pass


class StrictMiddleware:
    """Checks its configuration on the first call, lifespan included (starlette-context does)."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        raise ConfigurationError("StrictMiddleware needs a plugin list")


@pytest.mark.anyio
async def test_a_middleware_that_raises_on_the_lifespan_call_fails_startup() -> None:
    app = App(middleware=[Middleware(StrictMiddleware)])
    with pytest.raises(ConfigurationError, match="plugin list"):
        async with AsyncTestClient(app):
            pass  # pragma: no cover - never entered


@pytest.mark.anyio
async def test_the_app_answers_startup_failed_with_the_traceback() -> None:
    # What a server sees: one `lifespan.startup.failed` carrying the user's error.
    app = App(middleware=[Middleware(SessionMiddleware)])
    sent: list[dict[str, object]] = []
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with pytest.raises(TypeError, match="secret_key"):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)  # type: ignore[arg-type]
    [failed] = sent
    assert failed["type"] == "lifespan.startup.failed"
    assert "secret_key" in str(failed["message"])
    assert "Traceback" in str(failed["message"])


# --- through uvicorn ---------------------------------------------------------------------


def _uvicorn(target: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("hardening") / "uvicorn.log"
    server = start(
        "uvicorn", _uvicorn("hardening_app:app", port), log, port=port, cwd=TESTS,
        env={"PYTHONPATH": str(TESTS)},
    )  # fmt: skip
    try:
        server.wait_until(lambda: http_answers(port, "/login"), "answering")
        yield port
    except StartFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        server.stop()
    assert "Traceback" not in log.read_text(errors="replace")


def _raw_get(port: int, target: str, host: str) -> tuple[int, dict[str, str], bytes]:
    """One request exactly as written, Host included (no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(("target", "host", "status", "location"), CASES)
def test_no_absolute_url_from_an_unallowed_host_through_uvicorn(
    served: int, target: str, host: str, status: int, location: str | None
) -> None:
    got_status, headers, _ = _raw_get(served, target, host)
    assert (got_status, headers.get("location")) == (status, location)


def test_template_url_for_uses_the_configured_base_url_through_uvicorn(served: int) -> None:
    status, _, body = _raw_get(served, "/page", "evil.com")
    assert (status, body) == (200, b"https://example.com/login")


def test_a_misconfigured_middleware_stops_uvicorn_at_startup(tmp_path: Path) -> None:
    # Before: "ASGI 'lifespan' protocol appears unsupported", "Application
    # startup complete", then a 500 for every request.
    port = free_port()
    log_file = tmp_path / "uvicorn.log"
    server = start(
        "uvicorn", _uvicorn("hardening_app:broken", port), log_file, port=port, cwd=TESTS,
        env={"PYTHONPATH": str(TESTS)},
    )  # fmt: skip
    try:
        server.wait_until(
            lambda: server.process.poll() is not None or http_answers(port, "/login"),
            "exiting or answering",
        )
        returncode = server.process.wait(timeout=10)
    finally:
        server.stop()
    log = log_file.read_text(errors="replace")
    assert returncode != 0, log
    assert "Application startup failed" in log, log
    assert "secret_key" in log, log
    assert "appears unsupported" not in log, log
    assert "Application startup complete" not in log, log


# --- BREACH: a route opts out of compression --------------------------------------------


class NoTransform:
    """The route middleware the middleware README describes: `Cache-Control: no-transform`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_no_transform(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"no-transform"),
                ]
            await send(message)

        await self.app(scope, receive, send_no_transform)


async def _secret_page(request: Request) -> HTMLResponse:
    # A secret and reflected input in one compressed body: what BREACH needs.
    return HTMLResponse(f"token=s3cr3t search={request.query_params.get('q', '')} " * 50)


@pytest.mark.anyio
@pytest.mark.parametrize("compression", [GZipMiddleware, CompressionMiddleware])
async def test_a_route_opts_out_of_compression_with_no_transform(compression: type) -> None:
    app = App(
        routes=[
            Route("/account", _secret_page, middleware=[Middleware(NoTransform)]),
            Route("/public", _secret_page),
        ],
        middleware=[Middleware(compression)],
    )
    async with AsyncTestClient(app) as client:
        account = await client.get("/account?q=token=s", headers={"accept-encoding": "gzip"})
        public = await client.get("/public?q=token=s", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in account.headers
    assert account.headers["cache-control"] == "no-transform"
    assert public.headers["content-encoding"] == "gzip"
