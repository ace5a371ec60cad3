"""Server-sent events: framing, pings and disconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from flagstone_requests import EventSourceResponse, ServerSentEvent

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (ServerSentEvent(data="hi"), b"data: hi\n\n"),
        (ServerSentEvent(data="a\nb\r\nc\rd"), b"data: a\ndata: b\ndata: c\ndata: d\n\n"),
        (ServerSentEvent(data=""), b"data: \n\n"),
        (
            ServerSentEvent(data={"x": "é"}, event="update", id="7", retry=3000),
            'id: 7\nevent: update\nretry: 3000\ndata: {"x":"é"}\n\n'.encode(),
        ),
        (ServerSentEvent(comment="keep\nalive"), b": keep\n: alive\n\n"),
        (ServerSentEvent(id=""), b"id: \n\n"),
    ],
)
def test_event_framing(event: ServerSentEvent, wire: bytes) -> None:
    assert event.encode() == wire


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(ServerSentEvent(data="x", event="a\ndata: injected"), id="newline-in-event"),
        pytest.param(ServerSentEvent(data="x", id="1\r2"), id="cr-in-id"),
        pytest.param(ServerSentEvent(data="x", id="1\x002"), id="nul-in-id"),
        pytest.param(ServerSentEvent(retry=-1), id="negative-retry"),
        pytest.param(ServerSentEvent(retry=1.5), id="float-retry"),  # type: ignore[arg-type]
        pytest.param(ServerSentEvent(), id="empty-event"),
    ],
)
def test_bad_events_are_refused(event: ServerSentEvent) -> None:
    with pytest.raises(ValueError):
        event.encode()


async def test_stream_of_events(http_scope, run_asgi, sent_response) -> None:
    async def events() -> AsyncIterator[Any]:
        yield "plain"
        yield {"data": "mapped", "event": "e"}
        yield ServerSentEvent(data=[1, 2])

    chan = await run_asgi(EventSourceResponse(events(), ping_interval=None), http_scope())
    resp = sent_response(chan.sent)
    assert resp.header("content-type") == "text/event-stream; charset=utf-8"
    assert resp.header("cache-control") == "no-store"
    assert resp.header("x-accel-buffering") == "no"
    assert resp.body == b"data: plain\n\nevent: e\ndata: mapped\n\ndata: [1,2]\n\n"
    assert resp.body_messages[-1]["more_body"] is False


async def test_sync_iterable_of_events(http_scope, run_asgi, sent_response) -> None:
    chan = await run_asgi(EventSourceResponse(["a", "b"]), http_scope())
    assert sent_response(chan.sent).body == b"data: a\n\ndata: b\n\n"


async def test_pings_while_idle(http_scope) -> None:
    """An idle stream sends comment pings; the generator resumes after one was seen."""
    ping_seen = anyio.Event()
    sent: list[dict[str, Any]] = []

    async def events() -> AsyncIterator[str]:
        yield "first"
        await ping_seen.wait()
        yield "second"

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == b": tick\n\n":
            ping_seen.set()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    response = EventSourceResponse(events(), ping_interval=0.01, ping_message="tick")
    with anyio.fail_after(5):
        await response(http_scope(), receive, send)
    bodies = [m["body"] for m in sent[1:]]
    assert bodies[0] == b"data: first\n\n"
    assert b": tick\n\n" in bodies
    assert bodies[-2:] == [b"data: second\n\n", b""]


async def test_disconnect_stops_stream_and_closes_generator(http_scope) -> None:
    cleaned = anyio.Event()
    first = anyio.Event()

    async def events() -> AsyncIterator[str]:
        try:
            yield "only"
            await anyio.sleep_forever()
            yield "never"
        finally:
            cleaned.set()

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            first.set()

    async def receive() -> dict[str, Any]:
        await first.wait()
        return {"type": "http.disconnect"}

    # Even under ASGI spec 2.4 an event stream listens for the disconnect.
    scope = http_scope(asgi={"version": "3.0", "spec_version": "2.4"})
    with anyio.fail_after(5):
        await EventSourceResponse(events())(scope, receive, send)
    assert cleaned.is_set()


async def test_failed_ping_ends_stream(http_scope) -> None:
    cleaned = anyio.Event()

    async def events() -> AsyncIterator[str]:
        try:
            await anyio.sleep_forever()
            yield "never"
        finally:
            cleaned.set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client gone")

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    # ASGI 2.4: an OSError from send means the client is gone.
    scope = http_scope(asgi={"version": "3.0", "spec_version": "2.4"})
    with anyio.fail_after(5):
        await EventSourceResponse(events(), ping_interval=0.01)(scope, receive, send)
    assert cleaned.is_set()


async def test_head_has_no_body(http_scope, run_asgi, sent_response) -> None:
    chan = await run_asgi(EventSourceResponse(["a"]), http_scope(method="HEAD"))
    assert sent_response(chan.sent).body == b""


async def test_bad_item_raises(http_scope, run_asgi) -> None:
    with pytest.raises(TypeError, match="int"):
        await run_asgi(EventSourceResponse([1], ping_interval=None), http_scope())


def test_ping_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        EventSourceResponse([], ping_interval=0)
