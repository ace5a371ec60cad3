"""One WebSocket connection to the app, and the sync and async sessions over it.

Every wait on the app (the handshake and each receive) is bounded by a timeout
and fails with an `AppTimeoutError` that says what the client waited for and
what the app last sent: a silent app fails the test instead of hanging CI.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.from_thread import BlockingPortal

from flagstone_contract import ASGIApp, Message

from ._exceptions import (
    AppTimeoutError,
    ASGIProtocolError,
    ClientDisconnected,
    WebSocketClosed,
    WebSocketDenialResponse,
    describe_message,
)
from ._running import DISCONNECT_GRACE, caused_by_disconnect, finish_or_cancel, wait_within
from ._validation import STRICT_HEADER_CASE, HeaderCase, WebSocketValidator

# Messages the app may send before the test reads them: a socket buffer.  An
# app that keeps sending to a test that stopped reading blocks here (as it
# would on a full TCP buffer) instead of growing memory without limit.
_APP_BUFFER = 1024

_ABNORMAL = 1006  # RFC 6455: the connection ended without a close frame.
_INTERNAL_ERROR = 1011


class WebSocketConnection:
    """The app's side and the client's side of one WebSocket connection."""

    def __init__(
        self,
        app: ASGIApp,
        scope: dict[str, Any],
        *,
        raise_server_exceptions: bool,
        timeout: float | None,
        header_case: HeaderCase = STRICT_HEADER_CASE,
    ) -> None:
        self._app = app
        self._scope = scope
        self._raise = raise_server_exceptions
        self.timeout = timeout
        self._validator = WebSocketValidator(list(scope.get("subprotocols", [])), header_case)
        # Client → app is unbounded: test sends must never block the test.
        self._to_app_tx, self._to_app_rx = anyio.create_memory_object_stream[Message](math.inf)
        self._from_app_tx, self._from_app_rx = anyio.create_memory_object_stream[Message](
            _APP_BUFFER
        )
        self._cancel_scope = anyio.CancelScope()
        self._app_done = anyio.Event()
        self._disconnect: Message | None = None  # what the client sent when it closed
        self._close: Mapping[str, Any] | None = None  # the app's close, once the client read it
        self._reported = False
        self.app_error: Exception | None = None
        self.protocol_error: ASGIProtocolError | None = None
        self.last_message: Mapping[str, Any] | None = None
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

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
            # The app's ends of both streams: nothing reads the client's
            # messages once the app is gone.  Every path closes all four
            # streams (here and in `aclose`), so none is collected unclosed (a
            # ResourceWarning, an error under `-W error`).
            self._from_app_tx.close()
            self._to_app_rx.close()

    async def _receive(self) -> Message:
        try:
            return await self._to_app_rx.receive()
        except anyio.EndOfStream:
            # The client closed and the app already got its disconnect: a
            # server keeps answering with it rather than blocking forever.
            assert self._disconnect is not None
            return dict(self._disconnect)

    async def _send(self, raw: Message) -> None:
        try:
            message = self._validator.check(raw)
        except ASGIProtocolError as exc:
            self.protocol_error = self.protocol_error or exc
            raise
        if self._disconnect is not None:
            # ASGI spec 2.4: sending on a closed connection raises OSError.
            raise ClientDisconnected(
                f"the client closed the WebSocket with code {self._disconnect['code']}"
            )
        self.last_message = message
        copy = dict(message)
        if message["type"] in ("websocket.accept", "websocket.http.response.start"):
            copy["headers"] = self._validator.headers  # the validated list, read once
        try:
            await self._from_app_tx.send(copy)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ClientDisconnected("the client went away") from None

    # --- the client's side -----------------------------------------------------------

    def _check_protocol(self) -> None:
        if self.protocol_error is not None and not self._reported:
            self._reported = True
            raise self.protocol_error

    def _raise_pending(self) -> None:
        self._check_protocol()
        error = self.app_error
        if error is not None and self._raise and not self._reported:
            if self._disconnect is not None and caused_by_disconnect(error):
                return
            self._reported = True
            raise error

    async def _next(self, waiting_for: str, timeout: float | None) -> Mapping[str, Any] | None:
        """The next app message, None if the app ended; raises on timeout."""
        self._check_protocol()
        try:
            try:
                return self._from_app_rx.receive_nowait()
            except anyio.WouldBlock:
                finished, message = await wait_within(timeout, self._from_app_rx.receive)
                if not finished or message is None:
                    assert timeout is not None
                    raise AppTimeoutError(waiting_for, timeout, self.last_message) from None
                return message
        except anyio.EndOfStream:
            pass
        # The app ended.  Reported outside the `except`: its exception must
        # keep its own `__context__`, not EndOfStream.
        await self._app_done.wait()  # closed in run()'s finally, right after this is set
        self._raise_pending()
        return None

    async def connect(self) -> None:
        """Send `websocket.connect` and wait for the app's answer to the handshake."""
        # An app that already ended is reported by `_next`, below.
        await self._to_app({"type": "websocket.connect"})
        message = await self._next(
            "the app to answer the WebSocket handshake (websocket.accept, websocket.close "
            "or websocket.http.response.start)",
            self.timeout,
        )
        if message is None:
            if self.app_error is not None:
                # raise_server_exceptions=False: a server answers a crash
                # during the handshake with a 500.
                raise WebSocketDenialResponse(500, [], b"")
            raise ASGIProtocolError(
                "the app returned without accepting, closing or denying the WebSocket "
                "(servers answer HTTP 500)"
            )
        if message["type"] == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = list(message["headers"])
        elif message["type"] == "websocket.close":
            self._close = message
            raise WebSocketClosed(message.get("code", 1000), message.get("reason"))
        else:
            raise await self._denial(message)

    async def _denial(self, start: Mapping[str, Any]) -> WebSocketDenialResponse:
        body = bytearray()
        while True:
            message = await self._next("the body of the app's denial response", self.timeout)
            if message is None:
                raise ASGIProtocolError("the app returned before the end of its denial response")
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return WebSocketDenialResponse(start["status"], list(start["headers"]), bytes(body))

    async def receive(
        self, timeout: float | None, waiting_for: str = "a message (receive)"
    ) -> Message:
        """The next message from the app, as sent (a close is returned, not raised)."""
        if self._close is not None:
            return dict(self._close)
        message = await self._next(f"{waiting_for} from the WebSocket app", timeout)
        if message is None:
            code, reason = (
                (_INTERNAL_ERROR, "the app raised an exception")
                if self.app_error is not None
                else (_ABNORMAL, "the app returned without sending websocket.close")
            )
            message = {"type": "websocket.close", "code": code, "reason": reason}
        if message["type"] == "websocket.close":
            self._close = message
        return dict(message)

    async def send(self, message: Message) -> None:
        """Send a message to the app; raises `WebSocketClosed` once the connection is gone."""
        self._check_protocol()
        if self._close is not None:
            raise WebSocketClosed(self._close.get("code", 1000), self._close.get("reason"))
        if self._disconnect is not None:
            raise RuntimeError("the test already closed this WebSocket session")
        if self._app_done.is_set() or not await self._to_app(message):
            self._raise_pending()
            raise WebSocketClosed(_ABNORMAL, "the app is no longer running")

    async def _to_app(self, message: Message) -> bool:
        """Queue `message` for the app; False if the app has ended (its stream is closed)."""
        try:
            await self._to_app_tx.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    async def close(self, code: int, reason: str | None) -> None:
        """Close from the client side: the app receives `websocket.disconnect`."""
        if self._disconnect is not None:
            return
        self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason or ""}
        await self._to_app(self._disconnect)  # False: the app is gone, nobody to tell
        self._to_app_tx.close()

    async def aclose(self) -> None:
        """End the session: disconnect, let the app finish briefly, cancel it, report errors."""
        await self.close(1000, None)
        self._from_app_rx.close()  # unblocks an app waiting on a full buffer
        # A test that asked for a short timeout wants a short grace too.
        grace = DISCONNECT_GRACE if self.timeout is None else min(DISCONNECT_GRACE, self.timeout)
        await finish_or_cancel(self._app_done, self._cancel_scope, grace)
        self._raise_pending()


def _prefer_the_app_error(refusal: BaseException, app_error: Exception) -> None:
    """Raise the app's own exception when it caused the refusal of a handshake.

    A framework answers an endpoint's crash with a close or a 500 denial
    response and then re-raises the exception for the server's log (as
    flagstone's `ServerErrorMiddleware` does).  With raise_server_exceptions,
    the test sees that exception, as it would for HTTP, not the refusal it
    caused (which becomes its `__cause__`).  Any other handshake failure (a
    timeout, a protocol error) is the one to report.
    """
    if isinstance(refusal, WebSocketClosed) and app_error is not refusal:
        raise app_error from refusal


class _WrongFrame(TypeError, KeyError):
    """A text frame where bytes were expected, or the reverse.

    A `TypeError` naming the frame, and the `KeyError` Starlette's client
    raises for it (`message["text"]` on a binary frame), so `except KeyError`
    keeps working.  Its text is the plain message, not KeyError's repr.
    """

    def __str__(self) -> str:
        return str(self.args[0])


def _text_of(message: Mapping[str, Any]) -> str:
    _raise_on_close(message)
    text = message.get("text")
    if text is None:
        raise _WrongFrame(f"expected a text frame from the app, got {describe_message(message)}")
    return str(text)


def _bytes_of(message: Mapping[str, Any]) -> bytes:
    _raise_on_close(message)
    data = message.get("bytes")
    if data is None:
        raise _WrongFrame(f"expected a binary frame from the app, got {describe_message(message)}")
    return bytes(data)


def _raise_on_close(message: Mapping[str, Any]) -> None:
    if message["type"] == "websocket.close":
        raise WebSocketClosed(message.get("code", 1000), message.get("reason"))


def _json_frame(data: Any, mode: Literal["text", "binary"]) -> Message:
    # Compact, like Starlette's `send_json`, and non-ASCII kept as is.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if mode == "binary":
        return {"type": "websocket.receive", "bytes": text.encode()}
    return {"type": "websocket.receive", "text": text}


class WebSocketTestSession:
    """A WebSocket session for `TestClient.websocket_connect`; use it in a `with` block.

    Entering performs the handshake (raising `WebSocketClosed` or
    `WebSocketDenialResponse` if the app refuses); leaving closes the
    connection with code 1000, gives the app a moment to finish, cancels it
    if it does not, and re-raises the app's exception.  Every `receive*`
    takes `timeout=` (default: the client's `websocket_timeout`).
    """

    __test__ = False

    def __init__(
        self,
        connect: Callable[[], WebSocketConnection],
        acquire_portal: Callable[[], tuple[BlockingPortal, Callable[[], None]]],
    ) -> None:
        self._connect = connect
        self._connection: WebSocketConnection | None = None
        self._acquire_portal = acquire_portal
        self._portal: BlockingPortal | None = None
        self._release: Callable[[], None] = lambda: None

    @property
    def _conn(self) -> WebSocketConnection:
        if self._connection is None:
            raise RuntimeError(
                "use the session in a `with client.websocket_connect(...) as ws:` block"
            )
        return self._connection

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app chose in `websocket.accept`."""
        return self._conn.accepted_subprotocol

    @property
    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers the app sent with `websocket.accept`."""
        return self._conn.extra_headers

    def __enter__(self) -> WebSocketTestSession:
        self._portal, self._release = self._acquire_portal()
        # Built in the portal's thread: anyio primitives belong to an event loop.
        connection = self._connection = self._portal.call(self._connect)
        self._portal.start_task_soon(connection.run)
        try:
            self._portal.call(connection.connect)
        except BaseException as refusal:
            try:
                self._portal.call(connection.aclose)
            except Exception as app_error:
                _prefer_the_app_error(refusal, app_error)
            finally:
                self._release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._call(self._conn.aclose)
        finally:
            self._release()

    def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        if self._portal is None:
            raise RuntimeError(
                "use the session in a `with client.websocket_connect(...) as ws:` block"
            )
        return self._portal.call(func, *args)

    def _timeout(self, timeout: float | Literal["default"] | None) -> float | None:
        return self._conn.timeout if timeout == "default" else timeout

    def send(self, message: Message) -> None:
        """Send a raw ASGI receive-side message (e.g. `websocket.receive`) to the app."""
        self._call(self._conn.send, message)

    def send_text(self, data: str) -> None:
        """Send a text frame."""
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as compact JSON in a text (default) or binary frame."""
        self.send(_json_frame(data, mode))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: the app receives `websocket.disconnect` with `code`."""
        self._call(self._conn.close, code, reason)

    def receive(self, timeout: float | Literal["default"] | None = "default") -> Message:
        """The next message the app sent (`websocket.send` or `websocket.close`)."""
        return dict(self._call(self._conn.receive, self._timeout(timeout)))

    def receive_text(self, timeout: float | Literal["default"] | None = "default") -> str:
        """The next text frame; raises `WebSocketClosed` if the app closed instead."""
        return _text_of(self._call(self._conn.receive, self._timeout(timeout), "a text frame"))

    def receive_bytes(self, timeout: float | Literal["default"] | None = "default") -> bytes:
        """The next binary frame; raises `WebSocketClosed` if the app closed instead."""
        return _bytes_of(self._call(self._conn.receive, self._timeout(timeout), "a binary frame"))

    def receive_json(
        self,
        mode: Literal["text", "binary"] = "text",
        timeout: float | Literal["default"] | None = "default",
    ) -> Any:
        """The next frame (text or binary per `mode`) decoded as JSON."""
        if mode == "binary":
            return json.loads(self.receive_bytes(timeout))
        return json.loads(self.receive_text(timeout))


class AsyncWebSocketTestSession:
    """A WebSocket session for `AsyncTestClient.websocket_connect`; use it in `async with`.

    The app runs in a task group owned by the session, in the test's own event
    loop.  Behaves like `WebSocketTestSession`, with awaitable methods.
    """

    __test__ = False

    def __init__(self, connect: Callable[[], WebSocketConnection]) -> None:
        self._connect = connect
        self._conn: WebSocketConnection | None = None
        self._task_group: TaskGroup | None = None

    @property
    def _connection(self) -> WebSocketConnection:
        if self._conn is None:
            raise RuntimeError(
                "use the session in an `async with client.websocket_connect(...) as ws:` block"
            )
        return self._conn

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app chose in `websocket.accept`."""
        return self._connection.accepted_subprotocol

    @property
    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers the app sent with `websocket.accept`."""
        return self._connection.extra_headers

    async def __aenter__(self) -> AsyncWebSocketTestSession:
        self._conn = self._connect()
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._connection.run)
        try:
            await self._connection.connect()
        except BaseException as refusal:
            with anyio.CancelScope(shield=True):
                try:
                    await self._connection.aclose()
                except Exception as app_error:
                    app_failure: Exception | None = app_error
                else:
                    app_failure = None
            self._task_group.cancel_scope.cancel()
            # Not passing the error in: the task group would wrap it in an
            # ExceptionGroup, and the test should see the handshake's error.
            await self._task_group.__aexit__(None, None, None)
            if app_failure is not None:
                _prefer_the_app_error(refusal, app_failure)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task_group is not None
        try:
            await self._connection.aclose()
        finally:
            await self._task_group.__aexit__(None, None, None)

    def _timeout(self, timeout: float | Literal["default"] | None) -> float | None:
        return self._connection.timeout if timeout == "default" else timeout

    async def send(self, message: Message) -> None:
        """Send a raw ASGI receive-side message (e.g. `websocket.receive`) to the app."""
        await self._connection.send(message)

    async def send_text(self, data: str) -> None:
        """Send a text frame."""
        await self.send({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self.send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as compact JSON in a text (default) or binary frame."""
        await self.send(_json_frame(data, mode))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: the app receives `websocket.disconnect` with `code`."""
        await self._connection.close(code, reason)

    async def receive(self, timeout: float | Literal["default"] | None = "default") -> Message:
        """The next message the app sent (`websocket.send` or `websocket.close`)."""
        return await self._connection.receive(self._timeout(timeout))

    async def receive_text(self, timeout: float | Literal["default"] | None = "default") -> str:
        """The next text frame; raises `WebSocketClosed` if the app closed instead."""
        return _text_of(await self._connection.receive(self._timeout(timeout), "a text frame"))

    async def receive_bytes(self, timeout: float | Literal["default"] | None = "default") -> bytes:
        """The next binary frame; raises `WebSocketClosed` if the app closed instead."""
        return _bytes_of(await self._connection.receive(self._timeout(timeout), "a binary frame"))

    async def receive_json(
        self,
        mode: Literal["text", "binary"] = "text",
        timeout: float | Literal["default"] | None = "default",
    ) -> Any:
        """The next frame (text or binary per `mode`) decoded as JSON."""
        if mode == "binary":
            return json.loads(await self.receive_bytes(timeout))
        return json.loads(await self.receive_text(timeout))
