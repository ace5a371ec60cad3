"""BackgroundTask and BackgroundTasks: Starlette-compatible, with errors that never vanish."""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from typing import Any

import anyio
import anyio.to_thread
import pytest

from flagstone_background import (
    BackgroundTask,
    BackgroundTasks,
    set_thread_limit,
    thread_limiter,
)

pytestmark = pytest.mark.anyio


async def test_async_function_is_awaited_with_its_arguments() -> None:
    calls: list[tuple[Any, ...]] = []

    async def record(a: int, b: int, *, c: int) -> None:
        calls.append((a, b, c))

    task = BackgroundTask(record, 1, 2, c=3)
    assert task.is_async
    await task()
    assert calls == [(1, 2, 3)]


async def test_async_task_failure_propagates_as_itself_on_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    error = ValueError("task failed")
    seen: list[int] = []

    async def fail() -> None:
        seen.append(threading.get_ident())
        raise error

    with pytest.raises(ValueError) as info:
        await BackgroundTask(fail)()
    assert info.value is error
    assert seen == [loop_thread]


async def test_sync_function_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def record(value: int) -> None:
        seen.append(value)
        seen.append(threading.get_ident())

    task = BackgroundTask(record, 7)
    assert not task.is_async
    await task()
    assert seen[0] == 7
    assert seen[1] != loop_thread


async def test_sync_task_uses_the_package_limiter_not_anyios_default() -> None:
    default = anyio.to_thread.current_default_thread_limiter()
    ours = thread_limiter()
    assert ours is not default
    observed: list[tuple[float, float]] = []

    def probe() -> None:
        observed.append((ours.borrowed_tokens, default.borrowed_tokens))

    await BackgroundTask(probe)()
    assert observed == [(1, 0)]


async def test_sync_tasks_still_run_when_anyios_default_thread_pool_is_exhausted() -> None:
    # The starvation Starlette users hit, the other way round: every default
    # token is taken (by sync endpoints, say) and background work still runs.
    default = anyio.to_thread.current_default_thread_limiter()
    original = default.total_tokens
    hog = object()
    default.total_tokens = 1
    await default.acquire_on_behalf_of(hog)
    try:
        ran: list[bool] = []
        with anyio.fail_after(5):
            await BackgroundTask(ran.append, True)()
        assert ran == [True]
    finally:
        default.release_on_behalf_of(hog)
        default.total_tokens = original


async def test_partial_of_async_function_and_async_callable_object_are_awaited() -> None:
    calls: list[str] = []

    async def record(label: str) -> None:
        calls.append(label)

    class Job:
        async def __call__(self, label: str) -> None:
            calls.append(label)

    partial_task = BackgroundTask(functools.partial(record, "partial"))
    object_task = BackgroundTask(Job(), "object")
    assert partial_task.is_async
    assert object_task.is_async
    await partial_task()
    await object_task()
    assert calls == ["partial", "object"]


async def test_sync_function_returning_a_coroutine_has_it_awaited() -> None:
    calls: list[str] = []

    async def record() -> None:
        calls.append("awaited")

    # A lambda hides the coroutine function: Starlette would run it in a thread
    # and drop the coroutine unawaited.
    await BackgroundTask(lambda: record())()
    assert calls == ["awaited"]


def test_task_name_is_module_and_qualified_name() -> None:
    async def send_welcome_email() -> None:
        return None

    task = BackgroundTask(functools.partial(send_welcome_email))
    assert task.name.endswith(
        "test_task_name_is_module_and_qualified_name.<locals>.send_welcome_email"
    )
    assert "send_welcome_email" in repr(task)
    assert BackgroundTask(print).name == "print"


async def test_tasks_run_in_order_including_tasks_added_while_running() -> None:
    order: list[str] = []
    tasks = BackgroundTasks()

    async def first() -> None:
        order.append("first")
        tasks.add_task(order.append, "added-by-first")

    tasks.add_task(first)
    tasks.add_task(order.append, "second")
    await tasks()
    assert order == ["first", "second", "added-by-first"]


async def test_tasks_accepts_an_initial_list_and_is_a_background_task() -> None:
    order: list[str] = []
    tasks = BackgroundTasks([BackgroundTask(order.append, "a")])
    tasks.add_task(order.append, "b")
    assert isinstance(tasks, BackgroundTask)
    await tasks()
    assert order == ["a", "b"]
    assert "BackgroundTasks" in repr(tasks)


async def test_run_all_one_failure_is_logged_by_name_then_reraised_bare_after_the_rest_ran(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order: list[str] = []

    def charge_card() -> None:
        raise ValueError("card declined")

    tasks = BackgroundTasks(fail_fast=False)
    tasks.add_task(charge_card)
    tasks.add_task(order.append, "after")
    with (
        caplog.at_level(logging.ERROR, logger="flagstone.background"),
        pytest.raises(ValueError, match="card declined") as info,
    ):
        await tasks()
    assert order == ["after"]
    (record,) = caplog.records
    assert "charge_card" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is info.value
    # The original traceback is kept: it still points into the failing function.
    frames = [frame.name for frame in _frames(info.value)]
    assert "charge_card" in frames


async def test_run_all_several_failures_raise_an_exception_group_naming_the_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def send_email() -> None:
        raise ConnectionError("smtp down")

    def write_audit_log() -> None:
        raise PermissionError("read-only disk")

    order: list[str] = []
    tasks = BackgroundTasks(fail_fast=False)
    tasks.add_task(send_email)
    tasks.add_task(order.append, "middle")
    tasks.add_task(write_audit_log)
    with (
        caplog.at_level(logging.ERROR, logger="flagstone.background"),
        pytest.raises(ExceptionGroup) as info,
    ):
        await tasks()
    assert order == ["middle"]
    group = info.value
    assert "2 background tasks failed" in str(group)
    assert "send_email" in str(group)
    assert "write_audit_log" in str(group)
    assert [type(exc) for exc in group.exceptions] == [ConnectionError, PermissionError]
    logged = [record.getMessage() for record in caplog.records]
    assert any("send_email" in message for message in logged)
    assert any("write_audit_log" in message for message in logged)


async def test_except_star_catches_one_failure_and_several_alike() -> None:
    def fail() -> None:
        raise KeyError("x")

    for count in (1, 2):
        tasks = BackgroundTasks(fail_fast=False)
        for _ in range(count):
            tasks.add_task(fail)
        caught = False
        try:
            await tasks()
        except* KeyError:
            caught = True
        assert caught


@pytest.mark.parametrize(
    "make",
    [
        lambda: BackgroundTasks(),
        lambda: BackgroundTasks(tasks=None),
        lambda: BackgroundTasks([]),
    ],
    ids=["no-arguments", "tasks-none", "empty-list"],
)
@pytest.mark.parametrize("failing", ["sync", "async"])
async def test_by_default_a_failure_stops_the_later_tasks_as_in_starlette(
    make: Any, failing: str
) -> None:
    order: list[str] = []

    def charge_card_sync(amount: int) -> None:
        order.append(f"charge {amount}")
        raise ValueError("card declined")

    async def charge_card_async(amount: int) -> None:
        charge_card_sync(amount)

    async def send_receipt(to: str) -> None:
        order.append(f"receipt to {to}")

    tasks = make()
    assert tasks.fail_fast is True
    tasks.add_task(charge_card_sync if failing == "sync" else charge_card_async, 10)
    tasks.add_task(send_receipt, "ada@example.org")
    tasks.add_task(order.append, "audit")
    with pytest.raises(ValueError, match="card declined") as info:
        await tasks()
    assert order == ["charge 10"]
    assert type(info.value) is ValueError  # raised as itself, no wrapper


async def test_fail_fast_note_names_the_failed_and_the_skipped_tasks() -> None:
    async def charge_card() -> None:
        raise ValueError("card declined")

    async def send_receipt() -> None:
        pass

    tasks = BackgroundTasks()
    tasks.add_task(charge_card)
    tasks.add_task(send_receipt)
    with pytest.raises(ValueError) as info:
        await tasks()
    (note,) = info.value.__notes__
    assert "raised by background task" in note
    assert "charge_card; skipped after it (fail_fast=True" in note
    assert "fail_fast=False" in note  # how to run every task instead
    assert note.endswith("send_receipt")


async def test_run_all_notes_name_the_task_of_each_failure() -> None:
    def first() -> None:
        raise ValueError("a")

    def second() -> None:
        raise KeyError("b")

    tasks = BackgroundTasks(fail_fast=False)
    tasks.add_task(first)
    tasks.add_task(second)
    with pytest.raises(ExceptionGroup) as info:
        await tasks()
    notes = [exc.__notes__ for exc in info.value.exceptions]
    assert [len(n) for n in notes] == [1, 1]
    assert notes[0][0].endswith("raised by background task " + BackgroundTask(first).name)
    assert notes[1][0].endswith("raised by background task " + BackgroundTask(second).name)


SHARED_ERROR = ValueError("always the same instance")


@pytest.mark.parametrize("fail_fast", [True, False])
async def test_notes_on_an_exception_instance_raised_every_time_stay_bounded(
    fail_fast: bool,
) -> None:
    def raise_shared() -> None:
        raise SHARED_ERROR

    SHARED_ERROR.add_note("the user's own note")
    try:
        for _ in range(50):
            # Each `raise` of one instance grows its traceback, whoever raises
            # it; the server that logs it would drop it.  Only notes are ours.
            SHARED_ERROR.__traceback__ = None
            tasks = BackgroundTasks(fail_fast=fail_fast)
            tasks.add_task(raise_shared)
            tasks.add_task(lambda: None)
            with pytest.raises(ValueError):
                await tasks()
        assert len(SHARED_ERROR.__notes__) == 2
        assert SHARED_ERROR.__notes__[0] == "the user's own note"
    finally:
        del SHARED_ERROR.__notes__
        SHARED_ERROR.__traceback__ = None


async def test_fail_fast_is_starlettes_behaviour_and_logs_what_it_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    def never_runs() -> None:
        order.append("ran")

    tasks = BackgroundTasks(fail_fast=True)
    tasks.add_task(broken)
    tasks.add_task(never_runs)
    with (
        caplog.at_level(logging.ERROR, logger="flagstone.background"),
        pytest.raises(RuntimeError, match="boom"),
    ):
        await tasks()
    assert order == []
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "broken" in messages
    assert "never_runs" in messages
    assert "skipped 1" in messages


async def test_cancellation_stops_the_run_and_is_not_collected() -> None:
    order: list[str] = []

    async def waits() -> None:
        await anyio.sleep_forever()

    tasks = BackgroundTasks()
    tasks.add_task(waits)
    tasks.add_task(order.append, "after")
    with anyio.CancelScope() as scope:
        scope.cancel()
        await tasks()
    assert scope.cancelled_caught
    assert order == []


async def test_set_thread_limit_resizes_the_running_loops_limiter() -> None:
    before = thread_limiter().total_tokens
    try:
        set_thread_limit(3)
        assert thread_limiter().total_tokens == 3
    finally:
        set_thread_limit(int(before))
    assert thread_limiter().total_tokens == before


@pytest.mark.parametrize(
    "bad", [0, -1, True, 1.5, "4"], ids=["zero", "negative", "bool", "float", "string"]
)
def test_set_thread_limit_rejects_values_that_would_hang_or_make_no_sense(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"set_thread_limit\(\) needs a whole number"):
        set_thread_limit(bad)


def test_set_thread_limit_outside_an_event_loop_applies_at_first_use() -> None:
    set_thread_limit(5)
    try:
        seen: list[float] = []

        async def main() -> None:
            seen.append(thread_limiter().total_tokens)

        anyio.run(main)
        assert seen == [5]
    finally:
        set_thread_limit(20)


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(exc.__traceback__))
