"""The helpers without flagstone-requests: the relay needs none, the SSE helper names the extra.

With flagstone-requests (the `[requests]` extra) both are tested in
packages/meta/tests/test_broadcast_helpers.py and test_broadcast_workers.py.
"""

from __future__ import annotations

import sys
from functools import partial

import anyio
import pytest

from flagstone_broadcast import Broadcast, event_source_response, websocket_relay
from flagstone_contract import WebSocketDisconnect

pytestmark = pytest.mark.anyio

BOUND = 5.0


class Socket:
    """Any object with a WebSocket's receive/send methods (a framework's own, say)."""

    def __init__(self) -> None:
        self.incoming_send, self.incoming = anyio.create_memory_object_stream[str | None](10)
        self.sent: list[object] = []
        self.got_frame = anyio.Event()

    async def receive_text(self) -> str:
        text = await self.incoming.receive()
        if text is None:
            raise WebSocketDisconnect(1001)
        return text

    async def send_text(self, data: str) -> None:
        self.sent.append(data)
        self.got_frame.set()

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)
        self.got_frame.set()

    async def send_json(self, data: object) -> None:
        self.sent.append(("json", data))
        self.got_frame.set()


async def test_websocket_relay_needs_only_the_socket_methods() -> None:
    socket = Socket()
    async with Broadcast("memory://") as broadcast, anyio.create_task_group() as tg:

        async def said(text: str) -> None:
            await broadcast.publish("room", text.upper())

        tg.start_soon(partial(websocket_relay, socket, broadcast, "room", on_receive=said))
        with anyio.fail_after(BOUND):
            while broadcast.subscriber_count("room") == 0:  # noqa: ASYNC110
                await anyio.sleep(0.01)  # polling the relay task's progress
            await socket.incoming_send.send("hi")
            await socket.got_frame.wait()
            await broadcast.publish("room", b"raw")
            await broadcast.publish("room", {"an": "object"})
            while len(socket.sent) < 3:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            await socket.incoming_send.send(None)  # the client leaves
        # The relay returned and released the subscription.
    assert socket.sent == ["HI", b"raw", ("json", {"an": "object"})]
    assert broadcast.subscriber_count("room") == 0


async def test_event_source_response_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import flagstone_requests` raise ImportError.
    monkeypatch.setitem(sys.modules, "flagstone_requests", None)
    async with Broadcast("memory://") as broadcast:
        with pytest.raises(ImportError, match=r'pip install "flagstone-broadcast\[requests\]"'):
            await event_source_response(broadcast, "feed")
        assert broadcast.subscriber_count("feed") == 0
