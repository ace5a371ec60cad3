"""One HTTP request/response run against the app, independent of sync or async use.

The app runs as a task; the client side pulls the response through
`start()`, `next_chunk()` and `aclose()`.  Body chunks travel through a
zero-capacity memory stream, so the app's `send()` returns only once the
test has taken the chunk: backpressure, and no buffering of endless bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from flagstone_contract import ASGIApp, Message

from ._exceptions import AppTimeoutError, ASGIProtocolError, ClientDisconnected
from ._httpx import httpx
from ._running import (
    DISCONNECT_GRACE,
    caused_by_disconnect,
    finish_or_cancel,
    wait_for_event,
    wait_within,
)
from ._scope import RequestBody
from ._validation import NO_RESPONSE, STRICT_HEADER_CASE, HeaderCase, HTTPResponseValidator

_FILE_CHUNK = 64 * 1024


class HTTPExchange:
    """The app side and the client side of one HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        scope: dict[str, Any],
        body: RequestBody,
        *,
        raise_server_exceptions: bool,
        timeout: float | None,
        buffered: bool,
        hint: str,
        header_case: HeaderCase = STRICT_HEADER_CASE,
    ) -> None:
        self._app = app
        self._scope = scope
        self._body = body
        self._raise = raise_server_exceptions
        self._timeout = timeout
        # Buffered (`client.get()`): the whole response must arrive within the
        # timeout, so an endless body fails instead of filling memory forever.
        # Streamed (`client.stream()`): each wait is bounded, the total is not.
        self._buffered = buffered
        self._hint = hint
        self._deadline: float | None = None
        self._validator = HTTPResponseValidator(scope["method"], header_case)
        self._chunks_tx, self._chunks_rx = anyio.create_memory_object_stream[bytes](0)
        self._started = anyio.Event()
        self._app_done = anyio.Event()
        # Set once the response is complete or the client went away: what an
        # app waiting in `receive()` after the request body is waiting for.
        self._response_over = anyio.Event()
        self._cancel_scope = anyio.CancelScope()
        self._disconnected = False
        self._closed = False
        self._reported = False
        self._chunks_read = 0
        self._bytes_read = 0
        self._no_response = False  # the 500 stands in for a response the app never started
        self.app_error: Exception | None = None
        self.protocol_error: ASGIProtocolError | None = None
        self.last_message: Mapping[str, Any] | None = None
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        # Handed to the httpx.Response as its `extensions`; trailers are added
        # when they arrive, after the response object already exists.
        self.extensions: dict[str, Any] = {
            "http_version": b"HTTP/1.1",
            "http.response.early_hint": [],
        }
        # The response handed to the test, once built (debug info sent after
        # `http.response.start` is exposed on it as it arrives).
        self.response: httpx.Response | None = None

    # --- the app's side -----------------------------------------------------------

    async def run(self) -> None:
        """Run the app; never raises (errors are recorded for the client side)."""
        try:
            with self._cancel_scope:
                await self._app(self._scope, self._receive, self._send)
        except Exception as exc:
            self.app_error = exc
        finally:
            self._app_done.set()
            self._started.set()
            self._response_over.set()
            self._chunks_tx.close()

    async def _receive(self) -> Message:
        # Once the response is complete (or the client left) the answer is
        # known and is returned without yielding, as uvicorn does: a
        # non-blocking check such as Starlette's `request.is_disconnected()`
        # (a receive() in a cancelled scope) must see it.
        if self._disconnected or self._response_over.is_set():
            return {"type": "http.disconnect"}
        if not self._body.done:
            return await self._body.next_message()
        # After the body a server has nothing to say until the connection
        # ends: block until the response is over or the client disconnects
        # (Starlette's client also blocks, but cannot disconnect early).
        await self._response_over.wait()
        return {"type": "http.disconnect"}

    async def _send(self, raw: Message) -> None:
        try:
            message = self._validator.check(raw)
        except ASGIProtocolError as exc:
            self.protocol_error = self.protocol_error or exc
            raise
        if self._disconnected:
            # ASGI spec 2.4: sending on a closed connection raises OSError.
            raise ClientDisconnected("the client disconnected; stop sending the response")
        self.last_message = message
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self.headers = self._validator.headers
            if self._validator.expects_trailers:
                # Present (empty) from the start, as in Starlette: a test
                # reads which trailers arrived, none included.
                self.extensions["http.response.trailers"] = httpx.Headers()
            self._started.set()
        elif kind == "http.response.body":
            final = not message.get("more_body", False)
            await self._deliver(bytes(message.get("body", b"")), final=final)
            self._after_body()
        elif kind == "http.response.pathsend":
            await self._send_file(message["path"])
            self._after_body()
        elif kind == "http.response.trailers":
            # Exposed as they arrive, not only once complete: an app that
            # crashes after some trailers (`more_trailers=True`) delivered them,
            # and with raise_server_exceptions=False the test reads them.
            self.extensions["http.response.trailers"] = httpx.Headers(self._validator.trailers)
            if self._validator.complete:
                self._complete()
        elif kind == "http.response.early_hint":
            self.extensions["http.response.early_hint"].append(list(message["links"]))
        elif kind == "http.response.debug":
            self.extensions["http.response.debug"] = dict(message["info"])
            if self.response is not None:  # sent after http.response.start
                with_debug_info(self.response)

    async def _deliver(self, chunk: bytes, *, final: bool = False) -> None:
        # HEAD: servers drop the body (Starlette's responses send it anyway).
        if self._scope["method"] == "HEAD":
            chunk = b""
        if not chunk and final:
            # The end of the response: nothing for the reader to take.
            return
        # Even an empty chunk (a dropped HEAD body, a keep-alive nothing)
        # goes through the zero-capacity stream, so the app's send() returns
        # only when the reader asks for more: an app streaming a HEAD response
        # or empty chunks stays in step with the reader instead of running
        # ahead of it.  The reader skips empty chunks (`next_chunk`).
        try:
            await self._chunks_tx.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The client closed the response while the app was blocked here.
            raise ClientDisconnected("the client disconnected; stop sending the response") from None

    async def _send_file(self, path: str) -> None:
        size = 0
        try:
            async with await anyio.open_file(path, "rb") as file:
                while chunk := await file.read(_FILE_CHUNK):
                    size += len(chunk)
                    await self._deliver(chunk)
        except ClientDisconnected:
            raise
        except OSError as exc:
            # Not an OSError into the app: that would read as a disconnect and
            # apps would swallow it.
            error = ASGIProtocolError(f"http.response.pathsend: cannot read {path!r}: {exc}")
            self.protocol_error = self.protocol_error or error
            raise error from exc
        length = self._validator.content_length
        if length is not None and size != length and self._scope["method"] != "HEAD":
            error = ASGIProtocolError(
                f"http.response.pathsend: file has {size} bytes but content-length is {length}"
            )
            self.protocol_error = self.protocol_error or error
            raise error

    def _after_body(self) -> None:
        if self._validator.complete:
            self._complete()

    def _complete(self) -> None:
        self._chunks_tx.close()
        self._response_over.set()

    # --- the client's side -----------------------------------------------------------

    def _limit(self) -> float | None:
        if self._timeout is None:
            return None
        if self._deadline is not None:
            return max(self._deadline - anyio.current_time(), 0.0)
        return self._timeout

    def _timeout_error(self, waiting_for: str) -> AppTimeoutError:
        target = f"{self._scope['method']} {self._scope['path']}"
        waited = DISCONNECT_GRACE if self._timeout is None else self._timeout
        return AppTimeoutError(f"{waiting_for} of {target}{self._hint}", waited, self.last_message)

    async def start(self) -> None:
        """Wait for `http.response.start` (or for the app to end without one)."""
        if self._buffered and self._timeout is not None:
            self._deadline = anyio.current_time() + self._timeout
        if not await wait_for_event(self._limit(), self._started):
            raise self._timeout_error("the response to start (http.response.start)")
        if self._validator.started:
            return
        await self._app_done.wait()  # `_started` is also set when the app ends
        self._raise_pending()
        if self.app_error is None and self._raise:
            raise ASGIProtocolError(
                NO_RESPONSE, detail="the app returned without sending 'http.response.start'"
            )
        # raise_server_exceptions=False and nothing was sent: what a server
        # (and Starlette's client) answers to a crash, or to an app that
        # returned without a response.
        self.status, self.headers = 500, [(b"content-length", b"0")]
        self._no_response = True

    async def next_chunk(self) -> bytes | None:
        """The next non-empty body chunk, or None once the response and the app are done."""
        while (chunk := await self._next_message_chunk()) is not None and not chunk:
            pass
        return chunk

    async def _next_message_chunk(self) -> bytes | None:
        chunk: bytes | None
        if self._closed:
            return None
        if self.protocol_error is not None and not self._reported:
            # Even if the app swallowed the error and went on sending.
            self._reported = True
            raise self.protocol_error
        try:
            try:
                chunk = self._chunks_rx.receive_nowait()
            except anyio.WouldBlock:
                finished, received = await wait_within(self._limit(), self._chunks_rx.receive)
                if not finished or received is None:
                    raise self._body_timeout() from None
                chunk = received
        except anyio.EndOfStream:
            chunk = None
        if chunk is None:
            # Outside the `except`: the app's exception, re-raised by
            # `_finish`, must keep its own `__context__`, not EndOfStream.
            await self._finish()
            return None
        if self._deadline is not None and self._limit() == 0.0:
            # An app that always has the next chunk ready is served by
            # receive_nowait() and never waits, so the deadline of a buffered
            # read is checked here too: an endless body must still fail.
            raise self._body_timeout()
        self._chunks_read += bool(chunk)
        self._bytes_read += len(chunk)
        return chunk

    def _body_timeout(self) -> AppTimeoutError:
        progress = f"{self._chunks_read} chunks, {self._bytes_read} bytes read so far"
        if self._buffered:
            return self._timeout_error(
                f"the end of the response body ({progress}; an endless response such as "
                "server-sent events must be read with client.stream(...))"
            )
        return self._timeout_error(f"the next response body chunk ({progress})")

    async def _finish(self) -> None:
        # The body is over.  Wait for the app itself to return, as Starlette
        # does: background tasks run after the response, and their effects and
        # errors belong to this request.
        if not await wait_for_event(self._limit(), self._app_done):
            raise self._timeout_error(
                "the app to return after its response was complete (a background task still running?)"
            )
        self._closed = True
        self._raise_pending()
        # Trailers promised but not (all) sent are tolerated, as in
        # Starlette's client: the test reads the ones that arrived.
        if not (self._validator.body_complete or self._no_response or self.app_error is not None):
            raise ASGIProtocolError(
                "the app returned before the response was complete (no final "
                "'http.response.body' with more_body=False)"
            )

    async def aclose(self) -> None:
        """Release the response; closing before the end is a client disconnect."""
        self._closed = True
        if not self._validator.complete and not self._app_done.is_set():
            # The test stopped reading: deliver `http.disconnect` to the app's
            # next receive() (or wake the one it is blocked in), and make its
            # blocked or next send() raise OSError.
            self._disconnected = True
            self._response_over.set()
        self._chunks_rx.close()
        # A complete response leaves the app its background work (bounded by
        # the timeout); a disconnected one only a short grace.
        grace = self._disconnect_grace() if self._disconnected else self._limit()
        if not await finish_or_cancel(self._app_done, self._cancel_scope, grace):
            raise self._timeout_error("the app to stop after it was cancelled (it shields itself)")
        self._raise_pending()

    def _disconnect_grace(self) -> float:
        # A test that asked for a short timeout wants a short grace too.
        if self._timeout is None:
            return DISCONNECT_GRACE
        return min(DISCONNECT_GRACE, self._timeout)

    def _raise_pending(self) -> None:
        """Raise the protocol error, else the app's error, once per exchange."""
        if self._reported:
            return
        if self.protocol_error is not None:
            self._reported = True
            raise self.protocol_error
        error = self.app_error
        if error is not None and self._raise:
            if self._disconnected and caused_by_disconnect(error):
                return
            self._reported = True
            raise error


def with_debug_info(response: httpx.Response) -> httpx.Response:
    """Expose an `http.response.debug` message as `response.template` / `.context`.

    Starlette's test client does this, and ported tests assert on
    `response.template.name` and `response.context["key"]`.
    """
    info = response.extensions.get("http.response.debug")
    if info is not None:
        # Only what the app reported, as in Starlette: `hasattr(response,
        # "template")` tells a template response from another.
        if "template" in info:
            response.template = info["template"]  # type: ignore[attr-defined]
        if "context" in info:
            response.context = info["context"]  # type: ignore[attr-defined]
    return response
