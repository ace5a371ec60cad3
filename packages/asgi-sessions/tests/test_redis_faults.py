"""Redis faults mid-run, against a real redis-server this module stops, freezes and restarts.

What a store outage may cost: only requests that use their session get a
503 (never a 500), endpoints that ignore the session keep answering, a
frozen Redis costs at most `timeout` once per `retry_after` window (not on
every request), the outage is logged once, and everything recovers when
Redis is back.  Bounds (`fail_after`) catch hangs; they are not timings.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from flagstone_sessions import RedisStore, SessionMiddleware, SessionUnavailableError

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import Served, redis_ping, redis_server

pytestmark = pytest.mark.anyio

BOUND = 20.0  # seconds: every step must finish well within this, never hang


class RedisProcess:
    """One redis-server on a fixed port that a test can stop, freeze and restart."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.stack = ExitStack()
        self.served: Served = self.stack.enter_context(redis_server(log_dir))
        self.port = self.served.port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.stack.close()
        self.stack = ExitStack()
        assert not redis_ping(self.port)

    def restart(self) -> None:
        self.served = self.stack.enter_context(redis_server(self.log_dir, port=self.port))

    def freeze(self) -> None:
        os.kill(self.served.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.served.process.pid, signal.SIGCONT)

    def close(self) -> None:
        try:
            self.thaw()
        except ProcessLookupError:
            pass
        self.stack.close()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    yield process
    process.close()


def session_endpoints() -> dict[str, Any]:
    def login(session: Any) -> Any:
        session["user"] = "ada"
        return "ok"

    return {
        "/login": login,
        "/me": lambda session: session.get("user"),
        "/health": lambda session: "fine",  # never touches the session
    }


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "flagstone_sessions" and r.levelno >= logging.ERROR
    ]


async def poll_until(check: Any, what: str) -> None:
    """Poll an async check with a deadline (not a sleep to synchronise)."""
    deadline = time.monotonic() + BOUND
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {BOUND} s")
        await anyio.sleep(0.05)


async def test_redis_stopped_mid_run_fails_only_session_endpoints_then_recovers(
    redis_process: RedisProcess, helpers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(redis_process.url, timeout=1.0, retry_after=0.0)
    app = SessionMiddleware(helpers.session_app(session_endpoints()), "k", store=store)
    jar = helpers.Jar(app)
    try:
        with anyio.fail_after(BOUND):
            assert (await jar.get("/login")).status == 200
            assert (await jar.get("/me")).json == "ada"

            redis_process.stop()
            for _ in range(5):
                assert (await jar.get("/health")).status == 200
                me = await jar.get("/me")
                assert me.status == 503
                assert me.header_values("retry-after")
                assert b"session store" in me.body
                assert me.set_cookies == []  # the browser keeps its cookie
            # A write that cannot be saved is a 503 too, not a 200 that lies.
            login = await jar.get("/login")
            assert login.status == 503
            assert login.set_cookies == []
            # Logged once for the whole outage, not once per request.
            assert len(outage_lines(caplog)) == 1

            redis_process.restart()
            assert (await jar.get("/login")).status == 200
            assert (await jar.get("/me")).json == "ada"
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        await store.aclose()


async def test_frozen_redis_costs_the_timeout_once_per_window_not_per_request(
    redis_process: RedisProcess, helpers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A long window: while Redis is frozen, only the first request may wait
    # out the timeout; the other 20 must not (20 x 3 s would break the bound).
    store = RedisStore(redis_process.url, timeout=3.0, retry_after=600.0)
    app = SessionMiddleware(helpers.session_app(session_endpoints()), "k", store=store)
    jar = helpers.Jar(app)
    try:
        with anyio.fail_after(BOUND):
            assert (await jar.get("/login")).status == 200
        redis_process.freeze()
        with anyio.fail_after(BOUND):
            assert (await jar.get("/me")).status == 503  # waits out the timeout once
            for _ in range(10):
                assert (await jar.get("/health")).status == 200
                assert (await jar.get("/me")).status == 503
        assert len(outage_lines(caplog)) == 1
        assert "failed on GET" in outage_lines(caplog)[0]
    finally:
        redis_process.thaw()
        await store.aclose()


async def test_frozen_then_thawed_redis_recovers(redis_process: RedisProcess, helpers: Any) -> None:
    store = RedisStore(redis_process.url, timeout=1.0, retry_after=0.2)
    app = SessionMiddleware(helpers.session_app(session_endpoints()), "k", store=store)
    jar = helpers.Jar(app)
    try:
        with anyio.fail_after(BOUND):
            assert (await jar.get("/login")).status == 200
        redis_process.freeze()
        with anyio.fail_after(BOUND):
            assert (await jar.get("/me")).status == 503
        redis_process.thaw()

        async def back() -> bool:
            response = await jar.get("/me")
            return response.status == 200 and response.json == "ada"

        await poll_until(back, "reading the session again after SIGCONT")
    finally:
        await store.aclose()


async def test_unavailable_session_raises_a_503_http_exception_on_access(
    redis_process: RedisProcess, helpers: Any
) -> None:
    seen: list[BaseException] = []

    def reads(session: Any) -> Any:
        try:
            return session["user"]
        except SessionUnavailableError as exc:
            seen.append(exc)
            raise

    store = RedisStore(redis_process.url, timeout=1.0, retry_after=0.0)
    app = SessionMiddleware(
        helpers.session_app({**session_endpoints(), "/reads": reads}), "k", store=store
    )
    jar = helpers.Jar(app)
    try:
        with anyio.fail_after(BOUND):
            await jar.get("/login")
            redis_process.stop()
            assert (await jar.get("/reads")).status == 503
    finally:
        await store.aclose()
    (error,) = seen
    assert error.status_code == 503  # an HTTPException: any handler renders it
    assert "redis" not in error.detail.lower()  # the client-facing text names no host
    assert isinstance(error.__cause__, Exception)  # the store's error, for the log


def test_timeout_and_retry_window_are_configurable() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", timeout=0.25, retry_after=3.0)
    assert (store.timeout, store.retry_after) == (0.25, 3.0)
    assert "timeout=0.25" in repr(store)
