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

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import Served, StartFailed, free_port, start

ROOT = Path(__file__).resolve().parents[3]
SERVE_DEMO = ROOT / "tools" / "serve_demo.py"
MAX_REQUESTS = 200  # bounded: stop as soon as two pids answered, fail past this


@pytest.fixture(scope="module")
def redis_url(demo_redis_url: str) -> str:
    """A real redis-server on a free 127.0.0.1 port (conftest's), stopped afterwards."""
    return demo_redis_url


def launch(env: dict[str, str], log: Path) -> Served:
    port = free_port()
    command = [sys.executable, str(SERVE_DEMO), "--port", str(port), "--workers", "2"]
    return start("the two-worker demo", command, log, port=port, cwd=ROOT, env=env)


def worker_pid(url: str) -> int | None:
    """The pid of the worker that answers a fresh connection, None while none listens."""
    try:
        answer = httpx.get(url + "/api/pid", headers={"connection": "close"}, timeout=2.0)
    except httpx.TransportError:
        return None
    pid: int = answer.json()["pid"]
    return pid


def wait_until_both_workers_answer(demo: Served) -> None:
    """Poll fresh connections until two worker pids answered (workers start one by one)."""
    pids: set[int] = set()

    def two_answered() -> bool:
        pid = worker_pid(demo.url)
        if pid is not None:
            pids.add(pid)
        return len(pids) >= 2

    try:
        demo.wait_until(two_answered, "answering from two worker pids", deadline=45.0)
    except StartFailed as exc:
        pytest.fail(f"{exc}\n(pids seen: {sorted(pids)})", pytrace=False)


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
    running: dict[str, Served] = {}
    try:
        for name, env in configs.items():
            running[name] = launch({**shared, **env}, logs / f"{name}.log")
        for demo in running.values():
            wait_until_both_workers_answer(demo)
        yield {name: demo.url for name, demo in running.items()}
    finally:
        for demo in running.values():
            demo.stop(timeout=15)


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
