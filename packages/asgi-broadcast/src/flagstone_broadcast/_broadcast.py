"""`Broadcast`: publish to channels, subscribe to them, in one process or across many."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio

from flagstone_contract.http import redact_url

from ._backend import BroadcastBackend, GapNotice
from ._driver import Detached
from ._event import BroadcastError
from ._subscriber import OverflowPolicy, Subscriber

__all__ = ["Broadcast"]

logger = logging.getLogger("flagstone_broadcast")

# How long unsubscribing from the broker may take when a subscription ends:
# it runs shielded from cancellation (a WebSocket handler being cancelled),
# so it needs its own bound.
UNSUBSCRIBE_TIMEOUT = 5.0


def backend_for_url(url: str) -> BroadcastBackend:
    """The backend a `Broadcast(url)` uses, by the URL's scheme."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from ._memory import MemoryBackend

        return MemoryBackend(url)
    if scheme in ("redis", "rediss", "unix"):
        from ._redis import RedisPubSubBackend

        return RedisPubSubBackend(url)
    if scheme in ("redis-stream", "rediss-stream"):
        from ._redis import RedisStreamBackend

        return RedisStreamBackend(url)
    if scheme in ("postgres", "postgresql"):
        from ._postgres import PostgresBackend

        return PostgresBackend(url)
    raise ValueError(
        f"no broadcast backend for {redact_url(url)!r}: use memory://, redis://, rediss://, "
        "redis-stream://, postgres:// or postgresql://, or pass backend=..."
    )


class Broadcast:
    """Channels that every subscriber of the same broker receives, in every process.

    `Broadcast("redis://localhost:6379")` (or `memory://`, `rediss://`,
    `redis-stream://`, `postgres://`), or `Broadcast(backend=...)` with any
    `BroadcastBackend`.  `async with broadcast:` (or `connect()` then
    `disconnect()`, e.g. `lifespan=broadcast.lifespan`) around the app's
    life; without them (a server without lifespan) the first `publish` or
    `subscribe` connects.  `await broadcast.publish(channel, message)`; and::

        async with broadcast.subscribe("chat") as subscriber:
            async for event in subscriber:
                ...

    One broker connection per process carries every channel, however many
    subscribers.  Each subscriber has its own bounded backlog of `backlog`
    events (see `Subscriber` for `on_overflow`).  `disconnect()` ends every
    open subscription (their iteration stops); publishing or subscribing
    after it raises `BroadcastError`.
    """

    # The constructor's defaults, read whether or not `__init__` ran.
    url: str | None = None
    backlog: int = 1000
    on_overflow: OverflowPolicy = "drop_oldest"

    def __init__(
        self,
        url: str | None = None,
        *,
        backend: BroadcastBackend | None = None,
        backlog: int = 1000,
        on_overflow: OverflowPolicy = "drop_oldest",
    ) -> None:
        if (url is None) == (backend is None):
            raise TypeError("Broadcast takes a URL or backend=..., exactly one of them")
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
            raise ValueError(f"backlog must be a positive int, not {backlog!r}")
        if on_overflow not in ("drop_oldest", "error"):
            raise ValueError(f"on_overflow must be 'drop_oldest' or 'error', not {on_overflow!r}")
        self.url = redact_url(url) if url is not None else None
        self._backend = backend if backend is not None else backend_for_url(url or "")
        self.backlog = backlog
        self.on_overflow: OverflowPolicy = on_overflow
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._membership: anyio.Lock | None = None
        self._listener: Detached | None = None
        self._connecting: anyio.Lock | None = None
        self._disconnected = False
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        where = repr(self.url) if self.url is not None else f"backend={self._backend!r}"
        return f"Broadcast({where})"

    @property
    def backend(self) -> BroadcastBackend:
        """The backend this broadcast drives."""
        return self._backend

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions to `channel` this process has open right now."""
        return len(self._subscribers.get(channel, ()))

    @property
    def connected(self) -> bool:
        """Whether `connect()` ran and `disconnect()` has not."""
        return self._listener is not None

    # -- life ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the broker and start receiving (from any task; a lifespan's startup)."""
        if self._listener is not None:
            raise RuntimeError(f"{self!r} is already connected")
        await self._backend.connect()
        self._failure = None
        self._disconnected = False
        self._membership = anyio.Lock()
        # The one receiving task of this process outlives this call, so it
        # belongs to no caller's task group (see Detached).
        self._listener = Detached(self._listen)
        self._listener.start()

    async def disconnect(self) -> None:
        """End every subscription, stop receiving and close the broker connection."""
        listener, self._listener = self._listener, None
        self._disconnected = True
        if listener is None:
            return
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber._close()
        try:
            with anyio.CancelScope(shield=True):
                await listener.stop()
        finally:
            await self._backend.disconnect()

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """A lifespan that connects at startup and disconnects at shutdown.

        `App(lifespan=broadcast.lifespan)`, or `async with broadcast.lifespan():`
        inside your own lifespan.
        """
        async with self:
            yield

    # -- publish and subscribe ---------------------------------------------------

    async def publish(self, channel: str, message: Any) -> None:
        """Send `message` to every subscriber of `channel`, in every process.

        With a broker, `message` is a `str` (or bytes / a number, received as
        `str`); `json.dumps` anything else.  Raises `BroadcastError` when the
        broker cannot take it (down, refused), after at most the backend's timeout.
        """
        await self._ensure_connected("publish")
        await self._backend.publish(channel, message)

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, since: str | None = None
    ) -> AsyncIterator[Subscriber]:
        """Receive the events of `channel` published while the block runs.

        `since`: also receive the retained events published after the event
        with that id first (`Event.id`, e.g. an SSE `Last-Event-ID`), in order
        and without duplicates; memory:// and redis-stream:// keep history.
        Raises `ValueError` for an id the backend cannot have given.
        """
        await self._ensure_connected("subscribe")
        subscriber = Subscriber(channel, self.backlog, self.on_overflow)
        assert self._membership is not None  # set by connect()
        async with self._membership:
            subscribers = self._subscribers.get(channel)
            if subscribers is None:
                # The broker confirms before this returns: a message published
                # once the `async with` body runs reaches the subscriber.
                await self._backend.subscribe(channel)
                subscribers = self._subscribers[channel] = set()
            subscribers.add(subscriber)
        try:
            if since is not None:
                subscriber._backfill(await self._backend.history(channel, since))
            yield subscriber
        finally:
            subscriber._close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(UNSUBSCRIBE_TIMEOUT):
                await self._leave(channel, subscriber)

    async def _leave(self, channel: str, subscriber: Subscriber) -> None:
        if self._membership is None:
            return
        async with self._membership:
            subscribers = self._subscribers.get(channel)
            if subscribers is None:
                return
            subscribers.discard(subscriber)
            if subscribers:
                return
            del self._subscribers[channel]
            if self._listener is None:
                return  # disconnected meanwhile: the backend is closed already
            try:
                await self._backend.unsubscribe(channel)
            except Exception as exc:
                # The broker forgets the subscription with the connection anyway.
                logger.warning("broadcast: unsubscribing from %r failed: %s", channel, exc)

    async def _ensure_connected(self, action: str) -> None:
        if self._listener is None:
            if self._disconnected:
                raise BroadcastError(
                    f"cannot {action}: {self!r} was disconnected (the app is shutting down)"
                )
            # Served without a lifespan (daphne, some test clients): the first
            # publish or subscribe connects, once, however many ask at once.
            if self._connecting is None:
                self._connecting = anyio.Lock()
            async with self._connecting:
                if self._listener is None:
                    await self.connect()
        if self._failure is not None:
            raise BroadcastError(f"{self!r} stopped receiving: {self._failure}") from self._failure

    # -- the one listener per process -------------------------------------------

    async def _listen(self) -> None:
        try:
            while True:
                item = await self._backend.next_published()
                if isinstance(item, GapNotice):
                    self._mark_gap(item)
                    continue
                for subscriber in self._subscribers.get(item.channel, ()):
                    subscriber._push(item)
        except Exception as exc:
            # A backend that gives up (a custom one raising): end every
            # subscription with the reason instead of leaving them waiting.
            logger.exception("broadcast: receiving from %r failed; subscriptions ended", self)
            self._failure = exc
            error = BroadcastError(f"{self!r} stopped receiving: {exc}")
            error.__cause__ = exc
            for subscribers in self._subscribers.values():
                for subscriber in subscribers:
                    subscriber._fail(error)

    def _mark_gap(self, notice: GapNotice) -> None:
        for channel, subscribers in self._subscribers.items():
            if notice.channels is None or channel in notice.channels:
                for subscriber in subscribers:
                    subscriber._mark_gap()
