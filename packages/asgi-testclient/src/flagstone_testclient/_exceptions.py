"""The errors the test client raises, each naming what went wrong and what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flagstone_contract import WebSocketDisconnect

from ._httpx import httpx

__all__ = [
    "ASGIProtocolError",
    "ASGIProtocolWarning",
    "AppTimeoutError",
    "LifespanFailed",
    "WebSocketClosed",
    "WebSocketDenialResponse",
]


def describe_message(message: Any, limit: int = 200) -> str:
    """A short, safe rendering of an ASGI message for error texts.

    Bodies can be megabytes; an error message that prints all of them is
    unreadable in a CI log, so the rendering is cut at `limit` characters.
    """
    text = repr(dict(message)) if isinstance(message, Mapping) else repr(message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ASGIProtocolError(RuntimeError, AssertionError):
    """The app sent a message that breaks the ASGI protocol.

    Real servers reject such messages (often by dropping the connection with a
    log line nobody reads); the test client raises this instead, both inside
    the app's `send()` and from the client call, so the failing test points at
    the bug.  `violation` says what rule was broken, `message` is the
    offending ASGI message.

    Also an `AssertionError`, the class Starlette's test client raises for the
    sequences it checks, and for those its text is Starlette's own sentence
    (`Received multiple "http.response.start" messages.`); flagstone's
    explanation and the offending message are then in a note (`detail`),
    shown in the traceback.
    """

    def __init__(self, violation: str, message: Any = None, *, detail: str | None = None) -> None:
        self.violation = violation
        self.message = message
        described = None if message is None else f"message: {describe_message(message)}"
        if detail is None:
            super().__init__(violation if described is None else f"{violation}; {described}")
            return
        super().__init__(violation)
        self.add_note(f"flagstone: {detail}" + ("" if described is None else f"; {described}"))


class ASGIProtocolWarning(UserWarning):
    """The app sent something ASGI forbids but real servers tolerate.

    Today: a header name in upper case (`X-Frame-Options`), which servers
    lower-case.  The client does the same and warns once per app and header
    name; `strict_header_case=True` turns it into an `ASGIProtocolError`.
    Silence it with `-W ignore::flagstone_testclient.ASGIProtocolWarning`.
    """


class AppTimeoutError(TimeoutError):
    """The app did not do what the client was waiting for in time.

    Raised instead of hanging: by WebSocket connects and receives, by lifespan
    startup and shutdown, and by HTTP requests whose app does not answer (or
    whose body never ends) within the client's timeout.  The text says what the
    client was waiting for and the last message the app sent.
    """

    def __init__(self, waiting_for: str, timeout: float, last_message: Any = None) -> None:
        self.waiting_for = waiting_for
        self.timeout = timeout
        self.last_message = last_message
        last = (
            "the app has sent nothing yet"
            if last_message is None
            else f"the last message the app sent was {describe_message(last_message)}"
        )
        super().__init__(f"timed out after {timeout:g} s waiting for {waiting_for}; {last}")


class WebSocketClosed(WebSocketDisconnect):
    """The app closed (or rejected) the WebSocket connection.

    The *client-side* view of a close: `code` and `reason` are what the app
    sent in `websocket.close` (1006 if it returned without closing, 1011 if it
    crashed).  A subclass of `WebSocketDisconnect` (flagstone-contract's,
    re-exported by flagstone-requests and `flagstone`), so tests written the
    Starlette way, `pytest.raises(WebSocketDisconnect)`, catch it; the class
    name says which side saw the close.
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        super().__init__(code, reason)

    def __str__(self) -> str:
        return f"the app closed the WebSocket with code {self.code}" + (
            f": {self.reason}" if self.reason else ""
        )


class WebSocketDenialResponse(httpx.Response, WebSocketClosed):  # type: ignore[misc]
    """The app refused the WebSocket handshake with an HTTP response.

    Sent through the `websocket.http.response` extension; the exception *is*
    the response (`status_code`, `headers`, `content`, `text`, `json()`), and
    also a `WebSocketClosed`, hence a `WebSocketDisconnect` as in Starlette, so
    that a test expecting any refusal catches it.
    """

    def __init__(
        self, status_code: int, headers: list[tuple[bytes, bytes]], content: bytes
    ) -> None:
        httpx.Response.__init__(self, status_code, headers=headers, content=content)
        WebSocketClosed.__init__(self, 1000, f"denied with HTTP {status_code}")

    def __str__(self) -> str:
        return f"the app denied the WebSocket connection with HTTP {self.status_code}"


class LifespanFailed(RuntimeError):
    """Lifespan startup or shutdown failed with a `lifespan.*.failed` message.

    Raised when the app reported the failure without letting an exception
    escape; when the original exception escapes, that exception is raised
    instead.  `phase` is "startup" or "shutdown".
    """

    def __init__(self, phase: str, message: str) -> None:
        self.phase = phase
        self.message = message
        super().__init__(f"lifespan {phase} failed: {message or '(no message)'}")


class ClientDisconnected(OSError):
    """What the app's `send()` raises once the client went away (ASGI spec >= 2.4).

    Private: apps catch `OSError`, as the spec tells them to.  The client uses
    the class to recognise exceptions that are the app reacting to a
    disconnect it caused, which are not re-raised.
    """
