"""Exceptions that cross package boundaries.

Routing raises them, request handling (flagstone-requests' exception
middleware) renders them; any ASGI app may catch them.  `WebSocketDisconnect`
is here because two packages raise it: flagstone-requests' `WebSocket` (the
app's view of a closed connection) and flagstone-testclient (the test's view,
through subclasses), and a test written the Starlette way catches both with
one `except WebSocketDisconnect`.  Semantics follow
Starlette 1.x so handlers written for `starlette.exceptions` keep working.
"""

from __future__ import annotations

import http
from collections.abc import Mapping

__all__ = [
    "ContentTooLarge",
    "HTTPException",
    "StarletteDeprecationWarning",
    "WebSocketDisconnect",
    "WebSocketException",
]


def _reason_phrase(status_code: int) -> str:
    try:
        return http.HTTPStatus(status_code).phrase
    except ValueError:
        # Non-standard codes (e.g. 499) have no phrase; Starlette uses "".
        return ""


class HTTPException(Exception):
    """An HTTP error to be rendered as a response with `status_code`.

    `detail` defaults to the standard reason phrase ("Not Found" for 404), or
    an empty string for codes without one.  `headers` are added to the error
    response (e.g. `Allow` on a 405, `WWW-Authenticate` on a 401).
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            detail = _reason_phrase(status_code)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        super().__init__(status_code, detail)

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status_code={self.status_code!r}, detail={self.detail!r})"


class ContentTooLarge(HTTPException):
    """413: the request body, a form part or an uploaded file is larger than its limit.

    `limit` is the limit in bytes.  The one exception for every size limit in
    the toolkit: the declared (`Content-Length`) and the streamed (chunked)
    case alike.  For the request body limit (no `detail` given) the detail is
    Starlette's, `Content Too Large`; which limit was hit is in the note.
    """

    def __init__(self, detail: str | None = None, *, limit: int) -> None:
        super().__init__(413, "Content Too Large" if detail is None else detail)
        self.limit = limit
        if detail is None:
            self.add_note(
                f"flagstone: the request body exceeds the limit of {limit} bytes (max_body_size)"
            )


class WebSocketException(Exception):
    """A WebSocket error to be rendered by closing the connection with `code`.

    `reason` (at most 123 bytes of UTF-8 on the wire) defaults to "".
    """

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class WebSocketDisconnect(Exception):
    """The connection closed; `code` and `reason` say how (1000, "" by default).

    Starlette's signature and attributes: `WebSocketDisconnect(code=1000,
    reason=None)`, `.code`, `.reason`.  flagstone-requests' `WebSocket` raises
    it when the peer disconnects; flagstone-testclient raises subclasses of it
    (`WebSocketClosed`, `WebSocketDenialResponse`) when the app closes or
    refuses the connection.
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"WebSocket closed with code {self.code}" + (
            f": {self.reason}" if self.reason else ""
        )


class StarletteDeprecationWarning(DeprecationWarning, UserWarning):
    """Warned when code uses a name Starlette deprecated (e.g. `status.HTTP_413_REQUEST_ENTITY_TOO_LARGE`).

    Starlette's name.  A `DeprecationWarning`, so `-W error::DeprecationWarning`
    and `pytest.warns(DeprecationWarning)` see it, and a `UserWarning`, as
    Starlette's is, so code catching that keeps working.
    """
