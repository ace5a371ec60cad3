"""Checks on every message an app sends, the way a strict server would apply them.

Each check raises `ASGIProtocolError` naming the rule and the message.  The
validators are state machines: which message may come next depends on what
came before (ASGI spec 2.5, "HTTP & WebSocket" and the extensions the client
offers in its scope).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable, Mapping
from enum import Enum, auto
from typing import Any

from flagstone_contract.http import (
    MalformedContentLength,
    is_header_value,
    is_token,
    parse_content_length,
)

from ._exceptions import ASGIProtocolError, ASGIProtocolWarning


def _require_mapping(message: Any) -> Mapping[str, Any]:
    if not isinstance(message, Mapping):
        raise ASGIProtocolError(f"a message must be a dict, got {type(message).__name__}", message)
    if not isinstance(message.get("type"), str):
        raise ASGIProtocolError("a message must have a str 'type' key", message)
    return message


def _check_bool(message: Mapping[str, Any], key: str) -> bool:
    value = message.get(key, False)
    if not isinstance(value, bool):
        raise ASGIProtocolError(f"'{key}' must be a bool, got {type(value).__name__}", message)
    return value


def _check_bytes(message: Mapping[str, Any], key: str, *, required: bool = False) -> bytes:
    if required and key not in message:
        raise ASGIProtocolError(f"'{key}' is required", message)
    value = message.get(key, b"")
    # The spec says "byte string"; servers write any bytes-like object, and
    # Starlette's StreamingResponse passes memoryview chunks through, so
    # bytearray and memoryview are accepted too.
    if not isinstance(value, (bytes, bytearray, memoryview)):
        hint = " (encode it first)" if isinstance(value, str) else ""
        raise ASGIProtocolError(f"'{key}' must be bytes, got {type(value).__name__}{hint}", message)
    return bytes(value)


# The header names already reported, per app: every client of one app (a
# module-level app shared by a test suite) reports a name once.  Weak keys,
# so an app's entry goes with the app.
_WARNED: weakref.WeakKeyDictionary[Any, set[bytes]] = weakref.WeakKeyDictionary()


def _names_warned_about(app: object) -> set[bytes]:
    try:
        return _WARNED.setdefault(app, set())
    except TypeError:
        # Not weak-referenceable or not hashable (an app with value
        # equality): reported once per client instead.
        return set()


class HeaderCase:
    """What to do with a header name that is a valid token except for its upper case.

    ASGI requires lower-case names, but real servers accept others (uvicorn
    lower-cases them), so a middleware that appends `X-Frame-Options` works
    in production.  By default the client does what servers do, lower-cases
    the name, and warns once per app and header name, so the bug
    is visible without failing a ported test; `strict=True` raises
    `ASGIProtocolError` instead.
    """

    def __init__(self, *, strict: bool, app: object = None) -> None:
        self.strict = strict
        self._app_name = getattr(app, "__qualname__", None) or type(app).__name__
        self._warned = _names_warned_about(app)

    def lower(self, name: bytes, message: Mapping[str, Any]) -> bytes:
        """`name` lower-cased, after a warning (the first time) or an error (strict)."""
        if self.strict:
            raise ASGIProtocolError(f"header name {name!r} must be lower-case", message)
        lowered = name.lower()
        if lowered not in self._warned:
            self._warned.add(lowered)
            warnings.warn(
                ASGIProtocolWarning(
                    f"the app {self._app_name} sent the header name {name!r}, which ASGI requires "
                    f"in lower case; the test client lower-cased it as servers do (reported once "
                    f"per app and name; strict_header_case=True makes it an error)"
                ),
                # app -> send -> validator.check -> handler -> check_headers -> here
                stacklevel=6,
            )
        return lowered


STRICT_HEADER_CASE = HeaderCase(strict=True)


def check_headers(
    message: Mapping[str, Any], key: str = "headers", case: HeaderCase = STRICT_HEADER_CASE
) -> list[tuple[bytes, bytes]]:
    """Validate `message[key]` as ASGI headers and return them as a list of pairs.

    Upper-case names are handled by `case` (lower-cased with a warning, or
    refused); the pairs returned always have lower-case names.
    """
    raw = message.get(key, [])
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise ASGIProtocolError(
            f"'{key}' must be an iterable of [name, value] byte pairs, got {type(raw).__name__}",
            message,
        )
    pairs: list[tuple[bytes, bytes]] = []
    for item in raw:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ASGIProtocolError(
                f"each header must be a [name, value] pair, got {item!r}", message
            )
        name, value = item
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise ASGIProtocolError(
                f"header names and values must be bytes, got {type(name).__name__} {name!r}: "
                f"{type(value).__name__}",
                message,
            )
        # A name that is not an RFC 9110 token, or a value with CR, LF, NUL or
        # another control character, lets an app split or smuggle headers once
        # a real server writes them (h11 and httptools refuse to).
        if not is_token(name):
            raise ASGIProtocolError(
                f"header name {name!r} must be a valid token (RFC 9110)", message
            )
        if name != name.lower():
            name = case.lower(name, message)
        if not is_header_value(value):
            raise ASGIProtocolError(
                f"header {name!r} has CR, LF, NUL or another control character in its value "
                "(response splitting)",
                message,
            )
        pairs.append((name, value))
    return pairs


class _HTTPState(Enum):
    BEFORE_START = auto()
    STREAMING = auto()
    TRAILERS = auto()
    COMPLETE = auto()


# Statuses that must not carry a body (RFC 9110 §6.4.1).
_NO_BODY_STATUSES = frozenset({204, 304})

# Starlette's test client asserts these orders with these sentences; a ported
# test compares them, so they are the text, and flagstone's explanation is
# the note (`ASGIProtocolError(detail=...)`).
MULTIPLE_START = 'Received multiple "http.response.start" messages.'
BODY_BEFORE_START = 'Received "http.response.body" without "http.response.start".'
BODY_AFTER_RESPONSE = 'Received "http.response.body" after response completed.'
BODY_AFTER_BODY = 'Received "http.response.body" after body completed.'
TRAILERS_UNDECLARED = 'Received "http.response.trailers" without declaring trailers.'
TRAILERS_BEFORE_BODY = 'Received "http.response.trailers" before body completed.'
TRAILERS_AFTER_RESPONSE = 'Received "http.response.trailers" after response completed.'
NO_RESPONSE = "TestClient did not receive any response."


class HTTPResponseValidator:
    """The order and shape of `http.response.*` messages for one request."""

    def __init__(self, method: str, case: HeaderCase = STRICT_HEADER_CASE) -> None:
        self.state = _HTTPState.BEFORE_START
        self._case = case
        self.status: int | None = None
        # Validated copies: `headers` may be any iterable, even a generator,
        # so it is read once, here, and the caller uses these lists.
        self.headers: list[tuple[bytes, bytes]] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.expects_trailers = False
        self.content_length: int | None = None
        self.body_sent = 0
        self._head = method.upper() == "HEAD"

    @property
    def started(self) -> bool:
        """Whether `http.response.start` has been accepted."""
        return self.state is not _HTTPState.BEFORE_START

    @property
    def complete(self) -> bool:
        """Whether the response (body and promised trailers) is finished."""
        return self.state is _HTTPState.COMPLETE

    @property
    def body_complete(self) -> bool:
        """Whether the final body was sent (promised trailers may still be missing)."""
        return self.state in (_HTTPState.TRAILERS, _HTTPState.COMPLETE)

    def check(self, raw: Any) -> Mapping[str, Any]:
        """Validate one message from the app; advance the state; return it as a mapping."""
        message = _require_mapping(raw)
        kind = message["type"]
        if self.state is _HTTPState.COMPLETE:
            self._after_complete(kind, message)
        handler = {
            "http.response.start": self._start,
            "http.response.body": self._body,
            "http.response.pathsend": self._pathsend,
            "http.response.trailers": self._trailers,
            "http.response.early_hint": self._early_hint,
            "http.response.debug": self._debug,
        }.get(kind)
        if handler is None:
            raise ASGIProtocolError(
                f"unknown message type '{kind}' for an http connection (expected "
                "http.response.start, http.response.body or an offered extension)",
                message,
            )
        handler(message)
        return message

    def _after_complete(self, kind: str, message: Mapping[str, Any]) -> None:
        # Starlette's sentences for what it checks; the handlers below give
        # them for start and undeclared trailers.
        if kind in ("http.response.start", "http.response.debug") or (
            kind == "http.response.trailers" and not self.expects_trailers
        ):
            return
        starlette_text = {
            "http.response.body": BODY_AFTER_RESPONSE,
            "http.response.trailers": TRAILERS_AFTER_RESPONSE,
        }.get(kind)
        explanation = (
            f"'{kind}' sent after the response was complete (the final body, and any "
            "trailers, had already been sent)"
        )
        if starlette_text is None:
            raise ASGIProtocolError(explanation, message)
        raise ASGIProtocolError(starlette_text, message, detail=explanation)

    def _start(self, message: Mapping[str, Any]) -> None:
        if self.state is not _HTTPState.BEFORE_START:
            raise ASGIProtocolError(
                MULTIPLE_START,
                message,
                detail="a second 'http.response.start' (the response already started)",
            )
        status = message.get("status")
        # bool is an int subclass; True as a status is always a bug.
        if not isinstance(status, int) or isinstance(status, bool):
            raise ASGIProtocolError(
                f"'status' must be an int, got {type(status).__name__}", message
            )
        if not 200 <= status <= 599:
            raise ASGIProtocolError(
                f"'status' must be a final status in 200..599, got {status} "
                "(send 103 Early Hints with 'http.response.early_hint')",
                message,
            )
        headers = check_headers(message, case=self._case)
        self.expects_trailers = _check_bool(message, "trailers")
        self.status = status
        self.headers = headers
        self.content_length = self._declared_length(headers, message)
        self.state = _HTTPState.STREAMING

    @staticmethod
    def _declared_length(
        headers: list[tuple[bytes, bytes]], message: Mapping[str, Any]
    ) -> int | None:
        values = [value for name, value in headers if name == b"content-length"]
        if not values:
            return None
        try:
            if len(set(values)) > 1:
                raise MalformedContentLength("differing values")
            return parse_content_length(values[0])
        except MalformedContentLength:
            raise ASGIProtocolError(
                f"invalid content-length header(s) {values!r}", message
            ) from None

    def _require_streaming(self, message: Mapping[str, Any]) -> None:
        kind = message["type"]
        is_body = kind == "http.response.body"
        if self.state is _HTTPState.BEFORE_START:
            explanation = f"'{kind}' sent before 'http.response.start'"
            if is_body:
                raise ASGIProtocolError(BODY_BEFORE_START, message, detail=explanation)
            raise ASGIProtocolError(explanation, message)
        if self.state is _HTTPState.TRAILERS:
            explanation = (
                f"'{kind}' sent after the final body; only 'http.response.trailers' may follow"
            )
            if is_body:
                raise ASGIProtocolError(BODY_AFTER_BODY, message, detail=explanation)
            raise ASGIProtocolError(explanation, message)

    def _body(self, message: Mapping[str, Any]) -> None:
        self._require_streaming(message)
        body = _check_bytes(message, "body")
        more_body = _check_bool(message, "more_body")
        self._count_body(len(body), final=not more_body, message=message)

    def _count_body(self, size: int, *, final: bool, message: Mapping[str, Any]) -> None:
        # HEAD responses carry the GET's content-length but no body; servers
        # drop the body, so neither a body nor its absence is an error.
        if not self._head:
            self.body_sent += size
            if size and self.status in _NO_BODY_STATUSES:
                raise ASGIProtocolError(f"a {self.status} response must not have a body", message)
            # A 304's content-length describes the representation it stands
            # for, not this (empty) body; 204 has none to check.
            length = None if self.status in _NO_BODY_STATUSES else self.content_length
            if length is not None and self.body_sent > length:
                raise ASGIProtocolError(
                    f"body is longer than its content-length: {self.body_sent} > {length} bytes",
                    message,
                )
            if final and length is not None and self.body_sent < length:
                raise ASGIProtocolError(
                    f"response ended after {self.body_sent} bytes but content-length is {length}",
                    message,
                )
        if final:
            self.state = _HTTPState.TRAILERS if self.expects_trailers else _HTTPState.COMPLETE

    def _pathsend(self, message: Mapping[str, Any]) -> None:
        self._require_streaming(message)
        if self.body_sent:
            raise ASGIProtocolError("'http.response.pathsend' after body chunks were sent", message)
        path = message.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ASGIProtocolError("'path' must be an absolute path as str", message)
        # The size is checked against content-length by the caller once the
        # file has been read; here only the order matters.
        self.state = _HTTPState.TRAILERS if self.expects_trailers else _HTTPState.COMPLETE

    def _trailers(self, message: Mapping[str, Any]) -> None:
        if not self.expects_trailers:
            raise ASGIProtocolError(
                TRAILERS_UNDECLARED,
                message,
                detail="'http.response.trailers' without 'trailers': True in 'http.response.start'",
            )
        if self.state is not _HTTPState.TRAILERS:
            raise ASGIProtocolError(
                TRAILERS_BEFORE_BODY,
                message,
                detail="'http.response.trailers' before the final body",
            )
        self.trailers.extend(check_headers(message, case=self._case))
        if not _check_bool(message, "more_trailers"):
            self.state = _HTTPState.COMPLETE

    def _early_hint(self, message: Mapping[str, Any]) -> None:
        if self.state is not _HTTPState.BEFORE_START:
            raise ASGIProtocolError(
                "'http.response.early_hint' after 'http.response.start'", message
            )
        links = message.get("links")
        if not isinstance(links, list) or not all(isinstance(link, bytes) for link in links):
            raise ASGIProtocolError("'links' must be a list of bytes", message)

    def _debug(self, message: Mapping[str, Any]) -> None:
        # Any time, as in Starlette's client: a template response reports its
        # template and context around its body, whichever order a
        # middleware leaves them in.
        if not isinstance(message.get("info"), Mapping):
            raise ASGIProtocolError("'info' of 'http.response.debug' must be a mapping", message)


class _WSState(Enum):
    CONNECTING = auto()
    CONNECTED = auto()
    DENIAL = auto()
    CLOSED = auto()


def _valid_close_code(code: int) -> bool:
    # The registered codes (1000-1015) and the ones for libraries and
    # applications (3000-4999).  RFC 6455 §7.4 reserves 1004-1006 and 1015
    # for reporting, never for a close frame, but apps do send them (1006 to
    # say "abnormal", mirroring WebSocketDisconnect(1006)) and they are
    # Starlette's named constants: the client reports them as sent, the way
    # the test would see them, rather than refusing the close.
    return 1000 <= code <= 1015 or 3000 <= code <= 4999


class WebSocketValidator:
    """The order and shape of the messages an app sends on a WebSocket."""

    def __init__(self, subprotocols: list[str], case: HeaderCase = STRICT_HEADER_CASE) -> None:
        self.state = _WSState.CONNECTING
        self._case = case
        self._subprotocols = subprotocols
        # Validated copy of the accept or denial headers (read once: any iterable).
        self.headers: list[tuple[bytes, bytes]] = []

    def check(self, raw: Any) -> Mapping[str, Any]:
        """Validate one message from the app; advance the state; return it as a mapping."""
        message = _require_mapping(raw)
        kind = message["type"]
        if self.state is _WSState.CLOSED:
            raise ASGIProtocolError(f"'{kind}' sent after the connection was closed", message)
        handler = {
            "websocket.accept": self._accept,
            "websocket.send": self._send,
            "websocket.close": self._close,
            "websocket.http.response.start": self._denial_start,
            "websocket.http.response.body": self._denial_body,
        }.get(kind)
        if handler is None:
            raise ASGIProtocolError(
                f"unknown message type '{kind}' for a websocket connection", message
            )
        handler(message)
        return message

    def _accept(self, message: Mapping[str, Any]) -> None:
        if self.state is not _WSState.CONNECTING:
            raise ASGIProtocolError(
                "'websocket.accept' sent twice (the connection is already open)", message
            )
        subprotocol = message.get("subprotocol")
        if subprotocol is not None:
            if not isinstance(subprotocol, str):
                raise ASGIProtocolError("'subprotocol' must be a str or None", message)
            # A browser fails the handshake when the server picks a
            # subprotocol it did not offer.
            if subprotocol not in self._subprotocols:
                raise ASGIProtocolError(
                    f"subprotocol {subprotocol!r} was not offered by the client "
                    f"(offered: {self._subprotocols!r})",
                    message,
                )
        self.headers = check_headers(message, case=self._case)
        self.state = _WSState.CONNECTED

    def _send(self, message: Mapping[str, Any]) -> None:
        if self.state is _WSState.CONNECTING:
            raise ASGIProtocolError("'websocket.send' before 'websocket.accept'", message)
        if self.state is _WSState.DENIAL:
            raise ASGIProtocolError("'websocket.send' during a denial response", message)
        data, text = message.get("bytes"), message.get("text")
        if (data is None) == (text is None):
            raise ASGIProtocolError(
                "exactly one of 'bytes' and 'text' must be set (and not None)", message
            )
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            raise ASGIProtocolError(f"'bytes' must be bytes, got {type(data).__name__}", message)
        if text is not None and not isinstance(text, str):
            raise ASGIProtocolError(f"'text' must be str, got {type(text).__name__}", message)

    def _close(self, message: Mapping[str, Any]) -> None:
        if self.state is _WSState.DENIAL:
            raise ASGIProtocolError("'websocket.close' during a denial response", message)
        code = message.get("code", 1000)
        if not isinstance(code, int) or isinstance(code, bool) or not _valid_close_code(code):
            raise ASGIProtocolError(
                f"close code {code!r} is not a WebSocket close code (RFC 6455 §7.4: an int "
                "in 1000-1015 or 3000-4999)",
                message,
            )
        reason = message.get("reason")
        if reason is not None:
            if not isinstance(reason, str):
                raise ASGIProtocolError("'reason' must be a str or None", message)
            # The close frame is a control frame: at most 125 bytes, 2 of them the code.
            if len(reason.encode()) > 123:
                raise ASGIProtocolError("close 'reason' is longer than 123 UTF-8 bytes", message)
        self.state = _WSState.CLOSED

    def _denial_start(self, message: Mapping[str, Any]) -> None:
        if self.state is not _WSState.CONNECTING:
            raise ASGIProtocolError(
                "'websocket.http.response.start' after 'websocket.accept' (a denial response "
                "is only possible before the handshake completes)",
                message,
            )
        status = message.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ASGIProtocolError(f"'status' must be an int in 100..599, got {status!r}", message)
        self.headers = check_headers(message, case=self._case)
        self.state = _WSState.DENIAL

    def _denial_body(self, message: Mapping[str, Any]) -> None:
        if self.state is not _WSState.DENIAL:
            raise ASGIProtocolError(
                "'websocket.http.response.body' before 'websocket.http.response.start'", message
            )
        _check_bytes(message, "body")
        if not _check_bool(message, "more_body"):
            self.state = _WSState.CLOSED


class LifespanValidator:
    """The order of lifespan messages: one answer to startup, one to shutdown."""

    def __init__(self) -> None:
        self.waiting_for: str | None = None  # "startup" or "shutdown" while a reply is due

    def check(self, raw: Any) -> Mapping[str, Any]:
        """Validate one message from the app."""
        message = _require_mapping(raw)
        kind = message["type"]
        phase, _, outcome = kind.removeprefix("lifespan.").partition(".")
        if (
            not kind.startswith("lifespan.")
            or outcome not in ("complete", "failed")
            or phase
            not in (
                "startup",
                "shutdown",
            )
        ):
            raise ASGIProtocolError(
                f"unknown message type '{kind}' for the lifespan protocol", message
            )
        if phase != self.waiting_for:
            raise ASGIProtocolError(
                f"'{kind}' sent but the server did not send 'lifespan.{phase}'", message
            )
        if outcome == "failed" and not isinstance(message.get("message", ""), str):
            raise ASGIProtocolError("'message' must be a str", message)
        self.waiting_for = None
        return message
