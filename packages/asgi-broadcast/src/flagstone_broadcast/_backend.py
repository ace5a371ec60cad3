"""`BroadcastBackend`: what a broker adapter implements (broadcaster's interface)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._event import Event

__all__ = ["BroadcastBackend", "GapNotice"]


@dataclass(frozen=True, slots=True)
class GapNotice:
    """Returned by `next_published()` instead of an event: messages may have been lost.

    `channels` None means every channel (the broker connection was lost and
    re-made).  `Broadcast` marks the next event of each affected subscriber
    with `gap=True`.  Only this package's backends return it.
    """

    channels: frozenset[str] | None = None


class BroadcastBackend:
    """The interface `Broadcast(backend=...)` drives, the same as broadcaster's.

    A backend written for broadcaster works here unchanged: `connect`,
    `disconnect`, `subscribe(channel)`, `unsubscribe(channel)`,
    `publish(channel, message)` and `next_published()`, which waits for the
    next message on any subscribed channel.  `Broadcast` calls
    `next_published()` from one task only, and `subscribe` / `unsubscribe`
    only for the first subscriber of a channel and after its last one.

    Optional, flagstone's: `history(channel, since)` for
    `subscribe(channel, since=...)`.
    """

    async def connect(self) -> None:
        """Open the broker connection(s)."""
        raise NotImplementedError

    async def disconnect(self) -> None:
        """Close the broker connection(s)."""
        raise NotImplementedError

    async def subscribe(self, channel: str) -> None:
        """Start receiving `channel`; return once messages published from now on arrive."""
        raise NotImplementedError

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving `channel`."""
        raise NotImplementedError

    async def publish(self, channel: str, message: Any) -> None:
        """Send `message` to every subscriber of `channel`, in every process."""
        raise NotImplementedError

    async def next_published(self) -> Event | GapNotice:
        """Wait for the next message of a subscribed channel."""
        raise NotImplementedError

    async def history(self, channel: str, since: str) -> list[Event]:
        """The retained events of `channel` published after the one with id `since`.

        Raises `ValueError` for an id this backend cannot have given, and
        `NotImplementedError` where the broker keeps no history.
        """
        raise NotImplementedError(
            f"{type(self).__name__} keeps no history, so subscribe(since=...) cannot "
            "resume; use memory:// or redis-stream:// for resumable channels"
        )
