"""Running blocking code from async code: `run_in_threadpool`, `iterate_in_threadpool`.

Starlette's names and semantics (`starlette.concurrency`): each call or each
`next()` runs in a worker thread under anyio's default limiter, the pool that
flagstone-requests itself uses for sync endpoints, sync exception handlers and
sync streaming iterators.  They live here, not in the contract (which has no
dependencies, and these need anyio), and not in flagstone-background (whose
sync tasks deliberately run under a limiter of their own, so that background
work cannot starve the request path of threads).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from typing import ParamSpec, TypeVar

import anyio.to_thread

__all__ = ["iterate_in_threadpool", "run_in_threadpool"]

P = ParamSpec("P")
T = TypeVar("T")


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `func(*args, **kwargs)` in a worker thread and return its result.

    Keyword arguments are passed through (anyio's `run_sync` takes only
    positional ones).  Cancelling the caller does not stop the thread; the
    result is then discarded, as with any anyio worker thread.
    """
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


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
