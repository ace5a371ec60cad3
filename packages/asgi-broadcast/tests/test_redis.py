"""redis:// and redis-stream:// against a real redis-server, on asyncio and trio.

Two `Broadcast` objects on one Redis stand for two worker processes: each
has its own connection, and only Redis connects them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import anyio
import pytest

from flagstone_broadcast import Broadcast, BroadcastError, Event, RedisStreamBackend

pytestmark = pytest.mark.anyio

BOUND = 10.0  # seconds: every wait below is bounded; a hang fails instead
SCHEMES = ["redis", "redis-stream"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=SCHEMES)
def url(request: pytest.FixtureRequest, redis_port: int) -> str:
    return f"{request.param}://127.0.0.1:{redis_port}/0"


@pytest.fixture
async def pair(url: str) -> AsyncIterator[tuple[Broadcast, Broadcast]]:
    async with Broadcast(url) as one, Broadcast(url) as two:
        yield one, two


def channel_name(request: pytest.FixtureRequest) -> str:
    # Streams outlive a test on the shared server: one name per test.
    return f"ch-{request.node.name}"


async def test_a_message_crosses_to_the_other_process(
    pair: tuple[Broadcast, Broadcast], request: pytest.FixtureRequest
) -> None:
    one, two = pair
    name = channel_name(request)
    async with one.subscribe(name) as here, two.subscribe(name) as there:
        await one.publish(name, "hello")
        await two.publish(name, "héllo ✓")
        with anyio.fail_after(BOUND):
            assert [await here.get(), await here.get()] == [
                Event(name, "hello"),
                Event(name, "héllo ✓"),
            ]
            assert [await there.get(), await there.get()] == [
                Event(name, "hello"),
                Event(name, "héllo ✓"),
            ]


async def test_channels_are_multiplexed_and_kept_apart(
    pair: tuple[Broadcast, Broadcast], request: pytest.FixtureRequest
) -> None:
    one, two = pair
    a, b = channel_name(request) + "-a", channel_name(request) + "-b"
    async with one.subscribe(a) as on_a, one.subscribe(b) as on_b, one.subscribe(a) as on_a2:
        await two.publish(b, "to b")
        await two.publish(a, "to a")
        with anyio.fail_after(BOUND):
            assert (await on_a.get()).message == "to a"
            assert (await on_a2.get()).message == "to a"
            assert (await on_b.get()).message == "to b"


async def test_numbers_and_bytes_arrive_as_text_and_objects_are_refused(
    pair: tuple[Broadcast, Broadcast], request: pytest.FixtureRequest
) -> None:
    one, two = pair
    name = channel_name(request)
    async with one.subscribe(name) as here:
        await two.publish(name, 42)
        await two.publish(name, b"raw")
        with pytest.raises(TypeError, match=r"json\.dumps"):
            await two.publish(name, {"not": "text"})
        with anyio.fail_after(BOUND):
            assert [(await here.get()).message, (await here.get()).message] == ["42", "raw"]


async def test_stream_events_carry_ids_and_since_resumes(
    redis_port: int, request: pytest.FixtureRequest
) -> None:
    url = f"redis-stream://127.0.0.1:{redis_port}/0"
    name = channel_name(request)
    async with Broadcast(url) as one, Broadcast(url) as two:
        async with one.subscribe(name) as live:
            for n in range(4):
                await two.publish(name, f"m{n}")
            with anyio.fail_after(BOUND):
                events = [await live.get() for _ in range(4)]
        assert all(event.id for event in events)
        # A client that saw m1 comes back (another worker): it gets m2.. once each.
        async with two.subscribe(name, since=events[1].id) as resumed:
            await one.publish(name, "m4")
            with anyio.fail_after(BOUND):
                got = [(await resumed.get()).message for _ in range(3)]
        assert got == ["m2", "m3", "m4"]
        with pytest.raises(ValueError, match="not a Redis stream id"):
            async with one.subscribe(name, since="nonsense\r\n"):
                pass


async def test_stream_maxlen_bounds_what_redis_keeps(
    redis_port: int, request: pytest.FixtureRequest
) -> None:
    name = channel_name(request)
    backend = RedisStreamBackend(f"redis-stream://127.0.0.1:{redis_port}/0?maxlen=5")
    assert backend.maxlen == 5
    async with Broadcast(backend=backend) as broadcast:
        for n in range(300):
            await broadcast.publish(name, str(n))
        length = await backend.driver.call(backend._client.xlen, name)
    assert length < 300  # trimmed ("~": Redis trims whole nodes, so not exactly 5)


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_publish_to_an_unreachable_redis_is_a_clear_error(scheme: str) -> None:
    port = closed_port()
    with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer") as info:
        async with Broadcast(f"{scheme}://:hunter2@127.0.0.1:{port}/0"):
            pass
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "hunter2" not in str(info.value)


CREDENTIAL_URLS = {
    "userinfo": "redis://ada:hunter2@127.0.0.1:{port}/0",
    "query": "redis://127.0.0.1:{port}/0?password=hunter2",
    "stream_userinfo": "redis-stream://:hunter2@127.0.0.1:{port}/0",
}


@pytest.mark.parametrize("template", CREDENTIAL_URLS.values(), ids=CREDENTIAL_URLS.keys())
async def test_credentials_never_reach_repr_errors_or_logs(
    template: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broadcast = Broadcast(template.format(port=closed_port()))
    with anyio.fail_after(BOUND), pytest.raises(BroadcastError) as info:
        await broadcast.connect()
    for text in (repr(broadcast), repr(broadcast.backend), str(info.value), caplog.text):
        assert "hunter2" not in text
    assert "***" in repr(broadcast)


def test_the_redis_extra_is_named_when_redis_py_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r'pip install "flagstone-broadcast\[redis\]"'):
        Broadcast("redis://127.0.0.1:1/0")
