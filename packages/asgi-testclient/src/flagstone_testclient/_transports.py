"""The httpx transports that hand requests to the app, and the response streams.

`SyncTransport` drives an `HTTPExchange` through an anyio blocking portal;
`AsyncTransport` runs it as a task in the client's task group, in the
caller's own event loop.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

import anyio
from anyio.from_thread import BlockingPortal

from ._http import HTTPExchange, with_debug_info
from ._httpx import httpx
from ._scope import RequestBody, http_scope

if TYPE_CHECKING:
    from ._client import AsyncTestClient, TestClient

# Whether the request in flight will be read in full by httpx (`client.get()`)
# or streamed (`client.stream()`).  httpx does not tell its transport, so the
# clients' `send()` records it here for the transport to read.
BUFFERED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flagstone_testclient_buffered", default=True
)

_STREAM_HINT = ""
_NO_TASK_GROUP_HINT = (
    " (outside `async with AsyncTestClient(app)` every response is read in full before "
    "it is returned; enter the client to stream endless responses)"
)


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if value is not None else None


def _request_body(request: httpx.Request) -> RequestBody:
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        # Known in full (content=bytes, json=, data=): one message, as servers
        # deliver a small body.
        return RequestBody(b"".join(stream))
    if isinstance(stream, httpx.AsyncByteStream):
        return RequestBody(aiter(stream))
    assert isinstance(stream, httpx.SyncByteStream)
    return RequestBody(iter(stream))


class SyncTransport(httpx.BaseTransport):
    """Runs each request through the client's portal (or a portal of its own)."""

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def close(self) -> None:
        """`client.close()`: disconnect every streamed response still open.

        As when a `with` block ends: each app gets `http.disconnect` and is
        cancelled if it ignores it, rather than left running after the client
        is gone.
        """
        for stream in list(self._client._open_streams):
            stream.abandon()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        client = self._client
        portal, release = client._acquire_portal()
        # Built in the portal's thread: anyio primitives belong to an event loop.
        exchange = portal.call(
            partial(
                HTTPExchange,
                client.app,
                http_scope(request, client._info),
                _request_body(request),
                raise_server_exceptions=client.raise_server_exceptions,
                timeout=_read_timeout(request),
                buffered=BUFFERED.get(),
                hint=_STREAM_HINT,
                header_case=client._header_case,
            )
        )
        portal.start_task_soon(exchange.run)
        try:
            portal.call(exchange.start)
        except BaseException:
            try:
                portal.call(exchange.aclose)
            except Exception:  # the start error is the one to report
                pass
            finally:
                release()
            raise
        response = httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=SyncResponseStream(exchange, portal, release, client._open_streams),
            extensions=exchange.extensions,
        )
        # httpx copies the dict; trailers arrive later and go into the copy.
        exchange.extensions = response.extensions
        exchange.response = response
        return with_debug_info(response)


class SyncResponseStream(httpx.SyncByteStream):
    """A response body pulled chunk by chunk through the portal; closing it early disconnects."""

    def __init__(
        self,
        exchange: HTTPExchange,
        portal: BlockingPortal,
        release: Callable[[], None],
        open_streams: set[SyncResponseStream],
    ) -> None:
        self._exchange = exchange
        self._portal = portal
        self._release = release
        self._closed = False
        self._open_streams = open_streams
        open_streams.add(self)

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._portal.call(self._exchange.next_chunk)) is not None:
            yield chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._open_streams.discard(self)
        try:
            self._portal.call(self._exchange.aclose)
        finally:
            self._release()

    def abandon(self) -> None:
        """Disconnect a stream the test left open, as the block's portal shuts down."""
        try:
            self.close()
        except Exception:  # the block is ending; the app reacting to it is no news
            pass


class AsyncTransport(httpx.AsyncBaseTransport):
    """Runs each request as a task in the client's task group, in the caller's loop."""

    def __init__(self, client: AsyncTestClient) -> None:
        self._client = client
        self._open_streams: set[AsyncResponseStream] = set()

    async def aclose(self) -> None:
        """`await client.aclose()`: disconnect every streamed response still open."""
        await self.abandon_open_streams()

    async def abandon_open_streams(self) -> None:
        """Disconnect every streamed response still open (the app may react, then is cancelled)."""
        with anyio.CancelScope(shield=True):
            for stream in list(self._open_streams):
                await stream.abandon()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        client = self._client
        task_group = client._task_group
        exchange = HTTPExchange(
            client.app,
            http_scope(request, client._info),
            _request_body(request),
            raise_server_exceptions=client.raise_server_exceptions,
            timeout=_read_timeout(request),
            # Without the client's task group the app cannot outlive this call,
            # so the body is read here, under the whole-response timeout.
            buffered=BUFFERED.get() or task_group is None,
            hint=_STREAM_HINT if task_group is not None else _NO_TASK_GROUP_HINT,
            header_case=client._header_case,
        )
        if task_group is None:
            return await self._buffered(exchange)
        task_group.start_soon(exchange.run)
        try:
            await exchange.start()
        except BaseException:
            with anyio.CancelScope(shield=True):
                try:
                    await exchange.aclose()
                except Exception:  # the start error is the one to report
                    pass
            raise
        response = httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=AsyncResponseStream(exchange, self._open_streams),
            extensions=exchange.extensions,
        )
        # httpx copies the dict; trailers arrive later and go into the copy.
        exchange.extensions = response.extensions
        exchange.response = response
        return with_debug_info(response)

    @staticmethod
    async def _buffered(exchange: HTTPExchange) -> httpx.Response:
        chunks: list[bytes] = []
        error: Exception | None = None
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(exchange.run)
            try:
                await exchange.start()
                while (chunk := await exchange.next_chunk()) is not None:
                    chunks.append(chunk)
            except Exception as exc:
                error = exc
            with anyio.CancelScope(shield=True):
                try:
                    await exchange.aclose()
                except Exception as exc:
                    error = error or exc
        # Raised out here: inside the task group it would be wrapped in an
        # ExceptionGroup, and the test should see the app's own exception.
        if error is not None:
            raise error
        return with_debug_info(
            httpx.Response(
                exchange.status,
                headers=exchange.headers,
                content=b"".join(chunks),
                extensions=exchange.extensions,
            )
        )


class AsyncResponseStream(httpx.AsyncByteStream):
    """A response body pulled chunk by chunk; closing it early disconnects."""

    def __init__(self, exchange: HTTPExchange, open_streams: set[AsyncResponseStream]) -> None:
        self._exchange = exchange
        self._open_streams = open_streams
        open_streams.add(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        # An iterator object, not an async generator: a generator left
        # unfinished (the test closed the response early) makes trio warn
        # when it is collected, an error under `-W error`.
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._exchange.next_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._open_streams.discard(self)
        await self._exchange.aclose()

    async def abandon(self) -> None:
        """Disconnect a stream the test left open, as the client closes."""
        try:
            await self.aclose()
        except Exception:  # the client is closing; the app reacting to it is no news
            pass
