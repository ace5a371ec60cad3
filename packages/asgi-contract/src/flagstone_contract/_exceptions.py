"""Exceptions that cross package boundaries.

Routing raises them, request handling (flagstone-requests' exception
middleware) renders them; any ASGI app may catch them.  Semantics follow
Starlette 1.x so handlers written for `starlette.exceptions` keep working.
"""

from __future__ import annotations

import http
from collections.abc import Mapping

__all__ = ["HTTPException", "WebSocketException"]


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
