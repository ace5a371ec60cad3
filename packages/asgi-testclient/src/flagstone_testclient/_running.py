"""Small pieces shared by the HTTP, WebSocket and lifespan runners."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ._exceptions import ClientDisconnected

T = TypeVar("T")

# How long an app gets to finish on its own after the client disconnected (an
# early-closed stream, the end of a WebSocket session) before it is cancelled.
# Apps that watch `receive()` or react to the OSError from `send()` stop at
# once; the grace only matters for apps that ignore the disconnect, and their
# `finally` blocks still run under cancellation.
DISCONNECT_GRACE = 1.0


async def wait_within(
    timeout: float | None, waiter: Callable[[], Awaitable[T]]
) -> tuple[bool, T | None]:
    """Run `waiter()` for at most `timeout` seconds (None: no limit).

    Returns (finished, result).  The timed-out case is a return value, not an
    exception, so each caller can raise an error that says what it waited for.
    """
    with anyio.move_on_after(timeout) as scope:
        return True, await waiter()
    assert scope.cancelled_caught
    return False, None


async def wait_for_event(timeout: float | None, event: anyio.Event) -> bool:
    """Whether `event` is set within `timeout` seconds.

    Checked before waiting: with a deadline already reached, waiting on an
    event that is already set would still report a timeout.
    """
    if event.is_set():
        return True
    finished, _ = await wait_within(timeout, event.wait)
    return finished


async def finish_or_cancel(
    done: anyio.Event, cancel_scope: anyio.CancelScope, grace: float | None
) -> bool:
    """Give an app task `grace` seconds to end, then cancel it and wait for it.

    Returns False if the app did not even stop after cancellation (it shields
    itself); the caller gives up on it rather than hang.
    """
    if done.is_set():
        return True
    with anyio.move_on_after(grace):
        await done.wait()
        return True
    cancel_scope.cancel()
    with anyio.move_on_after(grace):
        await done.wait()
        return True
    return False


def caused_by_disconnect(exc: BaseException) -> bool:
    """Whether `exc` is the app's reaction to the disconnect the client caused.

    After a client disconnect the app's `send()` raises `ClientDisconnected`;
    apps turn it into their own errors (Starlette raises `ClientDisconnect`
    from it).  Those are expected and are not re-raised in the test, just as
    a server only logs them.  Anything else the app raises still is.
    """
    if isinstance(exc, BaseExceptionGroup):
        return all(caused_by_disconnect(inner) for inner in exc.exceptions)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClientDisconnected):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
