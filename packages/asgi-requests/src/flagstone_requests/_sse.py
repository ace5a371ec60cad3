"""Server-sent events: `ServerSentEvent` and `EventSourceResponse`.

Not in Starlette (users install sse-starlette today); the name
`EventSourceResponse` is the one that package and most tutorials use, so
code ports by changing an import.

Framing follows the WHATWG HTML "server-sent events" section: one `field:
value` line per field, multi-line data split into several `data:` lines, a
blank line ends the event, and a line starting with `:` is a comment (used
as a keep-alive ping).  CR, LF and NUL are refused in `event` and `id`: a
newline there would let untrusted text inject fields or whole events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from flagstone_contract import Scope, Send

from ._responses import BackgroundCallable
from ._streaming import StreamingResponse

__all__ = ["EventSourceResponse", "ServerSentEvent"]

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _lines(text: str) -> list[str]:
    # The SSE parser treats CRLF, CR and LF alike as line ends; splitting on
    # all three keeps a stray CR from ending a `data:` line early.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _single_line(field: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(
            f"server-sent event {field!r} must be one line without NUL, got {value!r}; "
            "put multi-line text in `data`"
        )
    return value


@dataclass(slots=True)
class ServerSentEvent:
    """One event: `data` (str, or any JSON-serialisable value), `event`, `id`, `retry`.

    `comment` adds `:`-prefixed lines, which clients ignore.  `retry` is the
    reconnection delay in milliseconds.  `encode()` gives the wire bytes.
    """

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        """The event as UTF-8 text ending in a blank line."""
        out: list[str] = []
        if self.comment is not None:
            out.extend(f": {line}" if line else ":" for line in _lines(self.comment))
        if self.id is not None:
            out.append(f"id: {_single_line('id', self.id)}")
        if self.event is not None:
            out.append(f"event: {_single_line('event', self.event)}")
        if self.retry is not None:
            if isinstance(self.retry, bool) or not isinstance(self.retry, int) or self.retry < 0:
                raise ValueError(
                    f"retry must be a non-negative int (milliseconds), not {self.retry!r}"
                )
            out.append(f"retry: {self.retry}")
        if self.data is not None:
            text = self.data if isinstance(self.data, str) else _JSON.encode(self.data)
            out.extend(f"data: {line}" for line in _lines(text))
        if not out:
            raise ValueError(
                "a server-sent event needs at least one of data, event, id, retry, comment"
            )
        return ("\n".join(out) + "\n\n").encode("utf-8")


EventItem = ServerSentEvent | str | Mapping[str, Any]
EventStream = AsyncIterable[EventItem] | Iterable[EventItem]


class EventSourceResponse(StreamingResponse):
    """A `text/event-stream` response built from an (async) iterable of events.

    Items may be `ServerSentEvent`, a `str` (sent as `data`) or a mapping of
    `ServerSentEvent` fields.  While the iterator is idle, a comment line
    (`ping_message`) is sent every `ping_interval` seconds (`None` turns this
    off): it keeps proxies from closing the idle connection and makes a gone
    client visible.  A client disconnect closes the iterator at once, whatever
    the server's ASGI version: an event stream never reads the request body,
    so listening for `http.disconnect` costs nothing.
    """

    media_type = "text/event-stream"
    # The constructor's defaults, for a subclass that skips `__init__`.
    ping_interval: float | None = 15.0
    ping_bytes: bytes = b": ping\n\n"

    def __init__(
        self,
        content: EventStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundCallable | None = None,
        *,
        ping_interval: float | None = 15.0,
        ping_message: str = "ping",
    ) -> None:
        if ping_interval is not None and ping_interval <= 0:
            raise ValueError(f"ping_interval must be positive or None, not {ping_interval!r}")
        merged = {
            # Caches and buffering proxies (nginx) would hold events back.
            "cache-control": "no-store",
            "x-accel-buffering": "no",
        }
        if headers:
            merged.update({k.lower(): v for k, v in headers.items()})
        super().__init__(content, status_code, merged, None, background)
        self.ping_interval = ping_interval
        self.ping_bytes = ServerSentEvent(comment=ping_message).encode()

    def encode_chunk(self, chunk: Any) -> bytes:
        """One item of the iterator as wire bytes."""
        if isinstance(chunk, ServerSentEvent):
            return chunk.encode()
        if isinstance(chunk, str):
            return ServerSentEvent(data=chunk).encode()
        if isinstance(chunk, Mapping):
            return ServerSentEvent(**chunk).encode()
        raise TypeError(
            "EventSourceResponse items must be ServerSentEvent, str or a mapping of its "
            f"fields, not {type(chunk).__name__}"
        )

    def watch_disconnect(self, scope: Scope) -> bool:
        """Always listen for `http.disconnect` (see the class docstring)."""
        return True

    async def stream_body(self, send: Send) -> None:
        """Send events as they come, and pings while the iterator is idle."""
        if self.ping_interval is None:
            await super().stream_body(send)
            return
        interval = self.ping_interval
        lock = anyio.Lock()  # events and pings must not interleave mid-message
        last_sent = anyio.current_time()

        async def locked_send(body: bytes, more_body: bool = True) -> None:
            nonlocal last_sent
            async with lock:
                await send({"type": "http.response.body", "body": body, "more_body": more_body})
                last_sent = anyio.current_time()

        error: BaseException | None = None

        async def ping() -> None:
            nonlocal error
            try:
                while True:
                    await anyio.sleep(max(last_sent + interval - anyio.current_time(), 0))
                    if anyio.current_time() - last_sent >= interval:
                        await locked_send(self.ping_bytes)
            except Exception as exc:
                # A failed ping (client gone) stops the whole stream.
                error = exc
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(ping)
            try:
                async for item in self.body_iterator:
                    await locked_send(self.encode_chunk(item))
            except Exception as exc:
                # Re-raised outside the task group: callers see the error
                # itself (client gone, a bad item), not an ExceptionGroup.
                error = exc
            tg.cancel_scope.cancel()
        if error is not None:
            raise error
        await locked_send(b"", more_body=False)
