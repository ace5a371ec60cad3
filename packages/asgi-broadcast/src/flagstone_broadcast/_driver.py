"""Run a broker client's calls on asyncio and on trio alike.

redis-py and psycopg each come with an asyncio API and a blocking API of the
same method names.  On asyncio the asyncio client is awaited directly; on
trio (where it cannot run) the blocking client runs in a worker thread, its
own socket timeouts bounding each call.  `Driver` hides which.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio

from ._event import BroadcastError

__all__ = ["Detached", "Driver", "Outage", "check_message", "on_asyncio", "unreachable"]

logger = logging.getLogger("flagstone_broadcast")


def on_asyncio() -> bool:
    """Whether the running event loop is asyncio's (else trio's)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Driver:
    """Calls one method of a client, awaiting it on asyncio or threading it on trio."""

    def __init__(self) -> None:
        self.asyncio = on_asyncio()

    async def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`method(*args, **kwargs)`: awaited (asyncio client) or in a thread (blocking client)."""
        if self.asyncio:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(partial(method, *args, **kwargs))


class Outage:
    """Reconnect bookkeeping: exponential backoff, and one log line per outage.

    During an outage every receive attempt fails; logging each would flood
    the log, so the start is logged once (WARNING) and the recovery once.
    """

    first_delay: float = 0.05
    max_delay: float = 5.0
    delay: float = 0.05
    since: float | None = None

    def __init__(self, where: str, first_delay: float = 0.05, max_delay: float = 5.0) -> None:
        self.where = where
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.delay = first_delay
        self.since: float | None = None

    async def failed(self, exc: BaseException) -> None:
        """Note a failed attempt and wait before the next one."""
        if self.since is None:
            self.since = time.monotonic()
            logger.warning(
                "broadcast: lost the connection to %s (%s); reconnecting with backoff "
                "(up to %g s between attempts)",
                self.where,
                exc,
                self.max_delay,
            )
        await anyio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.max_delay)

    def recovered(self) -> None:
        """Note a successful attempt: the outage, if any, is over."""
        if self.since is not None:
            logger.warning(
                "broadcast: reconnected to %s after %.1f s; messages published meanwhile "
                "may be lost (subscribers see Event.gap)",
                self.where,
                time.monotonic() - self.since,
            )
        self.since = None
        self.delay = self.first_delay


def unreachable(where: str, action: str, exc: BaseException) -> BroadcastError:
    """The error a publish or subscribe raises when the broker does not answer."""
    return BroadcastError(
        f"{action} failed: the broker at {where} did not answer ({type(exc).__name__}: {exc}); "
        "check that it is running and reachable from this process"
    )


def check_message(message: Any) -> None:
    """Brokers carry text: refuse anything else before it is sent, saying what to do."""
    if isinstance(message, bool) or not isinstance(message, str | bytes | int | float):
        raise TypeError(
            "a broadcast message sent through a broker must be str (or bytes or a number), "
            f"not {type(message).__name__}; publish json.dumps(...) of structured data"
        )


class Detached:
    """A task that belongs to no caller's task group: the process's receiving loop.

    It must outlive the call that starts it (`connect()` from a lifespan, or
    the first `publish` of an app served without one) and be stopped from
    whichever task calls `disconnect()`, which no task group allows.  On
    asyncio it is a plain task; on trio a system task (cancelled with the
    run).  `func` must not raise: a system task's exception ends the run.
    """

    def __init__(self, func: Callable[[], Any]) -> None:
        self._func = func
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._task: asyncio.Task[None] | None = None  # a reference, so it is not collected

    def start(self) -> None:
        """Start `func` in its own task."""
        if on_asyncio():
            self._task = asyncio.get_running_loop().create_task(self._run())
        else:
            import trio  # only reached under trio, which is then installed

            trio.lowlevel.spawn_system_task(self._run)

    async def _run(self) -> None:
        try:
            with self._scope:
                await self._func()
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Cancel the task and wait until it has finished."""
        self._scope.cancel()
        await self._done.wait()
