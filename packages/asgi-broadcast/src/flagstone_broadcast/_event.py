"""`Event`, and the exceptions a subscriber or publisher can meet."""

from __future__ import annotations

from typing import Any

__all__ = ["BacklogOverflow", "BroadcastError", "Event", "Unsubscribed"]


class Event:
    """One message as a subscriber receives it: `channel` and `message`.

    As in broadcaster, two events are equal when their channel and message
    are, so a ported `assert event == Event("chat", "hello")` keeps passing.
    Beyond it: `id` is the broker's id for the message (a Redis stream id, a
    sequence number on `memory://`; None where the broker has none), to
    resume from with `subscribe(channel, since=id)`; `gap` is True on the
    first event a subscriber receives after it may have missed some (its
    backlog overflowed, or the broker connection was lost and re-made).
    """

    __slots__ = ("channel", "gap", "id", "message")

    def __init__(
        self, channel: str, message: Any, *, id: str | None = None, gap: bool = False
    ) -> None:
        self.channel = channel
        self.message = message
        self.id = id
        self.gap = gap

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.channel == other.channel and self.message == other.message

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as broadcaster)

    def __repr__(self) -> str:
        extra = "" if self.id is None else f", id={self.id!r}"
        extra += ", gap=True" if self.gap else ""
        return f"Event(channel={self.channel!r}, message={self.message!r}{extra})"

    def after_gap(self) -> Event:
        """A copy of this event marked `gap=True` (events are shared between subscribers)."""
        return Event(self.channel, self.message, id=self.id, gap=True)


class Unsubscribed(Exception):
    """`Subscriber.get()` after the subscription ended (its block exited, or disconnect)."""


class BroadcastError(Exception):
    """The broker could not do what was asked: unreachable, refused, or not connected.

    The message names the broker URL with its credentials redacted and says
    what to check.
    """


class BacklogOverflow(BroadcastError):
    """A subscriber fell `backlog` events behind with `on_overflow="error"`: it was ended.

    Raised by its next `get()` (and so out of `async for`).  With the default
    `on_overflow="drop_oldest"` the oldest events are dropped instead and the
    next event received carries `gap=True`.
    """
