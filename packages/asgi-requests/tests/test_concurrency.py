"""`run_in_threadpool` and `iterate_in_threadpool`: blocking code off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from flagstone_requests import iterate_in_threadpool, run_in_threadpool

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
