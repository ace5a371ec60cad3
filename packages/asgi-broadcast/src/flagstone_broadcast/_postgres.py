"""`PostgresBackend` (postgres://, postgresql://): LISTEN/NOTIFY with psycopg 3."""

from __future__ import annotations

from collections import deque
from typing import Any

import anyio

from flagstone_contract.http import redact_url

from ._backend import BroadcastBackend, GapNotice
from ._driver import Driver, Outage, check_message, unreachable
from ._event import BroadcastError, Event

__all__ = ["PostgresBackend"]

# How long one wait for notifications lasts before the loop looks again: the
# LISTEN of a new channel waits at most this long for the connection.
POLL = 0.1
BATCH = 512
# PostgreSQL's limits: identifiers (channel names) of at most 63 bytes
# (longer ones would be truncated, so two channels could merge), NOTIFY
# payloads of less than 8000 bytes.
MAX_CHANNEL_BYTES = 63


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            'the postgres:// broadcast backend needs psycopg 3: pip install "flagstone-broadcast[postgres]"'
        ) from exc
    return psycopg


def _check_channel(channel: str) -> None:
    if len(channel.encode()) > MAX_CHANNEL_BYTES or not channel or "\x00" in channel:
        raise ValueError(
            f"a postgres:// channel name must be 1 to {MAX_CHANNEL_BYTES} bytes without NUL "
            f"(a PostgreSQL identifier), got {channel!r}"
        )


class PostgresBackend(BroadcastBackend):
    """postgres:// and postgresql://: PostgreSQL's LISTEN/NOTIFY, no table needed.

    One listening connection per process carries every channel, and one more
    connection publishes.  Channel names are PostgreSQL identifiers (at most
    63 bytes); messages are text under 8000 bytes (PostgreSQL's NOTIFY
    limit: larger ones raise `BroadcastError` saying so).  NOTIFY keeps
    nothing for absent listeners, so after a lost connection the backend
    reconnects with backoff and the next event carries `gap=True`.

    On asyncio it uses psycopg's asyncio connections; on trio its blocking
    connections in worker threads (the same library, the same behaviour).
    """

    timeout: float = 5.0

    def __init__(self, url: str, *, timeout: float = 5.0, max_backoff: float = 5.0) -> None:
        self._psycopg = _psycopg()
        self._dsn = url
        self.url = redact_url(url)
        self.timeout = timeout
        self._outage = Outage(self.url, max_delay=max_backoff)
        self._driver: Driver | None = None
        self._listener: Any = None
        self._publisher: Any = None
        self._channels: set[str] = set()
        self._pending: deque[Event | GapNotice] = deque()
        self._wakeup: anyio.Event | None = None

    def __repr__(self) -> str:
        return f"PostgresBackend({self.url!r})"

    @property
    def driver(self) -> Driver:
        """How calls reach psycopg on this event loop (set by `connect()`)."""
        if self._driver is None:
            raise BroadcastError(f"{self!r} is not connected")
        return self._driver

    async def _open(self, action: str) -> Any:
        psycopg = self._psycopg
        factory = psycopg.AsyncConnection if self.driver.asyncio else psycopg.Connection
        try:
            with anyio.fail_after(self.timeout * 2):
                return await self.driver.call(
                    factory.connect,
                    self._dsn,
                    autocommit=True,
                    connect_timeout=max(2, round(self.timeout)),
                )
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise unreachable(self.url, action, exc) from exc

    async def _close(self, connection: Any) -> None:
        if connection is not None:
            try:
                await self.driver.call(connection.close)
            except (self._psycopg.Error, OSError):
                pass

    async def connect(self) -> None:
        """Open the listening and the publishing connection."""
        self._driver = Driver()
        self._listener = await self._open("connecting")
        try:
            self._publisher = await self._open("connecting")
        except BroadcastError:
            await self._close(self._listener)
            raise

    async def disconnect(self) -> None:
        """Close both connections."""
        listener, publisher = self._listener, self._publisher
        self._listener = self._publisher = None
        await self._close(listener)
        await self._close(publisher)
        self._channels.clear()

    def _sql(self, statement: str, channel: str) -> Any:
        sql = self._psycopg.sql
        return sql.SQL(statement).format(sql.Identifier(channel))

    async def subscribe(self, channel: str) -> None:
        """LISTEN on the shared listening connection (at once an error while it is re-made)."""
        _check_channel(channel)
        if self._outage.since is not None:
            raise unreachable(
                self.url, f"subscribing to {channel!r}", ConnectionError("reconnecting")
            )
        try:
            await self.driver.call(self._listener.execute, self._sql("LISTEN {}", channel))
        except (self._psycopg.Error, OSError) as exc:
            raise unreachable(self.url, f"subscribing to {channel!r}", exc) from exc
        self._channels.add(channel)
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def unsubscribe(self, channel: str) -> None:
        """UNLISTEN."""
        self._channels.discard(channel)
        try:
            await self.driver.call(self._listener.execute, self._sql("UNLISTEN {}", channel))
        except (self._psycopg.Error, OSError) as exc:
            raise unreachable(self.url, f"unsubscribing from {channel!r}", exc) from exc

    async def publish(self, channel: str, message: Any) -> None:
        """`SELECT pg_notify(channel, message)`; `BroadcastError` if PostgreSQL refuses it."""
        _check_channel(channel)
        check_message(message)
        if isinstance(message, bytes):
            message = message.decode("utf-8")
        psycopg = self._psycopg
        if self._publisher is None or self._publisher.closed:
            self._publisher = await self._open(f"publishing to {channel!r}")
        try:
            await self.driver.call(
                self._publisher.execute, "SELECT pg_notify(%s, %s)", (channel, str(message))
            )
        except psycopg.OperationalError as exc:
            # The connection is gone (server restarted): the next publish reconnects.
            await self._close(self._publisher)
            self._publisher = None
            raise unreachable(self.url, f"publishing to {channel!r}", exc) from exc
        except psycopg.Error as exc:
            raise BroadcastError(
                f"PostgreSQL at {self.url} refused the notification to {channel!r}: {exc} "
                "(NOTIFY payloads must be under 8000 bytes)"
            ) from exc

    async def next_published(self) -> Event | GapNotice:
        """The next notification of a listened channel, or a gap notice after a reconnect."""
        psycopg = self._psycopg
        while not self._pending:
            if not self._channels:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
                continue
            try:
                notifies = await self._read()
            except (psycopg.Error, OSError) as exc:
                await self._reconnect(exc)
                continue
            for notify in notifies:
                if notify.channel in self._channels:
                    self._pending.append(Event(notify.channel, notify.payload))
        return self._pending.popleft()

    async def _read(self) -> list[Any]:
        listener = self._listener
        if self.driver.asyncio:
            return [n async for n in listener.notifies(timeout=POLL, stop_after=BATCH)]
        return await anyio.to_thread.run_sync(
            lambda: list(listener.notifies(timeout=POLL, stop_after=BATCH))
        )

    async def _reconnect(self, exc: BaseException) -> None:
        while True:
            await self._outage.failed(exc)
            await self._close(self._listener)
            try:
                self._listener = await self._open("reconnecting")
                for channel in list(self._channels):
                    await self.driver.call(self._listener.execute, self._sql("LISTEN {}", channel))
                break
            except (BroadcastError, self._psycopg.Error, OSError) as again:
                exc = again
        self._outage.recovered()
        self._pending.append(GapNotice())
