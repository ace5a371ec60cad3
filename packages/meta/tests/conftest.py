import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- demo server over a real socket (test_demo_e2e.py, test_demo_browser.py) ------------
# One uvicorn subprocess per test module serves the demo exactly as
# `python tools/serve_demo.py` does; tests reach it only through 127.0.0.1.

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
DEMO_SECRET = "e2e-fixed-secret-for-the-demo-tests"
DEMO_START_DEADLINE = 45.0


@dataclass(frozen=True)
class DemoServer:
    url: str
    audit_log: Path
    output: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_listening(url: str, process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + DEMO_START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo server exited early:\n{output.read_text()}")
        try:
            httpx.get(url + "/api/me", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)  # polling for "listening", not synchronising a test
    raise RuntimeError(
        f"the demo server did not answer within {DEMO_START_DEADLINE} s:\n{output.read_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _serve_demo(tmp: Path, extra_env: dict[str, str]) -> Iterator[DemoServer]:
    audit_log, output = tmp / "audit.log", tmp / "server.log"
    port = _free_port()
    env = {
        **os.environ,
        "FLAGSTONE_DEMO_SECRET": DEMO_SECRET,
        "FLAGSTONE_DEMO_AUDIT_LOG": str(audit_log),
        "FLAGSTONE_DEMO_REDIS_URL": "",
        **extra_env,
    }
    command = [sys.executable, "tools/serve_demo.py", "--port", str(port)]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_listening(url, process, output)
        yield DemoServer(url=url, audit_log=audit_log, output=output)
    finally:
        _stop(process)
    # An exception in a WebSocket handler or a background task never reaches
    # a client; the server's log is the only place it shows.
    log = output.read_text(errors="replace")
    if "Traceback" in log:
        pytest.fail(f"the demo server logged an exception:\n{log}")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo served by uvicorn via tools/serve_demo.py: signed-cookie sessions."""
    yield from _serve_demo(tmp_path_factory.mktemp("demo"), {})


@pytest.fixture(scope="module")
def demo_redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free 127.0.0.1 port (no persistence)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run `apt-get install redis-server` (as root)")
    port = _free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DEMO_START_DEADLINE
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)  # polling for "listening", not synchronising a test
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def demo_store_server(
    tmp_path_factory: pytest.TempPathFactory, demo_redis_url: str
) -> Iterator[DemoServer]:
    """The demo with server-side sessions in Redis (FLAGSTONE_DEMO_REDIS_URL)."""
    tmp = tmp_path_factory.mktemp("demo-redis")
    yield from _serve_demo(tmp, {"FLAGSTONE_DEMO_REDIS_URL": demo_redis_url})


@pytest.fixture
def demo_url(demo_server: DemoServer) -> str:
    return demo_server.url


@pytest.fixture
def demo_audit_log(demo_server: DemoServer) -> Path:
    return demo_server.audit_log


# --- end of the demo server block -------------------------------------------------------
