"""An in-process message hub: chat history, WebSocket members and SSE subscribers.

One hub per process.  Several workers each have their own hub, so chat does
not cross workers (sessions do: they live in a signed cookie or in Redis);
a multi-worker deployment would put a broker (Redis pub/sub) here.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

# Each SSE subscriber may lag this many messages behind before it is dropped:
# a slow or stalled client must not make the hub buffer without bound.
SUBSCRIBER_BUFFER = 100
HISTORY = 50


@dataclass
class Hub:
    """Recent messages plus the live subscribers that receive new ones."""

    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    subscribers: set[MemoryObjectSendStream[dict[str, Any]]] = field(default_factory=set)
    next_id: int = 1

    def subscribe(self) -> MemoryObjectReceiveStream[dict[str, Any]]:
        """A stream of every message published from now on."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](SUBSCRIBER_BUFFER)
        self.subscribers.add(send)
        return receive

    def unsubscribe(self, stream: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        """Forget the subscriber whose receiving end is `stream`."""
        stream.close()

    def publish(self, user: str, text: str) -> dict[str, Any]:
        """Record a message and hand it to every subscriber; return it."""
        message = {"id": self.next_id, "user": user, "text": text, "at": time.time()}
        self.next_id += 1
        self.history.append(message)
        for subscriber in list(self.subscribers):
            try:
                subscriber.send_nowait(message)
            except anyio.WouldBlock:
                # Lagging subscriber: drop it (its stream ends) rather than buffer.
                subscriber.close()
                self.subscribers.discard(subscriber)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self.subscribers.discard(subscriber)
        return message
