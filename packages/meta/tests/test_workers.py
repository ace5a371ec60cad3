"""The demo under uvicorn with two worker processes: sessions hold across workers.

`tools/serve_demo.py --workers 2` is started for real on a free port.  The
client logs in once, then asks `/api/pid` many times, each on a fresh
connection (no keep-alive, so the kernel hands each to whichever worker
accepts it).  Every answer must still know the user, and at least two
distinct worker pids must have answered — with signed-cookie sessions (a
shared `FLAGSTONE_DEMO_SECRET`) and with a real Redis (`RedisStore`).  A
tampered cookie, seen by no worker, is the control.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVE_DEMO = ROOT / "tools" / "serve_demo.py"
MAX_REQUESTS = 200  # bounded: stop as soon as two pids answered, fail past this


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server on a free 127.0.0.1 port, stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; the multi-worker RedisStore test runs a real one. "
            "Install it with: sudo apt-get install redis-server",
            pytrace=False,
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not _redis_pong(port):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("redis-server did not start", pytrace=False)
            time.sleep(0.05)  # polling interval
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def launch(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(SERVE_DEMO), "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_until_both_workers_answer(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll fresh connections until two worker pids answered (workers start one by one)."""
    deadline = time.monotonic() + 45
    pids: set[int] = set()
    while len(pids) < 2:
        try:
            pids.add(httpx.get(url + "/api/pid", headers={"connection": "close"}).json()["pid"])
        except httpx.TransportError:
            time.sleep(0.05)  # polling interval, not synchronisation
        if time.monotonic() > deadline or process.poll() is not None:
            tail = log.read_text()[-3000:]
            pytest.fail(f"two demo workers did not answer ({pids}):\n{tail}", pytrace=False)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, str]]:
    """Two two-worker demos, started at once (startup dominates the run time).

    "cookie": signed-cookie sessions; "redis": RedisStore; both with a shared
    `FLAGSTONE_DEMO_SECRET` (without it each worker draws a random key and
    rejects the other's sessions).
    """
    logs = tmp_path_factory.mktemp("workers")
    shared = {"FLAGSTONE_DEMO_AUDIT_LOG": str(logs / "audit.log")}
    configs = {
        "cookie": {"FLAGSTONE_DEMO_SECRET": "shared-secret", "FLAGSTONE_DEMO_REDIS_URL": ""},
        "redis": {"FLAGSTONE_DEMO_SECRET": "shared-secret", "FLAGSTONE_DEMO_REDIS_URL": redis_url},
    }
    running: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, env in configs.items():
            running[name] = launch({**shared, **env}, logs / f"{name}.log")
        for name, (process, url) in running.items():
            wait_until_both_workers_answer(process, url, logs / f"{name}.log")
        yield {name: url for name, (_, url) in running.items()}
    finally:
        for process, _ in running.values():
            stop(process)


def log_in(url: str) -> dict[str, str]:
    response = httpx.post(
        url + "/login", data={"username": "ada", "password": "flagstone"}, timeout=10.0
    )
    assert response.status_code == 303, response.text
    return dict(response.cookies)


def ask_workers(url: str, cookies: dict[str, str]) -> list[tuple[int, str | None]]:
    """(pid, user) per answer, each on a fresh connection, until two pids answered.

    Four threads ask at once so one worker cannot serve every connection
    simply because it was always idle first.
    """
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def worker() -> None:
        headers = {"connection": "close"}
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(cookies=cookies, headers=headers, limits=limits, timeout=10.0) as http:
            while True:
                with lock:
                    pids = {pid for pid, _ in answers}
                    if (len(pids) >= 2 and len(answers) >= 30) or len(answers) >= MAX_REQUESTS:
                        return
                body = http.get(url + "/api/pid").json()
                with lock:
                    answers.append((body["pid"], body["user"]))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def assert_shared_sessions(url: str) -> None:
    cookies = log_in(url)
    answers = ask_workers(url, cookies)
    pids = {pid for pid, _ in answers}
    assert len(pids) >= 2, f"only one worker answered {len(answers)} requests"
    assert {user for _, user in answers} == {"ada"}


def test_two_workers_share_signed_cookie_sessions(demos: dict[str, str]) -> None:
    assert_shared_sessions(demos["cookie"])


def test_two_workers_share_redis_sessions(demos: dict[str, str]) -> None:
    url = demos["redis"]
    assert_shared_sessions(url)
    # The session lives in Redis: logging out on one worker ends it everywhere.
    cookies = log_in(url)
    logout = httpx.post(url + "/logout", cookies=cookies, timeout=10.0)
    assert logout.status_code == 303
    answers = ask_workers(url, cookies)
    assert len({pid for pid, _ in answers}) >= 2
    assert {user for _, user in answers} == {None}


def test_workers_reject_a_tampered_cookie(demos: dict[str, str]) -> None:
    # Control: the answers above see the user because the cookie is valid
    # everywhere, not because any cookie would do.
    url = demos["cookie"]
    cookies = log_in(url)
    name, value = next(iter(cookies.items()))
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    answers = ask_workers(url, {name: forged})
    assert len({pid for pid, _ in answers}) >= 2
    assert {user for _, user in answers} == {None}
