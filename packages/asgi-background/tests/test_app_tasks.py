"""AppTasks: lifespan-owned tasks with backpressure, error logging and a graceful drain."""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest

from flagstone_background import (
    AppTasks,
    AppTasksFullError,
    AppTasksMiddleware,
    AppTasksNotRunningError,
    BackgroundTasks,
)
from flagstone_contract import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

START: Message = {"type": "http.response.start", "status": 202, "headers": []}
BODY: Message = {"type": "http.response.body", "body": b"accepted"}


def lifespan_app(events: list[str]) -> Any:
    """A raw app that speaks the lifespan protocol and records its own startup/shutdown."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    events.append("app startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.append("app shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        # http: hand the work to the app's task group and answer at once
        tasks = AppTasks.from_scope(scope)
        await tasks.spawn(scope["job"])
        await send(START)
        await send(BODY)
        events.append("response sent")

    return app


async def test_spawn_before_the_lifespan_ran_says_what_to_do() -> None:
    tasks = AppTasks()

    async def job() -> None:
        return None

    with pytest.raises(AppTasksNotRunningError) as info:
        await tasks.spawn(job)
    message = str(info.value)
    assert "job" in message
    assert "lifespan" in message
    assert "--lifespan on" in message
    assert "with TestClient(app)" in message


async def test_request_returns_at_once_and_the_task_outlives_it(
    client: Any, make_scope: Any, lifespan_server: Any
) -> None:
    events: list[str] = []
    release = anyio.Event()
    finished = anyio.Event()

    async def job() -> None:
        events.append("job started")
        await release.wait()
        events.append("job finished")
        finished.set()

    app = AppTasksMiddleware(lifespan_app(events))
    async with lifespan_server(app).running():
        with anyio.fail_after(5):
            await client.call(app, make_scope(job=job))
            # The request is over while the job is still waiting.
            assert "response sent" in events
            assert "job finished" not in events
            assert app.tasks.active == 1
            release.set()
            await finished.wait()
    assert events.index("response sent") < events.index("job finished")
    assert app.tasks.active == 0


async def test_from_scope_without_the_middleware_names_the_fix(make_scope: Any) -> None:
    with pytest.raises(LookupError, match=r"AppTasksMiddleware\(app, tasks\)"):
        AppTasks.from_scope(make_scope())


async def test_when_full_wait_applies_backpressure_until_a_slot_frees() -> None:
    tasks = AppTasks(max_concurrency=1, when_full="wait")
    release = anyio.Event()
    order: list[str] = []

    async def first() -> None:
        order.append("first started")
        await release.wait()
        order.append("first finished")

    async def second() -> None:
        order.append("second started")

    async def spawn_second() -> None:
        await tasks.spawn(second)
        order.append("second spawned")

    with anyio.fail_after(5):
        async with tasks.lifespan(), anyio.create_task_group() as tg:
            await tasks.spawn(first)
            tg.start_soon(spawn_second)
            await anyio.wait_all_tasks_blocked()
            # Full: the second spawn is held back, it has not even been accepted.
            assert order == ["first started"]
            release.set()
    assert order == ["first started", "first finished", "second spawned", "second started"]


async def test_when_full_reject_raises_a_clear_error() -> None:
    tasks = AppTasks(max_concurrency=2, when_full="reject")

    async def job() -> None:
        await anyio.sleep_forever()

    async def report_usage() -> None:
        return None

    with anyio.fail_after(5):
        async with tasks.lifespan():
            await tasks.spawn(job)
            await tasks.spawn(job)
            with pytest.raises(AppTasksFullError) as info:
                await tasks.spawn(report_usage)
            assert tasks.active == 2
            tasks.shutdown_timeout = 0  # nothing to wait for at the end of the test
    message = str(info.value)
    assert "report_usage" in message
    assert "max_concurrency" in message
    assert "503" in message


async def test_a_failing_task_is_logged_and_does_not_disturb_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = AppTasks()
    done = anyio.Event()

    async def import_feed() -> None:
        raise ValueError("bad feed")

    async def later() -> None:
        done.set()

    with caplog.at_level(logging.ERROR, logger="flagstone.background"):
        with anyio.fail_after(5):
            async with tasks.lifespan():
                await tasks.spawn(import_feed)
                await anyio.wait_all_tasks_blocked()
                await tasks.spawn(later)
                await done.wait()
                assert tasks.accepting
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "import_feed" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_sync_task_runs_in_a_worker_thread() -> None:
    tasks = AppTasks()
    threads: list[int] = []

    def blocking_io() -> None:
        threads.append(threading.get_ident())

    with anyio.fail_after(5):
        async with tasks.lifespan():
            await tasks.spawn(blocking_io)
    assert threads
    assert threads[0] != threading.get_ident()


async def test_shutdown_drains_before_the_apps_own_shutdown_runs(
    lifespan_server: Any,
) -> None:
    events: list[str] = []
    app = AppTasksMiddleware(lifespan_app(events), AppTasks(shutdown_timeout=30))
    release = anyio.Event()

    async def flush_metrics() -> None:
        await release.wait()
        events.append("task finished")

    async def release_when_draining() -> None:
        while app.tasks.accepting:
            await anyio.wait_all_tasks_blocked()
        events.append("draining")
        release.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg, lifespan_server(app).running():
            await app.tasks.spawn(flush_metrics)
            tg.start_soon(release_when_draining)
    assert events == ["app startup", "draining", "task finished", "app shutdown"]


async def test_shutdown_timeout_cancels_the_rest_and_logs_each_by_name(
    lifespan_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    app = AppTasksMiddleware(lifespan_app(events), AppTasks(shutdown_timeout=0))

    async def poll_forever() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            events.append("poll cancelled")

    def quick() -> None:
        events.append("quick ran")

    with caplog.at_level(logging.INFO, logger="flagstone.background"):
        with anyio.fail_after(5):
            async with lifespan_server(app).running():
                await app.tasks.spawn(poll_forever)
                await app.tasks.spawn(quick)
                while "quick ran" not in events:
                    await anyio.wait_all_tasks_blocked()
    assert events == ["app startup", "quick ran", "poll cancelled", "app shutdown"]
    messages = [record.getMessage() for record in caplog.records]
    assert any("shutdown_timeout" in m and "poll_forever" in m for m in messages)
    assert any(m.endswith("poll_forever was cancelled") for m in messages)
    assert app.tasks.active == 0


async def test_spawn_during_shutdown_is_refused_with_a_clear_error() -> None:
    tasks = AppTasks(shutdown_timeout=30)
    release = anyio.Event()
    errors: list[str] = []

    async def slow() -> None:
        await release.wait()

    async def job() -> None:
        return None

    async def spawn_while_draining() -> None:
        while tasks.accepting:
            await anyio.wait_all_tasks_blocked()
        try:
            await tasks.spawn(job)
        except AppTasksNotRunningError as exc:
            errors.append(str(exc))
        release.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg, tasks.lifespan():
            await tasks.spawn(slow)
            tg.start_soon(spawn_while_draining)
    assert len(errors) == 1
    assert "shutting down" in errors[0]


async def test_a_spawn_waiting_for_a_slot_is_refused_once_shutdown_begins() -> None:
    tasks = AppTasks(max_concurrency=1, shutdown_timeout=0)
    errors: list[str] = []

    async def hog() -> None:
        await anyio.sleep_forever()

    async def job() -> None:
        return None

    async def waiting_spawn() -> None:
        try:
            await tasks.spawn(job)
        except AppTasksNotRunningError as exc:
            errors.append(str(exc))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg, tasks.lifespan():
            await tasks.spawn(hog)
            tg.start_soon(waiting_spawn)
            await anyio.wait_all_tasks_blocked()
    assert len(errors) == 1
    assert "shutting down" in errors[0]


@pytest.mark.parametrize("behaviour", ["raises", "returns"])
async def test_app_that_ignores_lifespan_still_gets_app_tasks(
    behaviour: str, lifespan_server: Any, client: Any, make_scope: Any
) -> None:
    done = anyio.Event()

    async def job() -> None:
        done.set()

    async def http_only_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if behaviour == "raises":
                raise ValueError(f"unsupported scope {scope['type']}")
            return
        await AppTasks.from_scope(scope).spawn(job)
        await send(START)
        await send(BODY)

    app = AppTasksMiddleware(http_only_app)
    with anyio.fail_after(5):
        async with lifespan_server(app).running() as server:
            await client.call(app, make_scope())
            await done.wait()
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_startup_failure_of_the_app_reaches_the_server() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise RuntimeError("database unreachable")

    middleware = AppTasksMiddleware(app)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError(f"unexpected {message}")

    with pytest.raises(RuntimeError, match="database unreachable"):
        await middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    # And the task group is closed again: spawning says the lifespan is not running.
    assert not middleware.tasks.accepting


async def test_lifespan_can_run_again_but_not_twice_at_once() -> None:
    tasks = AppTasks()
    ran: list[int] = []

    async def job(n: int) -> None:
        ran.append(n)

    with anyio.fail_after(5):
        for n in range(2):
            async with tasks.lifespan():
                await tasks.spawn(job, n)
                with pytest.raises(RuntimeError, match="already running"):
                    async with tasks.lifespan():
                        pass
    assert ran == [0, 1]


async def test_unbounded_mode_has_no_slot_limit() -> None:
    tasks = AppTasks(max_concurrency=None, when_full="reject")
    release = anyio.Event()

    async def job() -> None:
        await release.wait()

    with anyio.fail_after(5):
        async with tasks.lifespan():
            for _ in range(50):
                await tasks.spawn(job)
            assert tasks.active == 50
            release.set()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": -5}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"when_full": "drop"}, "when_full"),
        ({"shutdown_timeout": -1}, "shutdown_timeout"),
        ({"shutdown_timeout": float("nan")}, "shutdown_timeout"),
        ({"shutdown_timeout": "10"}, "shutdown_timeout"),
    ],
    ids=[
        "zero-slots-would-hang",
        "negative-slots",
        "bool-slots",
        "fractional-slots",
        "unknown-policy",
        "negative-timeout",
        "nan-timeout",
        "string-timeout",
    ],
)
def test_bad_options_are_rejected_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AppTasks(**options)


async def test_other_scope_types_pass_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    scope: Scope = {"type": "custom.protocol"}

    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        return None

    await AppTasksMiddleware(app)(scope, receive, send)
    assert seen == [scope]


async def test_a_background_tasks_list_can_be_spawned_and_named() -> None:
    order: list[str] = []
    batch = BackgroundTasks()
    batch.add_task(order.append, "a")
    batch.add_task(order.append, "b")
    batch.name = "nightly batch"
    assert batch.name == "nightly batch"
    tasks = AppTasks()
    with anyio.fail_after(5):
        async with tasks.lifespan():
            await tasks.spawn(batch)
    assert order == ["a", "b"]


async def test_a_sync_task_stuck_in_its_thread_cannot_hold_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = AppTasks(shutdown_timeout=0)
    unblock = threading.Event()
    entered = threading.Event()

    def stuck() -> None:
        entered.set()
        unblock.wait(10)

    try:
        with caplog.at_level(logging.WARNING, logger="flagstone.background"):
            with anyio.fail_after(5):
                async with tasks.lifespan():
                    await tasks.spawn(stuck)
                    await anyio.to_thread.run_sync(entered.wait, 5)
        assert tasks.active == 0
        assert any("stuck was cancelled" in r.getMessage() for r in caplog.records)
    finally:
        unblock.set()  # let the abandoned thread end
