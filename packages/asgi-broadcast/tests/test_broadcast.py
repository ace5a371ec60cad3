"""Broadcast on memory://: broadcaster's API, bounded backlogs, history and resume."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from flagstone_broadcast import (
    BacklogOverflow,
    Broadcast,
    BroadcastBackend,
    BroadcastError,
    Event,
    MemoryBackend,
    Unsubscribed,
)

pytestmark = pytest.mark.anyio

BOUND = 5.0  # seconds: every wait below is bounded; a hang fails instead


async def test_publish_reaches_every_subscriber_of_the_channel_only() -> None:
    async with (
        Broadcast("memory://") as broadcast,
        broadcast.subscribe("chat") as first,
        broadcast.subscribe("chat") as second,
        broadcast.subscribe("other") as other,
    ):
        await broadcast.publish("chat", "hello")
        await broadcast.publish("other", "elsewhere")
        with anyio.fail_after(BOUND):
            assert await first.get() == Event("chat", "hello")
            assert await second.get() == Event("chat", "hello")
            assert await other.get() == Event("other", "elsewhere")


async def test_broadcaster_style_code_ports_unchanged() -> None:
    # Written as broadcaster's README writes it; only the import differs.
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    received: list[str] = []
    try:
        async with broadcast.subscribe(channel="chatroom") as subscriber:
            for text in ("a", "b", "c"):
                await broadcast.publish(channel="chatroom", message=text)
            with anyio.fail_after(BOUND):
                async for event in subscriber:
                    received.append(event.message)
                    if len(received) == 3:
                        break
    finally:
        await broadcast.disconnect()
    assert received == ["a", "b", "c"]


def test_event_equality_and_repr() -> None:
    assert Event("c", "m") == Event("c", "m")
    assert Event("c", "m") != Event("c", "n")
    assert Event("c", "m") != Event("d", "m")
    assert Event("c", "m", id="7") == Event("c", "m")  # ids do not change equality
    assert Event("c", "m") != ("c", "m")
    assert repr(Event("c", "m")) == "Event(channel='c', message='m')"
    assert (
        repr(Event("c", "m", id="7", gap=True))
        == "Event(channel='c', message='m', id='7', gap=True)"
    )


async def test_get_after_the_subscription_ended_raises_unsubscribed() -> None:
    async with Broadcast("memory://") as broadcast:
        async with broadcast.subscribe("chat") as subscriber:
            pass
        with anyio.fail_after(BOUND), pytest.raises(Unsubscribed):
            await subscriber.get()


async def test_disconnect_ends_open_subscriptions() -> None:
    # The shape of an app: the lifespan task connects and later disconnects,
    # while a request task iterates over a subscription.
    broadcast = Broadcast("memory://")
    connected, ready, stop, done = anyio.Event(), anyio.Event(), anyio.Event(), anyio.Event()
    seen: list[Any] = []

    async def lifespan() -> None:
        async with broadcast:
            connected.set()
            await stop.wait()

    async def listen() -> None:
        async with broadcast.subscribe("chat") as subscriber:
            ready.set()
            async for event in subscriber:
                seen.append(event)
        done.set()

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lifespan)
            await connected.wait()
            tg.start_soon(listen)
            await ready.wait()
            stop.set()
            await done.wait()
    assert seen == []
    assert not broadcast.connected


async def test_without_a_lifespan_the_first_use_connects() -> None:
    # A server without lifespan (daphne) never calls connect().
    broadcast = Broadcast("memory://")
    async with broadcast.subscribe("chat") as subscriber:
        assert broadcast.connected
        await broadcast.publish("chat", "x")
        with anyio.fail_after(BOUND):
            assert (await subscriber.get()).message == "x"
    await broadcast.disconnect()


async def test_after_disconnect_publish_and_subscribe_are_refused() -> None:
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    await broadcast.disconnect()
    with pytest.raises(BroadcastError, match="was disconnected"):
        await broadcast.publish("chat", "x")
    with pytest.raises(BroadcastError, match="was disconnected"):
        async with broadcast.subscribe("chat"):
            pass
    await broadcast.connect()  # an explicit connect starts over
    await broadcast.publish("chat", "x")
    await broadcast.disconnect()


async def test_connect_and_disconnect_may_run_in_different_tasks() -> None:
    broadcast = Broadcast("memory://")
    async with anyio.create_task_group() as tg:
        tg.start_soon(broadcast.connect)
    async with broadcast.subscribe("c") as subscriber:
        await broadcast.publish("c", 1)
        with anyio.fail_after(BOUND):
            assert (await subscriber.get()).message == 1
    async with anyio.create_task_group() as tg:
        tg.start_soon(broadcast.disconnect)
    assert not broadcast.connected


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((), {}, TypeError),
        (("memory://",), {"backend": MemoryBackend()}, TypeError),
        (("kafka://localhost:9092",), {}, ValueError),
        (("memory://",), {"backlog": 0}, ValueError),
        (("memory://",), {"on_overflow": "block"}, ValueError),
        (("memory://?history=lots",), {}, ValueError),
    ],
    ids=[
        "nothing",
        "url_and_backend",
        "unknown_scheme",
        "zero_backlog",
        "unknown_policy",
        "bad_history",
    ],
)
def test_bad_construction_says_what_to_do(args: Any, kwargs: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Broadcast(*args, **kwargs)


def test_unknown_scheme_error_hides_credentials() -> None:
    with pytest.raises(ValueError, match="redis-stream://") as info:
        Broadcast("amqp://ada:hunter2@broker/")
    assert "hunter2" not in str(info.value)


async def test_a_stalled_subscriber_is_bounded_and_does_not_slow_others() -> None:
    async with (
        Broadcast("memory://", backlog=10) as broadcast,
        broadcast.subscribe("c") as stalled,
        broadcast.subscribe("c") as reader,
    ):
        with anyio.fail_after(BOUND):
            for n in range(100):
                await broadcast.publish("c", n)
                assert (await reader.get()).message == n  # the reader keeps pace
        # The stalled one kept only the newest 10 and says it missed 90.
        assert stalled.missed == 90
        first = await stalled.get()
        assert (first.message, first.gap) == (90, True)
        rest = [(await stalled.get()) for _ in range(9)]
        assert [e.message for e in rest] == list(range(91, 100))
        assert not any(e.gap for e in rest)


async def test_overflow_policy_error_ends_the_subscription() -> None:
    # The pacer reads each event as it comes, so only `subscriber` overflows.
    async with (
        Broadcast("memory://", backlog=3, on_overflow="error") as broadcast,
        broadcast.subscribe("c") as subscriber,
        broadcast.subscribe("c") as pacer,
    ):
        with anyio.fail_after(BOUND):
            for n in range(4):
                await broadcast.publish("c", n)
                # Handed out to both once the pacer has it.
                assert (await pacer.get()).message == n
        with pytest.raises(BacklogOverflow, match="fell 3 events behind"):
            await subscriber.get()
        assert "read faster" in str(subscriber._error)


async def test_since_resumes_after_the_given_id_without_duplicates() -> None:
    async with Broadcast("memory://") as broadcast:
        async with broadcast.subscribe("feed") as live:
            for n in range(5):
                await broadcast.publish("feed", f"m{n}")
            with anyio.fail_after(BOUND):
                ids = [(await live.get()).id for _ in range(5)]
        assert all(ids)
        async with broadcast.subscribe("feed", since=ids[1]) as resumed:
            await broadcast.publish("feed", "m5")
            with anyio.fail_after(BOUND):
                got = [(await resumed.get()).message for _ in range(4)]
        assert got == ["m2", "m3", "m4", "m5"]


async def test_since_with_a_foreign_id_is_a_value_error() -> None:
    async with Broadcast("memory://") as broadcast:
        with pytest.raises(ValueError, match="not an event id"):
            async with broadcast.subscribe("feed", since="1700000000000-0"):
                pass


async def test_history_keeps_only_the_configured_number_of_events() -> None:
    async with Broadcast("memory://?history=2") as broadcast:
        for n in range(5):
            await broadcast.publish("feed", n)
        async with broadcast.subscribe("feed", since="0") as subscriber:
            with anyio.fail_after(BOUND):
                assert [(await subscriber.get()).message for _ in range(2)] == [3, 4]


async def test_cancelled_subscriber_releases_its_channel() -> None:
    backend = MemoryBackend()
    async with Broadcast(backend=backend) as broadcast:
        with anyio.move_on_after(0.05):
            async with broadcast.subscribe("c") as subscriber:
                await subscriber.get()  # nothing comes; the timeout cancels it
        assert "c" not in backend._channels


class ListBackend(BroadcastBackend):
    """A backend written against broadcaster's interface, as a user would."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.send, self.receive = anyio.create_memory_object_stream[Event](100)

    async def connect(self) -> None:
        self.calls.append("connect")

    async def disconnect(self) -> None:
        self.calls.append("disconnect")

    async def subscribe(self, channel: str) -> None:
        self.calls.append(f"subscribe {channel}")

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(f"unsubscribe {channel}")

    async def publish(self, channel: str, message: Any) -> None:
        await self.send.send(Event(channel, message))

    async def next_published(self) -> Event:
        return await self.receive.receive()


async def test_a_custom_backend_is_driven_like_broadcaster_drives_it() -> None:
    backend = ListBackend()
    async with (
        Broadcast(backend=backend) as broadcast,
        broadcast.subscribe("a") as one,
        broadcast.subscribe("a") as two,
    ):
        await broadcast.publish("a", "x")
        with anyio.fail_after(BOUND):
            assert (await one.get(), await two.get()) == (Event("a", "x"), Event("a", "x"))
    # One broker subscription however many subscribers.
    assert backend.calls == ["connect", "subscribe a", "unsubscribe a", "disconnect"]


async def test_history_on_a_backend_without_it_says_so() -> None:
    async with Broadcast(backend=ListBackend()) as broadcast:
        with pytest.raises(NotImplementedError, match="keeps no history"):
            async with broadcast.subscribe("a", since="1"):
                pass


class FailingBackend(ListBackend):
    async def next_published(self) -> Event:
        await anyio.lowlevel.checkpoint()
        raise OSError("broker gone")


async def test_a_backend_that_fails_ends_subscriptions_with_the_reason() -> None:
    async with Broadcast(backend=FailingBackend()) as broadcast:
        async with broadcast.subscribe("a") as subscriber:
            with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="broker gone"):
                await subscriber.get()
        with pytest.raises(BroadcastError, match="stopped receiving"):
            await broadcast.publish("a", "x")


async def test_lifespan_connects_and_disconnects() -> None:
    broadcast = Broadcast("memory://")
    async with broadcast.lifespan(object()):
        assert broadcast.connected
        await broadcast.publish("a", "x")
    assert not broadcast.connected
