"""Signed sessions for any ASGI 3 app, with key rotation and server-side stores.

`SessionMiddleware` puts a `Session` (a dict that tracks access) at
`scope["session"]` for http and websocket connections, so any ASGI app or
framework reads it without flagstone-requests.  Data lives in a signed
cookie, or, with `store=`, in a `SessionStore` (`MemoryStore`, `RedisStore`)
with only a signed random id in the cookie.  It signs, it does not encrypt:
do not put secrets in a cookie session.
"""

__version__ = "0.4.0"

from ._exceptions import (
    CookieTooLargeError,
    SessionError,
    SessionNotSerializableError,
    SessionReadOnlyError,
    SessionStoreError,
    SessionUnavailableError,
)
from ._middleware import SessionMiddleware
from ._redis import RedisStore
from ._session import Session
from ._stores import MemoryStore, SessionStore

__all__ = [
    "CookieTooLargeError",
    "MemoryStore",
    "RedisStore",
    "Session",
    "SessionError",
    "SessionMiddleware",
    "SessionNotSerializableError",
    "SessionReadOnlyError",
    "SessionStore",
    "SessionStoreError",
    "SessionUnavailableError",
]
