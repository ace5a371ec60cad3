"""The thread limiter that sync background work runs under.

Starlette runs sync background tasks through anyio's *default* limiter (40
threads), the same pool that sync endpoints, sync streaming iterators and file
uploads use; a burst of slow background work can therefore starve the request
path of threads.  Flagstone gives background work a pool of its own.

A `CapacityLimiter` belongs to one event loop (a trio limiter cannot be used
under asyncio, and an asyncio one must not be shared between loops), so the
limiter is kept in an `anyio.lowlevel.RunVar`: one per running event loop,
created on first use with the size configured here.
"""

from __future__ import annotations

import anyio
from anyio.lowlevel import RunVar

__all__ = ["DEFAULT_THREAD_LIMIT", "set_thread_limit", "thread_limiter"]

DEFAULT_THREAD_LIMIT = 20

_total_tokens = DEFAULT_THREAD_LIMIT
_limiter: RunVar[anyio.CapacityLimiter] = RunVar("flagstone_background.thread_limiter")


def thread_limiter() -> anyio.CapacityLimiter:
    """Return the limiter that bounds sync background tasks in the running event loop.

    Call it from inside an event loop.  Every sync `BackgroundTask` and sync
    `AppTasks` task runs its function in a worker thread under this limiter, never
    under anyio's default one, so background work cannot take the threads sync
    endpoints need.  Its size is `set_thread_limit()`'s value (20 by default).
    """
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(_total_tokens)
        _limiter.set(limiter)
        return limiter


def set_thread_limit(total_tokens: int) -> None:
    """Set how many worker threads sync background tasks may use at once.

    Applies to limiters created afterwards in every event loop, and, when called
    inside a running event loop, also resizes that loop's limiter at once.
    Raises `ValueError` for a value below 1 (a limit of 0 would make every sync
    task wait forever).
    """
    global _total_tokens
    if isinstance(total_tokens, bool) or not isinstance(total_tokens, int) or total_tokens < 1:
        raise ValueError(
            f"set_thread_limit() needs a whole number of threads >= 1, got {total_tokens!r}"
        )
    _total_tokens = total_tokens
    try:
        current = _limiter.get()
    except (LookupError, RuntimeError):
        # LookupError: no limiter yet in this loop; RuntimeError: no event loop
        # running at all.  Either way the new size applies at first use.
        return
    current.total_tokens = total_tokens
