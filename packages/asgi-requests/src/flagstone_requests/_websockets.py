"""`WebSocket`: one WebSocket connection, with the ASGI state machine enforced.

Two state machines run side by side, as in Starlette: `client_state` follows
what the server told us (`websocket.connect`, `websocket.disconnect`),
`application_state` follows what we sent (`accept`, `close`, a denial
response).  A message that is not allowed in the current state raises
`RuntimeError` here, at the faulty call, rather than confusing the server.

Deliberate differences from Starlette:

- `receive_text()` on a binary frame (and the reverse) raises `TypeError`
  saying which frame arrived, not `KeyError('text')`.
- The close code and reason are kept on `close_code` / `close_reason` once
  the connection ends, so they are available after `iter_*` returns.
- `close(reason=...)` longer than the 123 bytes a close frame allows raises
  `ValueError` here instead of failing in the server.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any, ClassVar, Literal

# WebSocketDisconnect lives in the contract (the test client raises subclasses of it).
from flagstone_contract import Message, Receive, Scope, Send, WebSocketDisconnect

from ._connection import HTTPConnection
from ._exceptions import WrongScopeType

logger = logging.getLogger("flagstone_requests")

__all__ = [
    "DataFrameBypass",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_MAX_REASON_BYTES = 123  # RFC 6455 §5.5: control frame payload 125 bytes, minus the code


# The methods the fast paths stand in for (see `WebSocket._inlinable`):
# `receive_text()` and `receive_bytes()` inline `receive()`, `iter_text()`
# inlines `receive_text()`, `send_text()` and `send_bytes()` inline `send()`.
_LAYERS = ("receive", "receive_text", "send")


class WebSocketState(enum.Enum):
    """Where one side of the connection stands."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


# Module-level aliases compared with `is`: looking a member up on the enum
# class goes through its metaclass, about a microsecond a time on the
# per-message path (members are singletons, so `is` means `==`).
_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE


class DataFrameBypass:
    """A `send` that passes data frames straight to `data` and every other message to `tracked`.

    The error layers wrap a WebSocket's `send` to learn whether the handshake
    or the close went out; a `websocket.send` data frame tells them nothing,
    so it skips that wrapper.  A `WebSocket` given one of these sends its
    data frames to `data` directly; any other app just calls it.
    """

    __slots__ = ("data", "tracked")

    def __init__(self, data: Send, tracked: Send) -> None:
        self.data = data
        self.tracked = tracked

    # Not `async def`: hands back the chosen callee's awaitable, so a call
    # costs no coroutine of its own.
    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "websocket.send":
            return self.data(message)
        return self.tracked(message)


class WebSocketDisconnected(RuntimeError):
    """The WebSocket was used when it cannot be: not accepted yet, or already closed."""


def _check_reason(reason: Any) -> str | None:
    if reason is not None and not isinstance(reason, str):
        return _reason_from_data(reason)
    if reason is not None and len(reason.encode("utf-8")) > _MAX_REASON_BYTES:
        raise ValueError(
            f"a WebSocket close reason is at most {_MAX_REASON_BYTES} bytes of UTF-8, "
            f"got {len(reason.encode('utf-8'))}; shorten it"
        )
    return reason


def _reason_from_data(reason: Any) -> str:
    """A close reason for data that is not text (FastAPI passes its validation errors).

    Starlette puts it in the close message as it is, which no server can
    send (ASGI's `reason` is text); here it goes as compact JSON, cut at
    the protocol's 123 bytes on a character boundary, with a debug log line
    when cut.
    """
    text = json.dumps(reason, default=str, ensure_ascii=False, separators=(",", ":"))
    raw = text.encode("utf-8")
    if len(raw) <= _MAX_REASON_BYTES:
        return text
    logger.debug("WebSocket close reason cut to %d bytes: %s", _MAX_REASON_BYTES, text)
    return raw[:_MAX_REASON_BYTES].decode("utf-8", errors="ignore")


class WebSocket(HTTPConnection):
    """A WebSocket connection: `HTTPConnection` plus accept, receive, send and close."""

    # Whether the data methods (`receive_text`, `send_text`, `iter_text`, …)
    # may take their inlined fast paths.  A subclass that overrides one of
    # the methods they are built on gets the layered calls instead, so its
    # override is called as it would be in Starlette.
    _inlinable: ClassVar[bool] = True

    # Class-level defaults: a subclass that skips `__init__` sets `scope`,
    # `_receive` and `_send` (Starlette's names) and starts in these states.
    # `_plain` False: every frame goes through the methods (no fast path
    # without `_send_frame`, which `__init__` sets).
    client_state: WebSocketState = WebSocketState.CONNECTING
    application_state: WebSocketState = WebSocketState.CONNECTING
    close_code: int | None = None
    close_reason: str | None = None
    _plain: bool = False
    _send_frame: Any = None  # read only when `_plain`, which `__init__` sets with it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._inlinable = all(getattr(cls, name) is getattr(WebSocket, name) for name in _LAYERS)

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            raise WrongScopeType(f"WebSocket needs a 'websocket' scope, got {scope.get('type')!r}")
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self._plain = type(self)._inlinable  # read per frame: an instance attribute is quicker
        # Where data frames go when `_plain`: `send`, minus an error layer's
        # tracking wrapper (`DataFrameBypass`).
        self._send_frame = send.data if type(send) is DataFrameBypass else send
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # --- raw messages ----------------------------------------------------------

    async def receive(self) -> Message:
        """Receive one ASGI message, checking that it is allowed now."""
        state = self.client_state
        if state is _DISCONNECTED:
            error = WebSocketDisconnected(
                'Cannot call "receive" once a disconnect message has been received.'
            )
            error.add_note(f"flagstone: the client disconnected with code {self.close_code}")
            raise error
        message = await self._receive()
        if message["type"] != "websocket.receive" or state is not _CONNECTED:
            self._received(state, message)
        # else: a data frame, nothing to record (the hot path)
        return message

    def _received(self, state: WebSocketState, message: Message) -> None:
        """Check `message`, received in `state`, and record the transition it makes."""
        kind = message["type"]
        if state is _CONNECTING:
            if kind != "websocket.connect":
                raise RuntimeError(f'Expected ASGI message "websocket.connect", but got {kind!r}')
            self.client_state = _CONNECTED
        elif kind == "websocket.disconnect":
            self.client_state = _DISCONNECTED
            self.close_code = int(message.get("code") or 1005)
            self.close_reason = message.get("reason") or ""
        elif kind != "websocket.receive":
            raise RuntimeError(
                'Expected ASGI message "websocket.receive" or "websocket.disconnect", '
                f"but got {kind!r}"
            )

    async def send(self, message: Message) -> None:
        """Send one ASGI message, checking that it is allowed now."""
        state = self.application_state
        kind = message["type"]
        if state is _CONNECTED:  # first: every data frame takes this branch
            if kind == "websocket.close":
                self.application_state = _DISCONNECTED
                self._closed_by_us(message)
            elif kind != "websocket.send":
                raise self._send_refused(kind)
        elif state is _CONNECTING:
            if kind == "websocket.accept":
                self.application_state = _CONNECTED
            elif kind == "websocket.close":
                self.application_state = _DISCONNECTED
                self._closed_by_us(message)
            elif kind == "websocket.http.response.start":
                self.application_state = _RESPONSE
            else:
                raise self._send_refused(kind)
        elif state is _RESPONSE:
            if kind != "websocket.http.response.body":
                raise self._send_refused(kind)
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
        else:
            raise self._send_refused(kind)
        try:
            await self._send(message)
        except OSError:
            raise self._send_failed() from None

    def _send_refused(self, kind: str) -> RuntimeError:
        """The error for sending a `kind` message in the current state (Starlette's texts)."""
        state = self.application_state
        if state is _CONNECTED:
            expected = '"websocket.send" or "websocket.close"'
        elif state is _CONNECTING:
            expected = '"websocket.accept", "websocket.close" or "websocket.http.response.start"'
        elif state is _RESPONSE:
            expected = '"websocket.http.response.body"'
        else:
            error = WebSocketDisconnected('Cannot call "send" once a close message has been sent.')
            error.add_note(f"flagstone: {kind!r} was sent after the WebSocket closed")
            return error
        return RuntimeError(f"Expected ASGI message {expected}, but got {kind!r}")

    def _send_failed(self) -> WebSocketDisconnect:
        # ASGI spec 2.4: a send to a gone client raises OSError.  1006 is
        # "closed abnormally", the code a browser reports for this.
        self.application_state = _DISCONNECTED
        self.close_code = 1006
        return WebSocketDisconnect(code=1006)

    def _closed_by_us(self, message: Message) -> None:
        if self.close_code is None:
            self.close_code = int(message.get("code") or 1000)
            self.close_reason = message.get("reason") or ""

    # --- handshake ---------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Accept the connection, optionally choosing `subprotocol` and adding headers."""
        if subprotocol is not None:
            offered = self.scope.get("subprotocols")
            # RFC 6455 §4.1: a client fails the connection when the server
            # picks a subprotocol it did not offer; say so here instead.
            if offered is not None and subprotocol not in offered:
                raise ValueError(
                    f"subprotocol {subprotocol!r} was not offered by the client "
                    f"(offered: {list(offered)!r}); pick one of those or None"
                )
        if self.client_state is _CONNECTING:
            # The connect message must be consumed before we may answer it.
            await self.receive()
        # `headers` is always present (empty when none), as Starlette sends
        # it: middleware that appends to `message["headers"]` must not fail.
        await self.send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": list(headers) if headers is not None else [],
            }
        )

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection (before `accept()`: reject it, the server answers 403).

        `reason` is text of at most 123 UTF-8 bytes (ValueError past that).
        Data that is not text (a list of validation errors) is sent as
        compact JSON, cut to 123 bytes.
        """
        await self.send(
            {"type": "websocket.close", "code": code, "reason": _check_reason(reason) or ""}
        )

    async def send_denial_response(self, response: Any) -> None:
        """Reject the handshake with an HTTP `response` (any flagstone response class).

        Needs the server's `websocket.http.response` extension; without it a
        `RuntimeError` says so (use `close()` to reject with a plain 403).
        """
        extensions = self.scope.get("extensions") or {}
        if "websocket.http.response" not in extensions:
            error = RuntimeError(
                "The server doesn't support the Websocket Denial Response extension."
            )
            error.add_note(
                "flagstone: the server offers no 'websocket.http.response' extension; "
                "call close() to reject the handshake with 403"
            )
            raise error
        if self.application_state is not _CONNECTING:
            raise RuntimeError(
                "a denial response can only be sent before the WebSocket is accepted or closed"
            )
        await response(self.scope, self.receive, self.send)

    # --- data ----------------------------------------------------------------------

    def _require_connected(self) -> None:
        if self.application_state is not _CONNECTED:
            error = WebSocketDisconnected(
                'WebSocket is not connected. Need to call "accept" first.'
            )
            if self.application_state is not _CONNECTING:
                error.add_note("flagstone: the WebSocket has already been closed")
            raise error

    async def receive_text(self) -> str:
        """Receive a text frame (`TypeError` if a binary frame arrives)."""
        if self._plain and self.client_state is _CONNECTED and self.application_state is _CONNECTED:
            # `receive()` inlined: a text frame needs no checks beyond these.
            message = await self._receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if text is not None:
                    return str(text)
            else:
                self._received(_CONNECTED, message)
        else:
            if self.application_state is not _CONNECTED:
                self._require_connected()
            message = await self.receive()
        return self._text_of(message)

    async def receive_bytes(self) -> bytes:
        """Receive a binary frame (`TypeError` if a text frame arrives)."""
        if self._plain and self.client_state is _CONNECTED and self.application_state is _CONNECTED:
            # `receive()` inlined: a binary frame needs no checks beyond these.
            message = await self._receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes")
                if data is not None:
                    return bytes(data)
            else:
                self._received(_CONNECTED, message)
        else:
            if self.application_state is not _CONNECTED:
                self._require_connected()
            message = await self.receive()
        return self._bytes_of(message)

    def _text_of(self, message: Message) -> str:
        """The text of `message`, or the error it stands for (a disconnect, a binary frame)."""
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
        return _frame_text(message)

    def _bytes_of(self, message: Message) -> bytes:
        """The bytes of `message`, or the error it stands for (a disconnect, a text frame)."""
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(self.close_code or 1005, self.close_reason)
        return _frame_bytes(message)

    async def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        """Receive a frame of JSON: a text frame, or UTF-8 in a binary one with `mode="binary"`."""
        _check_mode(mode)
        # This class's own `receive_text` / `receive_bytes`, not a subclass
        # override: Starlette's `receive_json` does not call those either
        # (it reads through `receive()`, which they still honour).
        if mode == "text":
            return json.loads(await WebSocket.receive_text(self))
        return json.loads((await WebSocket.receive_bytes(self)).decode("utf-8"))

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield text frames until the client disconnects (then see `close_code`)."""
        receive = self._receive
        try:
            while True:
                # `receive_text()` inlined for a plain socket that stays
                # connected: one coroutine less per frame.
                if (
                    self._plain
                    and self.client_state is _CONNECTED
                    and self.application_state is _CONNECTED
                ):
                    message = await receive()
                    if message["type"] == "websocket.receive":
                        text = message.get("text")
                        if text is not None:
                            yield str(text)
                            continue
                    else:
                        self._received(_CONNECTED, message)
                    yield self._text_of(message)
                else:
                    yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary frames until the client disconnects (then see `close_code`)."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON text frames until the client disconnects (then see `close_code`)."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data: str) -> None:
        """Send a text frame."""
        if self.application_state is not _CONNECTED:
            raise self._send_refused("websocket.send")
        if not self._plain:
            await self.send({"type": "websocket.send", "text": data})
            return
        # `send()` inlined: a data frame on a connected socket changes no state.
        try:
            await self._send_frame({"type": "websocket.send", "text": data})
        except OSError:
            raise self._send_failed() from None

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        if self.application_state is not _CONNECTED:
            raise self._send_refused("websocket.send")
        if not self._plain:
            await self.send({"type": "websocket.send", "bytes": data})
            return
        # `send()` inlined: a data frame on a connected socket changes no state.
        try:
            await self._send_frame({"type": "websocket.send", "bytes": data})
        except OSError:
            raise self._send_failed() from None

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as compact JSON, in a text frame or (`mode="binary"`) a binary one."""
        _check_mode(mode)
        if self.application_state is not _CONNECTED:
            # Before encoding: a closed socket is the error to report.
            raise self._send_refused("websocket.send")
        text = _JSON.encode(data)
        # This class's own `send_text` / `send_bytes`, not a subclass
        # override (as in Starlette, which sends through `send()`).
        if mode == "text":
            await WebSocket.send_text(self, text)
        else:
            await WebSocket.send_bytes(self, text.encode("utf-8"))


class _InvalidJSONMode(RuntimeError, ValueError):
    """An unknown `mode` for `send_json` / `receive_json`.

    Starlette raises `RuntimeError` here and flagstone used to raise
    `ValueError`; being both, every `except` clause written for either works.
    """


def _check_mode(mode: str) -> None:
    if mode not in ("text", "binary"):
        # Starlette's wording (ported tests compare it); the value given in a note.
        error = _InvalidJSONMode('The "mode" argument should be "text" or "binary".')
        error.add_note(f"flagstone: got mode={mode!r}")
        raise error


def _frame_text(message: Message) -> str:
    text = message.get("text")
    if text is None:
        size = len(message.get("bytes") or b"")
        raise TypeError(
            f"expected a text frame but received a binary frame ({size} bytes); "
            "use receive_bytes() for binary data"
        )
    return str(text)


def _frame_bytes(message: Message) -> bytes:
    data = message.get("bytes")
    if data is None:
        raise TypeError(
            "expected a binary frame but received a text frame; use receive_text() for text"
        )
    return bytes(data)


class WebSocketClose:
    """An ASGI app that closes the WebSocket with `code` and `reason`."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = _check_reason(reason) or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
