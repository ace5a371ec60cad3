"""`run_in_threadpool`, `iterate_in_threadpool`, `run_blocking_io`: blocking code off the loop."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from flagstone_contract import StarletteDeprecationWarning
from flagstone_requests import (
    _concurrency,
    iterate_in_threadpool,
    run_blocking_io,
    run_in_threadpool,
    run_until_first_complete,
)

pytestmark = pytest.mark.anyio


def describe(a: int, b: int = 0, *, scale: int = 1) -> tuple[int, int]:
    return (a + b) * scale, threading.get_ident()


async def test_run_in_threadpool_passes_args_and_kwargs_and_runs_in_a_thread() -> None:
    value, thread = await run_in_threadpool(describe, 1, 2, scale=10)
    assert value == 30
    assert thread != threading.get_ident()


async def test_run_in_threadpool_propagates_the_exception() -> None:
    def fail() -> None:
        raise LookupError("from the worker thread")

    with pytest.raises(LookupError, match="from the worker thread"):
        await run_in_threadpool(fail)


async def test_iterate_in_threadpool_yields_each_item_from_a_worker_thread() -> None:
    threads: list[int] = []

    def numbers() -> Iterator[int]:
        for n in range(3):
            threads.append(threading.get_ident())
            yield n

    assert [n async for n in iterate_in_threadpool(numbers())] == [0, 1, 2]
    assert threading.get_ident() not in threads


async def test_iterate_in_threadpool_accepts_any_iterable_and_ends_on_empty() -> None:
    assert [c async for c in iterate_in_threadpool(["a", "b"])] == ["a", "b"]
    assert [c async for c in iterate_in_threadpool([])] == []


async def test_iterate_in_threadpool_propagates_an_error_mid_iteration() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("mid-stream")

    seen: list[int] = []

    async def consume() -> None:
        async for n in iterate_in_threadpool(broken()):
            seen.append(n)

    with pytest.raises(ValueError, match="mid-stream"):
        await consume()
    assert seen == [1]


# --- run_blocking_io: the lighter hop for file-system calls ---------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def test_run_blocking_io_returns_the_result_from_a_worker_thread() -> None:
    value, thread = await run_blocking_io(describe, 4, 5)
    assert value == 9
    assert thread != threading.get_ident()


async def test_run_blocking_io_propagates_the_exception_with_its_type() -> None:
    def missing() -> None:
        raise FileNotFoundError(2, "No such file", "/nowhere")

    with pytest.raises(FileNotFoundError) as caught:
        await run_blocking_io(missing)
    assert caught.value.filename == "/nowhere"


async def test_run_blocking_io_gives_the_thread_the_callers_context_variables() -> None:
    request_id.set("r-42")
    assert await run_blocking_io(request_id.get) == "r-42"


async def test_run_blocking_io_runs_calls_concurrently_and_in_order_per_caller() -> None:
    results: list[int] = []

    async def call(n: int) -> None:
        results.append(await run_blocking_io(lambda: n * n))

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(call, n)
    assert sorted(results) == [n * n for n in range(20)]


async def test_a_cancelled_caller_waits_for_the_call_to_end() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def blocking() -> None:
        started.set()
        release.wait(timeout=30)
        finished.append("done")

    seen_by_caller: list[list[str]] = []
    scope = anyio.CancelScope()

    async def caller() -> None:
        with scope:
            try:
                await run_blocking_io(blocking)
            finally:
                # What the caller finds when it moves on: the call must be over.
                seen_by_caller.append(list(finished))

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        await anyio.to_thread.run_sync(started.wait, 30)
        scope.cancel()
        # Give the cancellation every chance to land (checkpoints, not time):
        # the caller must still be waiting for its thread.
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        assert seen_by_caller == []
        release.set()
    assert seen_by_caller == [["done"]]


# The pool is asyncio's (on trio every call takes anyio's hop, tested above).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_run_blocking_io_past_its_thread_bound_takes_anyios_hop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_concurrency, "_POOL", _concurrency._Pool(limit=1))
    started, release = threading.Event(), threading.Event()
    threads: list[str] = []

    def hold() -> None:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(timeout=30)

    def name() -> str:
        return threading.current_thread().name

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_blocking_io, hold)
        await anyio.to_thread.run_sync(started.wait, 30)
        # The one pool thread is busy: the second call must not wait for it.
        threads.append(await run_blocking_io(name))
        release.set()
    assert threads[0] == "flagstone-blocking-io"
    assert threads[1] != "flagstone-blocking-io"
    assert _concurrency._POOL.started == 1


async def test_run_until_first_complete_returns_when_the_first_returns_and_cancels_the_rest() -> (
    None
):
    finished: list[str] = []

    async def quick(name: str) -> None:
        await anyio.lowlevel.checkpoint()
        finished.append(name)

    async def slow() -> None:
        await anyio.sleep(30)
        finished.append("slow")

    with pytest.warns(DeprecationWarning, match="run_until_first_complete is deprecated"):
        with anyio.fail_after(5):
            await run_until_first_complete((slow, {}), (quick, {"name": "quick"}))
    assert finished == ["quick"]


async def test_run_until_first_complete_warns_starlettes_class_and_text() -> None:
    first_done = anyio.Event()
    second_done = anyio.Event()
    seen: dict[str, int] = {}

    async def first(value: int) -> None:
        seen["first"] = value
        first_done.set()

    async def second() -> None:
        await first_done.wait()
        await anyio.lowlevel.checkpoint()
        second_done.set()

    with pytest.warns(StarletteDeprecationWarning) as record:
        await run_until_first_complete((first, {"value": 1}), (second, {}))
    assert str(record[0].message) == (
        "run_until_first_complete is deprecated and will be removed in a future version."
    )
    assert record[0].filename == __file__  # points at the caller
    assert first_done.is_set()
    assert not second_done.is_set()
    assert seen == {"first": 1}
    # Catchable the way Starlette's (a UserWarning) and a deprecation are.
    assert issubclass(StarletteDeprecationWarning, UserWarning)
    assert issubclass(StarletteDeprecationWarning, DeprecationWarning)
