"""The exceptions flagstone-sessions raises, all under `SessionError`."""

from __future__ import annotations

__all__ = [
    "CookieTooLargeError",
    "SessionError",
    "SessionNotSerializableError",
    "SessionReadOnlyError",
    "SessionStoreError",
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
