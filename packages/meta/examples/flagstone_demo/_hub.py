"""The chat hub on flagstone-broadcast: one channel, a recent history per process.

Every worker publishes chat messages to the `chat` channel and relays that
channel to its own WebSockets and server-sent event streams, so a message
typed on one worker reaches clients of every worker.  The broker is
`memory://` (one process) unless `FLAGSTONE_DEMO_REDIS_URL` names a Redis,
which sessions use too.  Each worker also keeps the last messages (for
`GET /api/messages`) by listening to the channel itself from startup.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskStatus

from flagstone import Broadcast, Event, ServerSentEvent, WebSocket

CHANNEL = "chat"
HISTORY = 50
# A slow feed or chat client may lag this many messages behind; past it the
# oldest are dropped for that client only (flagstone-broadcast's backlog):
# a stalled client must not make a worker buffer without bound.
SUBSCRIBER_BACKLOG = 100


class Hub:
    """Chat messages: published to every worker, remembered by each."""

    def __init__(self, url: str | None = None) -> None:
        self.broadcast = Broadcast(url or "memory://", backlog=SUBSCRIBER_BACKLOG)
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        # Ids unique across workers: this process's id, then a counter.
        self._ids = (f"{os.getpid():x}-{n}" for n in itertools.count(1))

    async def publish(self, user: str, text: str) -> dict[str, Any]:
        """Record a message here and send it to every worker; return it."""
        message = {"id": next(self._ids), "user": user, "text": text, "at": time.time()}
        # Remembered at once, so this worker's own history has it before
        # the reply; its echo from the channel is recognised by id.
        self._remember(message)
        await self.broadcast.publish(CHANNEL, json.dumps(message))
        return message

    def feed_event(self, event: Event) -> ServerSentEvent:
        """One channel event as a server-sent event whose id is the message's."""
        message = json.loads(event.message)
        return ServerSentEvent(data=message, id=str(message["id"]))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Connect to the broker and keep the history for the app's lifetime."""
        async with self.broadcast, anyio.create_task_group() as tg:
            await tg.start(self._keep_history)
            yield
            tg.cancel_scope.cancel()

    async def _keep_history(self, *, task_status: TaskStatus[None]) -> None:
        async with self.broadcast.subscribe(CHANNEL) as subscriber:
            task_status.started()
            async for event in subscriber:
                self._remember(json.loads(event.message))

    def _remember(self, message: dict[str, Any]) -> None:
        if all(kept["id"] != message["id"] for kept in self.history):
            self.history.append(message)


class ChatMember:
    """A chat socket as `websocket_relay` drives it, noting the messages it sent."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.sent_ids: deque[str] = deque(maxlen=HISTORY)
        self._sent = anyio.Event()

    async def receive_text(self) -> str:
        """The member's next text frame."""
        return await self.websocket.receive_text()

    async def send_text(self, data: str) -> None:
        """Send one chat message (JSON) and note its id."""
        await self.websocket.send_text(data)
        self.sent_ids.append(json.loads(data)["id"])
        self._sent.set()
        self._sent = anyio.Event()

    async def send_bytes(self, data: bytes) -> None:
        """Send binary (the chat channel carries none)."""
        await self.websocket.send_bytes(data)

    async def send_json(self, data: Any) -> None:
        """Send JSON (the chat channel carries text)."""
        await self.websocket.send_json(data)

    async def wait_sent(self, message_id: str, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` seconds) until the message went out on this socket."""
        with anyio.move_on_after(timeout):
            while message_id not in self.sent_ids:
                await self._sent.wait()
