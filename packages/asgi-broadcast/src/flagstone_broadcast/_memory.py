"""`MemoryBackend` (memory://): one process, no broker; history for `since=`."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._backend import BroadcastBackend
from ._event import BroadcastError, Event

__all__ = ["MemoryBackend"]

# Published events wait here until the listener fans them out.  The fan-out
# never waits on a subscriber, so this only fills when publishers outrun the
# listener itself; then `publish` waits (backpressure) instead of growing it.
QUEUE_SIZE = 1024
# Channels whose history is kept (least recently published dropped first):
# a hostile stream of channel names must not grow memory without bound.
HISTORY_CHANNELS = 1024


class MemoryBackend(BroadcastBackend):
    """Channels inside this process only: for tests, development and one worker.

    Keeps the last `history` events of each channel (`memory://?history=100`;
    default 1000, 0 for none) with increasing ids, so `subscribe(channel,
    since=id)` resumes as on redis-stream://.
    """

    history_size: int = 1000

    def __init__(self, url: str = "memory://", *, history: int | None = None) -> None:
        if history is None:
            values = parse_qs(urlsplit(url).query).get("history", ["1000"])
            try:
                history = int(values[-1])
            except ValueError:
                raise ValueError(f"memory:// history must be an int, got {values[-1]!r}") from None
        if history < 0:
            raise ValueError(f"memory:// history must be >= 0, got {history}")
        self.history_size = history
        self._channels: set[str] = set()
        self._history: OrderedDict[str, deque[Event]] = OrderedDict()
        self._next_id = 1
        self._send: MemoryObjectSendStream[Event] | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None

    def __repr__(self) -> str:
        return f"MemoryBackend(history={self.history_size})"

    async def connect(self) -> None:
        """Open the in-process queue."""
        self._send, self._receive = anyio.create_memory_object_stream[Event](QUEUE_SIZE)

    async def disconnect(self) -> None:
        """Close the queue."""
        if self._send is not None and self._receive is not None:
            self._send.close()
            self._receive.close()
        self._send = self._receive = None

    async def subscribe(self, channel: str) -> None:
        """Deliver `channel` from now on."""
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        """Stop delivering `channel`."""
        self._channels.discard(channel)

    async def publish(self, channel: str, message: Any) -> None:
        """Queue `message` (any object: nothing is serialised in one process)."""
        if self._send is None:
            raise BroadcastError("memory:// broadcast is not connected")
        event = Event(channel, message, id=str(self._next_id))
        self._next_id += 1
        if self.history_size:
            kept = self._history.get(channel)
            if kept is None:
                kept = self._history[channel] = deque(maxlen=self.history_size)
                if len(self._history) > HISTORY_CHANNELS:
                    self._history.popitem(last=False)
            else:
                self._history.move_to_end(channel)
            kept.append(event)
        await self._send.send(event)

    async def next_published(self) -> Event:
        """The next event of a subscribed channel."""
        if self._receive is None:
            raise BroadcastError("memory:// broadcast is not connected")
        while True:
            event = await self._receive.receive()
            if event.channel in self._channels:
                return event

    async def history(self, channel: str, since: str) -> list[Event]:
        """Kept events of `channel` after id `since`."""
        try:
            after = int(since)
        except ValueError:
            raise ValueError(f"not an event id of memory://: {since!r}") from None
        return [event for event in self._history.get(channel, ()) if int(event.id or 0) > after]
