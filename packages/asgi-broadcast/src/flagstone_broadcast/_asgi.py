"""Connect a channel to a WebSocket or to a server-sent event stream.

`websocket_relay` needs only the WebSocket's methods (flagstone's, or any
object with `receive_text` / `send_text`, Starlette's included).
`event_source_response` builds flagstone-requests' `EventSourceResponse`:
that package is imported here only, on first use (the `[requests]` extra),
so the rest of this package works without it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from flagstone_contract import WebSocketDisconnect

from ._broadcast import Broadcast
from ._event import Event

if TYPE_CHECKING:
    from flagstone_requests import EventSourceResponse, ServerSentEvent

__all__ = ["event_source_response", "websocket_relay"]

logger = logging.getLogger("flagstone_broadcast")


class _WebSocketLike(Protocol):
    async def receive_text(self) -> str: ...
    async def send_text(self, data: str) -> None: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def send_json(self, data: Any) -> None: ...


async def _send(websocket: _WebSocketLike, message: Any) -> None:
    if isinstance(message, str):
        await websocket.send_text(message)
    elif isinstance(message, bytes):
        await websocket.send_bytes(message)
    else:  # memory:// carries objects as they were published
        await websocket.send_json(message)


async def websocket_relay(
    websocket: _WebSocketLike,
    broadcast: Broadcast,
    channel: str,
    *,
    on_receive: Callable[[str], Awaitable[Any]] | None = None,
    since: str | None = None,
) -> None:
    """Relay `channel` to an accepted `websocket` until the client disconnects.

    Every event's message is sent as a text frame (bytes as binary, other
    objects as JSON).  Text the client sends goes to `on_receive(text)`
    (e.g. a function that publishes it), and is otherwise read and ignored:
    reading is how a disconnect is noticed.  Returns when the client
    disconnects; the subscription is released then, whichever side ended.
    """
    async with (
        broadcast.subscribe(channel, since=since) as subscriber,
        anyio.create_task_group() as tg,
    ):

        async def forward() -> None:
            async for event in subscriber:
                await _send(websocket, event.message)

        tg.start_soon(forward)
        try:
            while True:
                text = await websocket.receive_text()
                if on_receive is not None:
                    await on_receive(text)
        except WebSocketDisconnect:
            pass
        except Exception as exc:
            # Starlette's WebSocketDisconnect is not the contract's: any
            # class of that name ends the relay the same way.
            if type(exc).__name__ != "WebSocketDisconnect":
                raise
        tg.cancel_scope.cancel()


async def event_source_response(
    broadcast: Broadcast,
    channel: str,
    *,
    request: Any = None,
    last_event_id: str | None = None,
    event: str | None = None,
    encode: Callable[[Event], ServerSentEvent] | None = None,
    ping_interval: float | None = 15.0,
    headers: Mapping[str, str] | None = None,
) -> EventSourceResponse:
    """An `EventSourceResponse` streaming `channel` until the client goes away.

    `return await event_source_response(broadcast, "news", request=request)`.
    It subscribes before returning, so nothing published once the endpoint
    returned is missed, and the subscription is released when the response
    ends, however it ends (client gone, server shutdown, never started).

    Each event is sent with its `id` (where the backend gives one), so a
    browser that reconnects sends `Last-Event-ID`; pass the `request` (or
    `last_event_id`) and the stream resumes after that event, on any worker,
    with memory:// (same process) and redis-stream://.  An id the backend
    cannot resume from (another backend's, garbage) starts a live stream
    instead of failing.  `event` names the SSE event type (default none:
    `message` in the browser); `encode(event)` builds each `ServerSentEvent`
    yourself (its `id` is then what a browser sends back).  Needs
    flagstone-requests (`pip install "flagstone-broadcast[requests]"`).
    """
    try:
        from flagstone_requests import ServerSentEvent
    except ImportError as exc:
        raise ImportError(
            "event_source_response needs flagstone-requests: "
            'pip install "flagstone-broadcast[requests]"'
        ) from exc
    if last_event_id is None and request is not None:
        last_event_id = request.headers.get("last-event-id") or None
    if last_event_id is not None and not _resumable(last_event_id):
        last_event_id = None
    release = AsyncExitStack()
    try:
        subscriber = await release.enter_async_context(
            broadcast.subscribe(channel, since=last_event_id)
        )
    except (ValueError, NotImplementedError) as exc:
        # The browser's Last-Event-ID is client input: never a 500 for it.
        logger.info(
            "broadcast: cannot resume %r after %r (%s); streaming live", channel, last_event_id, exc
        )
        subscriber = await release.enter_async_context(broadcast.subscribe(channel))

    def default_encode(item: Event) -> ServerSentEvent:
        message = item.message
        data = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        return ServerSentEvent(data=data, id=item.id, event=event)

    to_sse = encode or default_encode

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for item in subscriber:
            yield to_sse(item)

    response_class = _releasing_response_class()
    response: EventSourceResponse = response_class(
        stream(), release, headers=headers, ping_interval=ping_interval
    )
    return response


def _resumable(since: str) -> bool:
    # The id goes back out in an `id:` line: one line, printable, short.
    return len(since) <= 64 and since.isprintable()


@functools.cache
def _releasing_response_class() -> Any:
    # Built on first use: flagstone_requests is an optional dependency.
    from flagstone_requests import EventSourceResponse

    class _ReleasingEventSourceResponse(EventSourceResponse):
        """An `EventSourceResponse` that releases its subscription when it ends."""

        def __init__(
            self,
            content: Any,
            release: AsyncExitStack,
            *,
            headers: Mapping[str, str] | None,
            ping_interval: float | None,
        ) -> None:
            super().__init__(content, headers=headers, ping_interval=ping_interval)
            self.release = release

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                with anyio.CancelScope(shield=True):
                    await self.release.aclose()

    return _ReleasingEventSourceResponse
