"""The exceptions flagstone-sessions raises, all under `SessionError`."""

from __future__ import annotations

from flagstone_contract import HTTPException

__all__ = [
    "CookieTooLargeError",
    "SessionError",
    "SessionNotSerializableError",
    "SessionReadOnlyError",
    "SessionStoreError",
    "SessionUnavailableError",
]


class SessionError(Exception):
    """Base class of every error raised by flagstone-sessions."""


class CookieTooLargeError(SessionError, ValueError):
    """The session cookie would exceed the browsers' 4096-byte limit.

    Raised when the response starts, instead of sending a cookie that the
    browser would silently drop (Starlette sends it and the session is lost).
    """


class SessionNotSerializableError(SessionError, TypeError):
    """A session value cannot be stored as JSON; the message names its key path."""


class SessionReadOnlyError(SessionError, RuntimeError):
    """The session can no longer be saved (a WebSocket that was already accepted)."""


class SessionStoreError(SessionError, RuntimeError):
    """The server-side store failed or is unreachable (e.g. Redis is down)."""


class SessionUnavailableError(SessionStoreError, HTTPException):
    """503: this request uses its session, but the session store is unreachable.

    Raised on the first access of a session that could not be loaded (the
    store failed), or when a changed session cannot be saved.  An
    `HTTPException(503)` with a `Retry-After` header, so any exception
    handling renders it; without one, `SessionMiddleware` answers the 503
    itself.  Only requests that touch the session get it: a store outage
    does not take down endpoints that never use the session.
    """

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        HTTPException.__init__(self, 503, detail, {"Retry-After": str(retry_after)})

    def __str__(self) -> str:
        return self.detail
