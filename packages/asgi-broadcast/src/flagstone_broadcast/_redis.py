"""Redis backends: pub/sub (redis://, rediss://) and Streams (redis-stream://)."""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio

from flagstone_contract.http import redact_url

from ._backend import BroadcastBackend, GapNotice
from ._driver import Driver, Outage, check_message, unreachable
from ._event import BroadcastError, Event

__all__ = ["RedisPubSubBackend", "RedisStreamBackend"]

# How long one read waits for messages before the loop looks again (new
# channels on the stream backend, cancellation of a worker thread on trio).
POLL = 0.25
# Messages taken from the socket per read: one thread hop (trio) or one
# await carries a batch, not a message.
BATCH = 512
_STREAM_ID = re.compile(r"\d{1,20}(-\d{1,20})?")


def _redis_modules() -> tuple[Any, Any]:
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:
        raise ImportError(
            'the Redis broadcast backends need redis-py: pip install "flagstone-broadcast[redis]"'
        ) from exc
    return redis, redis.asyncio


def _text(value: Any) -> Any:
    """Bytes from Redis as str (what was published as str); undecodable bytes stay bytes."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


class _RedisBackend(BroadcastBackend):
    """What both Redis backends share: clients on asyncio or trio, timeouts, redaction."""

    timeout: float = 5.0

    def __init__(self, url: str, *, timeout: float = 5.0, max_backoff: float = 5.0) -> None:
        self._redis, self._redis_asyncio = _redis_modules()
        self._client_url = url
        self.url = redact_url(url)
        self.timeout = timeout
        self._outage = Outage(self.url, max_delay=max_backoff)
        self._errors: tuple[type[BaseException], ...] = (self._redis.RedisError, OSError)
        self._driver: Driver | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _make_client(self) -> Any:
        # No retries inside redis-py: a lost connection must surface here, so
        # that subscribers are told about the gap, and a publish to a broker
        # that is down fails within `timeout` instead of retrying silently.
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        module = self._redis_asyncio if self.driver.asyncio else self._redis
        return module.Redis.from_url(
            self._client_url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
        )

    @property
    def driver(self) -> Driver:
        """How calls reach the client on this event loop (set by `connect()`)."""
        if self._driver is None:
            raise BroadcastError(f"{self!r} is not connected")
        return self._driver

    async def connect(self) -> None:
        """Check that Redis answers (an app should not start without its broker)."""
        self._driver = Driver()
        self._client = self._make_client()
        errors: tuple[type[BaseException], ...] = (*self._errors, TimeoutError)
        try:
            with anyio.fail_after(self.timeout * 2):
                await self.driver.call(self._client.ping)
        except errors as exc:
            await self._close_client()
            raise unreachable(self.url, "connecting", exc) from exc

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await self.driver.call(client.aclose if self.driver.asyncio else client.close)
        except self._errors:
            pass

    async def _command(self, action: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self.driver.call(method, *args, **kwargs)
        except self._redis.ConnectionError:
            # After a Redis restart every idle pooled connection died with
            # the old server: drop them all and try once more on a fresh one,
            # rather than failing once per stale connection.
            try:
                pool = self._client.connection_pool
                await self.driver.call(pool.disconnect, inuse_connections=False)
                return await self.driver.call(method, *args, **kwargs)
            except self._errors as exc:
                raise unreachable(self.url, action, exc) from exc
        except self._errors as exc:
            raise unreachable(self.url, action, exc) from exc


class RedisPubSubBackend(_RedisBackend):
    """redis:// and rediss://: Redis pub/sub, one subscribing connection per process.

    Every channel is multiplexed on that connection.  When it is lost, the
    backend reconnects with exponential backoff (up to `max_backoff`
    seconds), subscribes again, and the next event of every subscriber
    carries `gap=True`: pub/sub keeps nothing for absent subscribers, so
    messages published meanwhile are gone (use redis-stream:// to lose
    none).  `publish` while Redis is down raises `BroadcastError` within
    `timeout` seconds.
    """

    def __init__(self, url: str, *, timeout: float = 5.0, max_backoff: float = 5.0) -> None:
        super().__init__(url, timeout=timeout, max_backoff=max_backoff)
        self._channels: set[str] = set()
        self._confirmations: dict[str, anyio.Event] = {}
        # Subscriptions still waiting for Redis' confirmation when the
        # connection was lost: told at once instead of at their timeout.
        self._refused: dict[str, BaseException] = {}
        self._pending: deque[Event | GapNotice] = deque()
        self._pubsub: Any = None
        self._wakeup: anyio.Event | None = None

    async def connect(self) -> None:
        """Connect and prepare the subscribing connection."""
        await super().connect()
        self._pubsub = self._client.pubsub()

    async def disconnect(self) -> None:
        """Close both connections."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await self.driver.call(pubsub.aclose if self.driver.asyncio else pubsub.close)
            except self._errors:
                pass
        await self._close_client()
        self._channels.clear()

    async def subscribe(self, channel: str) -> None:
        """SUBSCRIBE, and wait until Redis confirms it (within `timeout`).

        While the subscribing connection is being re-made (an outage), fail
        at once: a crowd of clients reconnecting meanwhile must not each
        wait out the timeout in turn.
        """
        action = f"subscribing to {channel!r}"
        if self._outage.since is not None:
            raise unreachable(self.url, action, ConnectionError("reconnecting"))
        confirmed = self._confirmations[channel] = anyio.Event()
        self._channels.add(channel)
        try:
            await self._command(action, self._pubsub.subscribe, channel)
            self._wake()
            with anyio.fail_after(self.timeout):
                await confirmed.wait()
            if channel in self._refused:
                raise unreachable(self.url, action, self._refused.pop(channel))
        except BaseException as exc:
            self._channels.discard(channel)
            self._confirmations.pop(channel, None)
            if isinstance(exc, TimeoutError):
                raise unreachable(self.url, f"subscribing to {channel!r}", exc) from exc
            raise

    async def unsubscribe(self, channel: str) -> None:
        """UNSUBSCRIBE (a lost connection forgets it anyway)."""
        self._channels.discard(channel)
        self._confirmations.pop(channel, None)
        await self._command(f"unsubscribing from {channel!r}", self._pubsub.unsubscribe, channel)

    async def publish(self, channel: str, message: Any) -> None:
        """PUBLISH; `BroadcastError` if Redis does not take it within `timeout`."""
        check_message(message)
        await self._command(f"publishing to {channel!r}", self._client.publish, channel, message)

    async def next_published(self) -> Event | GapNotice:
        """The next message of a subscribed channel, or a gap notice after a reconnect."""
        while not self._pending:
            if not self._channels:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
                continue
            try:
                messages = await self._read()
            except self._errors as exc:
                await self._reconnect(exc)
                continue
            for message in messages:
                self._handle(message)
        return self._pending.popleft()

    async def _read(self) -> list[Any]:
        if self.driver.asyncio:
            return await _read_async(self._pubsub)
        return await anyio.to_thread.run_sync(_read_blocking, self._pubsub)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = _text(message.get("channel"))
        if kind == "message" and channel in self._channels:
            self._pending.append(Event(channel, _text(message.get("data"))))
        elif kind == "subscribe":
            confirmed = self._confirmations.pop(channel, None)
            if confirmed is not None:
                confirmed.set()

    async def _reconnect(self, exc: BaseException) -> None:
        """Replace the subscribing connection until Redis answers; then report the gap."""
        for channel, confirmed in self._confirmations.items():
            self._refused[channel] = exc
            self._channels.discard(channel)
            confirmed.set()
        self._confirmations.clear()
        while True:
            await self._outage.failed(exc)
            old, self._pubsub = self._pubsub, self._client.pubsub()
            try:
                await self.driver.call(old.aclose if self.driver.asyncio else old.close)
            except self._errors:
                pass
            try:
                if self._channels:
                    await self.driver.call(self._pubsub.subscribe, *self._channels)
                break
            except self._errors as again:
                exc = again
        self._outage.recovered()
        self._pending.append(GapNotice())

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None


async def _read_async(pubsub: Any) -> list[Any]:
    messages = []
    message = await pubsub.get_message(timeout=POLL)
    while message is not None:
        messages.append(message)
        if len(messages) >= BATCH:
            break
        message = await pubsub.get_message(timeout=0)
    return messages


def _read_blocking(pubsub: Any) -> list[Any]:
    # In a worker thread (trio): the same as _read_async with the blocking client.
    messages = []
    message = pubsub.get_message(timeout=POLL)
    while message is not None:
        messages.append(message)
        if len(messages) >= BATCH:
            break
        message = pubsub.get_message(timeout=0)
    return messages


class RedisStreamBackend(_RedisBackend):
    """redis-stream:// (rediss-stream:// with TLS): one Redis stream per channel.

    `publish` is `XADD channel * message ...` trimmed to about `maxlen`
    entries (`redis-stream://host/0?maxlen=10000`, the default); one XREAD
    loop per process reads every subscribed channel.  Event ids are stream
    ids, so `subscribe(channel, since=id)` resumes from any retained entry,
    and after a lost connection reading continues from the last id seen:
    nothing retained is lost, so no gap is reported.
    """

    maxlen: int | None = None

    def __init__(
        self, url: str, *, timeout: float = 5.0, max_backoff: float = 5.0, maxlen: int | None = None
    ) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        found = [value for name, value in query if name == "maxlen"]
        if maxlen is None:
            try:
                maxlen = int(found[-1]) if found else 10_000
            except ValueError:
                raise ValueError(
                    f"redis-stream:// maxlen must be an int, got {found[-1]!r}"
                ) from None
        if maxlen < 1:
            raise ValueError(f"redis-stream:// maxlen must be positive, got {maxlen}")
        scheme = "rediss" if parts.scheme.lower() == "rediss-stream" else "redis"
        rest = urlencode([(name, value) for name, value in query if name != "maxlen"])
        super().__init__(
            urlunsplit(parts._replace(scheme=scheme, query=rest)),
            timeout=timeout,
            max_backoff=max_backoff,
        )
        self.url = redact_url(url)
        self._outage.where = self.url
        self.maxlen = maxlen
        self._positions: dict[str, str] = {}
        self._pending: deque[Event] = deque()
        self._wakeup: anyio.Event | None = None

    async def disconnect(self) -> None:
        """Close the connections."""
        await self._close_client()
        self._positions.clear()

    async def subscribe(self, channel: str) -> None:
        """Read `channel` from its current end: what is published from now on."""
        newest = await self._command(
            f"subscribing to {channel!r}", self._client.xrevrange, channel, "+", "-", count=1
        )
        self._positions[channel] = _text(newest[0][0]) if newest else "0-0"
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def unsubscribe(self, channel: str) -> None:
        """Stop reading `channel`."""
        self._positions.pop(channel, None)

    async def publish(self, channel: str, message: Any) -> None:
        """XADD, trimmed to about `maxlen` entries."""
        check_message(message)
        await self._command(
            f"publishing to {channel!r}",
            self._client.xadd,
            channel,
            {"message": message},
            maxlen=self.maxlen,
            approximate=True,
        )

    async def next_published(self) -> Event:
        """The next entry of a subscribed stream."""
        while not self._pending:
            if not self._positions:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
                continue
            streams = dict(self._positions)
            try:
                replies = await self.driver.call(
                    self._client.xread, streams, count=BATCH, block=int(POLL * 1000)
                )
            except self._errors as exc:
                await self._outage.failed(exc)
                continue
            self._outage.recovered()
            for stream, entries in replies or ():
                channel = _text(stream)
                for entry_id, fields in entries:
                    event_id = _text(entry_id)
                    if channel in self._positions:
                        self._positions[channel] = event_id
                        message = fields.get(b"message", fields.get("message"))
                        self._pending.append(Event(channel, _text(message), id=event_id))
        return self._pending.popleft()

    async def history(self, channel: str, since: str) -> list[Event]:
        """Retained entries of `channel` after id `since` (XRANGE, exclusive start)."""
        if not _STREAM_ID.fullmatch(since):
            raise ValueError(f"not a Redis stream id: {since!r} (expected like '1700000000000-0')")
        entries = await self._command(
            f"reading the history of {channel!r}",
            self._client.xrange,
            channel,
            f"({since}",
            "+",
            count=self.maxlen,
        )
        return [
            Event(channel, _text(fields.get(b"message")), id=_text(entry_id))
            for entry_id, fields in entries
        ]
