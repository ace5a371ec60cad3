"""Running blocking code from async code: `run_in_threadpool`, `iterate_in_threadpool`,
`run_blocking_io`; and Starlette's deprecated `run_until_first_complete`.

Starlette's names and semantics (`starlette.concurrency`): each call or each
`next()` runs in a worker thread under anyio's default limiter, the pool that
flagstone-requests itself uses for sync endpoints, sync exception handlers and
sync streaming iterators.  They live here, not in the contract (which has no
dependencies, and these need anyio), and not in flagstone-background (whose
sync tasks deliberately run under a limiter of their own, so that background
work cannot starve the request path of threads).

`run_blocking_io` is flagstone's own lighter hop for short file-system calls
(FileResponse, StaticFiles): on asyncio it hands the call to a small pool of
threads through a `SimpleQueue` and gets the answer back with one
`call_soon_threadsafe`, a quarter of the instructions of anyio's hop (no
limiter borrow, cancel scope or sniffio look-up per call).  What it keeps from
anyio: a bound on threads, the caller's context variables in the thread, and
a cancelled caller waiting for the thread to finish.  What it cannot offer is
`anyio.from_thread` inside the call, hence a separate function.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import os
import queue
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

from flagstone_contract import StarletteDeprecationWarning

__all__ = [
    "iterate_in_threadpool",
    "run_blocking_io",
    "run_in_threadpool",
    "run_until_first_complete",
]

P = ParamSpec("P")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Threads `run_blocking_io` starts at most (anyio's default limiter has 40 too).
_MAX_THREADS = 40


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `func(*args, **kwargs)` in a worker thread and return its result.

    Keyword arguments are passed through (anyio's `run_sync` takes only
    positional ones).  Cancelling the caller does not stop the thread; the
    result is then discarded, as with any anyio worker thread.
    """
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


async def run_until_first_complete(
    *calls: tuple[Callable[..., Awaitable[Any]], dict[str, Any]],
) -> None:
    """Run each `(async_function, kwargs)` concurrently; return when the first one returns.

    The others are cancelled then.  Deprecated, as in Starlette (it warns
    `StarletteDeprecationWarning`, Starlette's class, also a
    `DeprecationWarning`): use an anyio task group and cancel its scope when
    the first task finishes.
    """
    warnings.warn(
        "run_until_first_complete is deprecated and will be removed in a future version.",
        StarletteDeprecationWarning,
        stacklevel=2,
    )
    async with anyio.create_task_group() as group:

        async def first_one_wins(
            func: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
        ) -> None:
            await func(**kwargs)
            group.cancel_scope.cancel()

        for func, kwargs in calls:
            group.start_soon(first_one_wins, func, kwargs)


class _Exhausted:
    """Marks the end of the iterator (a `StopIteration` cannot cross a thread into a coroutine)."""


_EXHAUSTED = _Exhausted()


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    """Iterate a blocking iterable from async code, one worker-thread hop per item."""
    items = iter(iterator)
    while True:
        item = await anyio.to_thread.run_sync(next, items, _EXHAUSTED)
        if isinstance(item, _Exhausted):
            return
        yield item


class _Job:
    """One call handed to a worker, and how its end is reported back to the loop."""

    __slots__ = ("args", "context", "done", "func", "future", "loop", "waiter")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        self.loop = loop
        self.future = future
        self.func = func
        self.args = args
        self.context = contextvars.copy_context()
        self.done = False
        # Set only when the caller was cancelled and waits for the thread.
        self.waiter: asyncio.Future[None] | None = None


def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
    # On the loop's thread: the call has ended.
    job.done = True
    if job.waiter is not None and not job.waiter.done():
        job.waiter.set_result(None)
    future = job.future
    if future.done():  # the caller was cancelled: the result is discarded
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _Pool:
    """Worker threads, each waiting on its own queue; idle ones wait in `idle`."""

    def __init__(self, limit: int = _MAX_THREADS) -> None:
        self.limit = limit
        self.idle: collections.deque[_Worker] = collections.deque()
        self.started = 0
        self.lock = threading.Lock()

    def take(self) -> _Worker | None:
        """An idle worker, a new one while under the bound, or None (all busy)."""
        try:
            return self.idle.pop()
        except IndexError:
            pass
        with self.lock:
            if self.started >= self.limit:
                return None
            self.started += 1
        worker = _Worker(self)
        worker.start()
        return worker


class _Worker(threading.Thread):
    def __init__(self, pool: _Pool) -> None:
        super().__init__(name="flagstone-blocking-io", daemon=True)
        self.pool = pool
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()

    def run(self) -> None:
        jobs, idle = self.jobs, self.pool.idle
        while True:
            job = jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                result = job.context.run(job.func, *job.args)
            except BaseException as exc:  # handed to the caller, like anyio does
                error = exc
            # Idle again before the loop hears of it: the caller's next call
            # (the usual case) finds this very thread waiting.
            idle.append(self)
            try:
                job.loop.call_soon_threadsafe(_deliver, job, result, error)
            except RuntimeError:
                pass  # the loop was closed meanwhile: nobody waits any more
            del job, result, error


_POOL = _Pool()


def _forget_workers() -> None:
    # A forked child has none of the parent's threads: queueing a call for
    # one of them would wait forever.
    global _POOL
    _POOL = _Pool()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_workers)


async def run_blocking_io(func: Callable[[*Ts], T], *args: *Ts) -> T:
    """Call `func(*args)` in a worker thread: a lighter hop for short blocking I/O.

    Meant for file-system calls (stat, open, read, close), which is what
    flagstone's `FileResponse` and `StaticFiles` use it for.  On asyncio the
    call runs in a pool of at most 40 threads of its own
    (when all are busy, and on trio, it takes `anyio.to_thread.run_sync`,
    under anyio's default limiter).  As with anyio, the thread sees the
    caller's context variables, an exception is re-raised in the caller, and
    a cancelled caller first waits for the call to end.  Unlike
    `run_in_threadpool`, `func` must not use `anyio.from_thread`.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio): anyio knows how
        return await anyio.to_thread.run_sync(func, *args)
    worker = _POOL.take()
    if worker is None:  # all busy: queue under anyio's limiter instead
        return await anyio.to_thread.run_sync(func, *args)
    future: asyncio.Future[T] = loop.create_future()
    job = _Job(loop, future, func, args)
    worker.jobs.put(job)
    try:
        return await future
    except asyncio.CancelledError:
        if not job.done:
            # Like anyio's hop: the caller does not move on while its call
            # still runs (it may hold a file the caller is about to close).
            job.waiter = loop.create_future()
            with anyio.CancelScope(shield=True):
                await job.waiter
        raise
