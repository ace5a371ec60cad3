"""A small asyncio HTTP/1.1 client for load tools: one request at a time per connection.

The load run and the HTTP benchmark both drive uvicorn from a process that
shares two cores with it, so the client must cost little per request; this
is the one such client in the repository.  It writes requests prebuilt as
bytes and reads responses framed by `content-length` or chunked encoding
(the two framings uvicorn sends).  It is a test tool, not a general client:
no redirects, no TLS, no pipelining.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Reply", "encode_request", "read_reply", "reply_while_sending", "request_once"]


@dataclass
class Reply:
    """A response: status, lower-cased header pairs in order, and the whole body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


def encode_request(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    host: str = "127.0.0.1",
) -> bytes:
    """A request as bytes: build it once, write it as often as needed.

    `content-length` is added for a body, and for every POST (an empty POST
    without it is ambiguous to some servers).
    """
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method == "POST":
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """Read one response from `reader`."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    reply = Reply(int(status_line.split(" ", 2)[1]), headers, b"")
    length = reply.header("content-length")
    if length is not None:
        reply.body = await reader.readexactly(int(length))
    elif (reply.header("transfer-encoding") or "").lower() == "chunked":
        reply.body = await _read_chunked(reader)
    return reply


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            # Trailer fields, if any, end with an empty line.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])


async def request_once(port: int, payload: bytes) -> Reply:
    """Send one prebuilt request on a fresh connection and read the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await read_reply(reader)
    finally:
        writer.close()


async def reply_while_sending(
    reader: asyncio.StreamReader, sending: Coroutine[Any, Any, None], timeout: float
) -> Reply:
    """Read the reply while `sending` writes the request body, then stop the writer.

    A server may answer (413, 408) and close before the body is all sent, so
    the body goes out in a task of its own; it is cancelled once the reply is
    in, or reading it failed or timed out (the error propagates).
    """
    sender = asyncio.create_task(sending)
    try:
        return await asyncio.wait_for(read_reply(reader), timeout)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
