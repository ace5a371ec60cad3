"""Redis stopped and restarted under live subscribers, on a private port this module owns.

What an outage may cost: a publish while Redis is down raises
`BroadcastError` at once (never hangs); subscribers stay subscribed and
resume by themselves once Redis is back; on pub/sub the next event says
`gap=True` (what was published meanwhile is gone); on streams kept by
Redis nothing is lost and no gap is reported.  Bounds (`fail_after`)
catch hangs; they are not timings.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest

from flagstone_broadcast import (
    Broadcast,
    BroadcastError,
    Event,
    RedisPubSubBackend,
    RedisStreamBackend,
    Subscriber,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import Served, redis_ping, redis_server
from system_deps import require

pytestmark = pytest.mark.anyio

BOUND = 20.0


class RedisProcess:
    """One redis-server on a fixed port that a test stops and restarts (data kept in `data`)."""

    def __init__(self, tmp_path: Path) -> None:
        self.log_dir = tmp_path
        self.data = tmp_path / "data"
        self.data.mkdir()
        self.stack = ExitStack()
        self.served: Served = self.stack.enter_context(
            redis_server(tmp_path, persist_dir=self.data)
        )
        self.port = self.served.port

    def stop(self) -> None:
        self.stack.close()
        self.stack = ExitStack()
        assert not redis_ping(self.port)

    def restart(self) -> None:
        self.served = self.stack.enter_context(
            redis_server(self.log_dir, port=self.port, persist_dir=self.data)
        )

    def close(self) -> None:
        self.stack.close()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    require("redis-server")
    process = RedisProcess(tmp_path)
    yield process
    process.close()


async def publish_until_received(
    broadcast: Broadcast, subscriber: Subscriber, channel: str
) -> list[Event]:
    """Publish numbered messages until the subscriber receives one (it has resubscribed)."""
    received: list[Event] = []
    n = 0
    with anyio.fail_after(BOUND):
        while not received:
            try:
                await broadcast.publish(channel, f"probe {n}")
            except BroadcastError:
                pass  # the publisher's own connection may still be coming back
            n += 1
            with anyio.move_on_after(0.1):
                received.append(await subscriber.get())
    return received


async def test_pubsub_subscribers_resume_after_a_restart_and_see_the_gap(
    redis_process: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{redis_process.port}/0"
    backend = RedisPubSubBackend(url, max_backoff=0.2)
    async with (
        Broadcast(backend=backend) as worker_a,
        Broadcast(url) as worker_b,
        worker_a.subscribe("room") as subscriber,
    ):
        await worker_b.publish("room", "before")
        with anyio.fail_after(BOUND):
            assert (await subscriber.get()) == Event("room", "before")

        redis_process.stop()
        with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer"):
            await worker_b.publish("room", "while down")
        # A client arriving during the outage is told so (at once once the
        # worker noticed the outage), and may retry.
        with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer"):
            async with worker_a.subscribe("another room"):
                pass
        redis_process.restart()

        first, *_ = await publish_until_received(worker_b, subscriber, "room")
        assert first.gap is True
        assert first.message.startswith("probe")
        await worker_b.publish("room", "after")
        with anyio.fail_after(BOUND):
            while (event := await subscriber.get()).message != "after":
                pass
        assert event.gap is False
    lost = [r for r in caplog.records if "lost the connection" in r.getMessage()]
    assert len(lost) == 1  # one line per outage, not one per attempt


async def test_streams_lose_nothing_across_a_restart(redis_process: RedisProcess) -> None:
    url = f"redis-stream://127.0.0.1:{redis_process.port}/0"
    backend = RedisStreamBackend(url, max_backoff=0.2)
    async with Broadcast(backend=backend) as worker_a, Broadcast(url) as worker_b:
        async with worker_a.subscribe("feed") as subscriber:
            await worker_b.publish("feed", "one")
            await worker_b.publish("feed", "two")
            with anyio.fail_after(BOUND):
                first = [await subscriber.get(), await subscriber.get()]
            assert [e.message for e in first] == ["one", "two"]

            redis_process.stop()
            with anyio.fail_after(BOUND), pytest.raises(BroadcastError):
                await worker_b.publish("feed", "refused, and the publisher knows it")
            redis_process.restart()

            with anyio.fail_after(BOUND):
                while True:
                    try:
                        await worker_b.publish("feed", "three")
                        break
                    except BroadcastError:
                        await anyio.sleep(0.05)  # polling the publisher's reconnect
                third = await subscriber.get()
            assert (third.message, third.gap) == ("three", False)

        # A browser that saw "one" reconnects to the other worker: nothing lost.
        async with worker_b.subscribe("feed", since=first[0].id) as resumed:
            with anyio.fail_after(BOUND):
                assert [(await resumed.get()).message for _ in range(2)] == ["two", "three"]


async def test_subscribing_while_redis_is_down_is_a_clear_error(
    redis_process: RedisProcess,
) -> None:
    url = f"127.0.0.1:{redis_process.port}/0"
    for backend in (
        RedisPubSubBackend(f"redis://{url}", timeout=1),
        RedisStreamBackend(f"redis-stream://{url}", timeout=1),
    ):
        async with Broadcast(backend=backend) as broadcast:
            redis_process.stop()
            try:
                with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer"):
                    async with broadcast.subscribe("room"):
                        pass
            finally:
                redis_process.restart()
