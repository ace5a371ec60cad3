"""flagstone-broadcast's WebSocket and server-sent event helpers, through raw ASGI messages.

They work on flagstone-requests' `Request`, `WebSocket` and
`EventSourceResponse` (broadcast's `[requests]` extra), so they are tested
here, where both packages are installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from flagstone_broadcast import Broadcast, event_source_response, websocket_relay
from flagstone_requests import Request, ServerSentEvent, WebSocket

pytestmark = pytest.mark.anyio

BOUND = 5.0


@pytest.fixture
async def broadcast() -> AsyncIterator[Broadcast]:
    async with Broadcast("memory://") as broadcast:
        yield broadcast


class Client:
    """The server side of one ASGI connection: what the app receives, what it sent."""

    def __init__(self) -> None:
        self.inbox: MemoryObjectSendStream[dict[str, Any]]
        self._receive: MemoryObjectReceiveStream[dict[str, Any]]
        self.inbox, self._receive = anyio.create_memory_object_stream[dict[str, Any]](100)
        self.sent: list[dict[str, Any]] = []
        self.new_message = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        return await self._receive.receive()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.new_message.set()
        self.new_message = anyio.Event()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    async def wait_for(self, needle: bytes) -> None:
        with anyio.fail_after(BOUND):
            while needle not in self.body and needle not in self.frames_text().encode():
                await self.new_message.wait()

    def frames_text(self) -> str:
        return "".join(m.get("text") or "" for m in self.sent if m["type"] == "websocket.send")


def http_scope(headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": "/events", "raw_path": b"/events",
        "query_string": b"", "root_path": "", "headers": headers or [],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def wait_subscribed(broadcast: Broadcast, channel: str, count: int = 1) -> None:
    with anyio.fail_after(BOUND):
        # Polling another task's progress: the broadcast has no event for it.
        while broadcast.subscriber_count(channel) != count:  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def serve_sse(broadcast: Broadcast, client: Client, headers: Any = None) -> None:
    scope = http_scope(headers)
    response = await event_source_response(
        broadcast, "feed", request=Request(scope), ping_interval=None
    )
    await response(scope, client.receive, client.send)


async def test_sse_streams_events_with_ids_until_the_client_leaves(broadcast: Broadcast) -> None:
    client = Client()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_sse, broadcast, client)
        await wait_subscribed(broadcast, "feed")
        await broadcast.publish("feed", "hello")
        await broadcast.publish("feed", "two\nlines")
        await client.wait_for(b"data: lines\n\n")
        await client.inbox.send({"type": "http.disconnect"})
    assert client.sent[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in client.sent[0]["headers"]
    assert client.body == b"id: 1\ndata: hello\n\nid: 2\ndata: two\ndata: lines\n\n"
    # The client left: its subscription is released.
    assert broadcast.subscriber_count("feed") == 0


async def test_sse_resumes_after_last_event_id(broadcast: Broadcast) -> None:
    for text in ("a", "b", "c"):
        await broadcast.publish("feed", text)
    client = Client()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_sse, broadcast, client, [(b"last-event-id", b"1")])
        await client.wait_for(b"data: c\n\n")
        await client.inbox.send({"type": "http.disconnect"})
    assert client.body == b"id: 2\ndata: b\n\nid: 3\ndata: c\n\n"


@pytest.mark.parametrize("bad_id", [b"not-a-number", b"1700000000000-0", b"x" * 200])
async def test_sse_with_a_foreign_last_event_id_streams_live(
    broadcast: Broadcast, bad_id: bytes
) -> None:
    await broadcast.publish("feed", "old")
    client = Client()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_sse, broadcast, client, [(b"last-event-id", bad_id)])
        await wait_subscribed(broadcast, "feed")
        await broadcast.publish("feed", "new")
        await client.wait_for(b"data: new\n\n")
        await client.inbox.send({"type": "http.disconnect"})
    assert client.sent[0]["status"] == 200
    assert b"old" not in client.body


async def test_websocket_relay_forwards_both_ways_and_releases_on_disconnect(
    broadcast: Broadcast,
) -> None:
    scope = {**http_scope(), "type": "websocket", "scheme": "ws", "subprotocols": []}
    client = Client()

    async def app() -> None:
        websocket = WebSocket(scope, client.receive, client.send)
        await websocket.accept()

        async def said(text: str) -> None:
            await broadcast.publish("room", f"someone said {text}")

        await websocket_relay(websocket, broadcast, "room", on_receive=said)

    await client.inbox.send({"type": "websocket.connect"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(app)
        await wait_subscribed(broadcast, "room")
        await broadcast.publish("room", "welcome")
        await client.inbox.send({"type": "websocket.receive", "text": "hi"})
        await client.wait_for(b"someone said hi")
        await broadcast.publish("room", {"as": "json"})
        await client.wait_for(b'{"as":"json"}')
        await client.inbox.send({"type": "websocket.disconnect", "code": 1001})
    frames = [m.get("text") for m in client.sent if m["type"] == "websocket.send"]
    assert frames == ["welcome", "someone said hi", '{"as":"json"}']
    assert broadcast.subscriber_count("room") == 0


async def test_sse_is_subscribed_before_the_endpoint_returns_and_released_unstarted(
    broadcast: Broadcast,
) -> None:
    response = await event_source_response(broadcast, "feed")
    assert broadcast.subscriber_count("feed") == 1
    # The client was gone before the response started: still released.
    client = Client()
    await client.inbox.send({"type": "http.disconnect"})

    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client gone")

    with anyio.fail_after(BOUND):
        await response(http_scope(), client.receive, gone)  # a gone client is not an error
    assert broadcast.subscriber_count("feed") == 0


async def test_sse_encode_shapes_each_event(broadcast: Broadcast) -> None:
    def encode(event: Any) -> Any:
        return ServerSentEvent(data={"said": event.message}, id=f"m{event.id}", event="chat")

    response = await event_source_response(broadcast, "feed", encode=encode, ping_interval=None)
    client = Client()
    await broadcast.publish("feed", "hi")
    async with anyio.create_task_group() as tg:
        tg.start_soon(response, http_scope(), client.receive, client.send)
        await client.wait_for(b"\n\n")
        await client.inbox.send({"type": "http.disconnect"})
    assert client.body == b'id: m1\nevent: chat\ndata: {"said":"hi"}\n\n'
