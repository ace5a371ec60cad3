"""`Subscriber`: one subscription's bounded backlog of events."""

from __future__ import annotations

from collections import deque
from typing import Literal

import anyio

from ._event import BacklogOverflow, Event, Unsubscribed

__all__ = ["OverflowPolicy", "Subscriber"]

OverflowPolicy = Literal["drop_oldest", "error"]


class Subscriber:
    """What `async with broadcast.subscribe(channel) as subscriber` gives.

    `await subscriber.get()` returns the next `Event` (raising `Unsubscribed`
    once the subscription ended and its backlog is empty); `async for event
    in subscriber` does the same until then.

    The backlog (events received but not yet read) holds at most `backlog`
    events, so a client that stops reading costs bounded memory and never
    slows the other subscribers: delivery to a subscriber never waits.  When
    it is full, `on_overflow="drop_oldest"` drops the oldest event, counts it
    in `missed` and marks the next event read with `gap=True`;
    `on_overflow="error"` ends the subscription, and the next `get()` raises
    `BacklogOverflow`.
    """

    # Class-level defaults; `channel` is set by `__init__` (docs/building-a-framework.md).
    backlog: int = 1000
    on_overflow: OverflowPolicy = "drop_oldest"
    missed: int = 0

    def __init__(self, channel: str, backlog: int, on_overflow: OverflowPolicy) -> None:
        self.channel = channel
        self.backlog = backlog
        self.on_overflow = on_overflow
        #: Events dropped from this subscriber's full backlog so far.
        self.missed = 0
        self._events: deque[Event] = deque()
        self._wakeup: anyio.Event | None = None
        self._gap = False
        self._closed = False
        self._error: BaseException | None = None
        # After a `since=` backfill: ids already delivered from history, so
        # the same events arriving live are not delivered twice.
        self._seen: set[str] | None = None

    def __repr__(self) -> str:
        return (
            f"<Subscriber channel={self.channel!r} pending={len(self._events)} "
            f"missed={self.missed}{' ended' if self._closed else ''}>"
        )

    async def get(self) -> Event:
        """The next event; waits for one.  Raises `Unsubscribed` after the end."""
        while not self._events:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise Unsubscribed()
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
        event = self._events.popleft()
        if self._gap:
            self._gap = False
            return event.after_gap()
        return event

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except Unsubscribed:
            raise StopAsyncIteration from None

    # -- fed by Broadcast --------------------------------------------------------

    def _push(self, event: Event) -> None:
        # Never waits: one slow subscriber must not hold up the fan-out.
        if self._closed:
            return
        if self._seen is not None:
            if event.id in self._seen:
                return
            # Live events arrive in order: past the first new one, no more
            # duplicates of the history can come.
            self._seen = None
        if len(self._events) >= self.backlog:
            if self.on_overflow == "error":
                self._fail(
                    BacklogOverflow(
                        f"subscriber of channel {self.channel!r} fell {self.backlog} events "
                        "behind and was ended (on_overflow='error'); read faster, raise "
                        "`backlog`, or use on_overflow='drop_oldest'"
                    )
                )
                return
            self._events.popleft()
            self.missed += 1
            self._gap = True
        self._events.append(event)
        self._wake()

    def _backfill(self, history: list[Event]) -> None:
        """Put `history` before the live events already received, without duplicates."""
        seen = {event.id for event in history if event.id is not None}
        live = [event for event in self._events if event.id not in seen]
        merged = [*history, *live]
        # History larger than the backlog keeps its newest part (and says so).
        if len(merged) > self.backlog:
            self.missed += len(merged) - self.backlog
            self._gap = True
            merged = merged[-self.backlog :]
        self._events = deque(merged)
        self._seen = seen if not live else None
        self._wake()

    def _mark_gap(self) -> None:
        self._gap = True

    def _close(self) -> None:
        self._closed = True
        self._wake()

    def _fail(self, error: BaseException) -> None:
        self._events.clear()
        self._error = error
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None
