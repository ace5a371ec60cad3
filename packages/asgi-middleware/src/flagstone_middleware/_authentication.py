"""Authentication: Starlette's backend protocol, users, credentials and middleware.

`AuthenticationMiddleware` asks a backend who is calling and writes the
answer into the scope as `scope["auth"]` (an `AuthCredentials`) and
`scope["user"]` (a `BaseUser`), contract scope keys: a raw ASGI app behind it
reads them directly, flagstone-requests reads them as `request.auth` and
`request.user`.

The backend receives flagstone-requests' `HTTPConnection` when that package
is installed (as Starlette's backends receive Starlette's), so ported
backends run unchanged.  Without it, it receives the scope itself; that is
the mapping an `HTTPConnection` wraps, so `conn["headers"]` works either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flagstone_contract import ASGIApp, DerivedAttributes, Receive, Scope, Send

from ._replies import PlainReply

if TYPE_CHECKING:
    from flagstone_requests import HTTPConnection

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "BaseUser",
    "SimpleUser",
    "UnauthenticatedUser",
]


class AuthenticationError(Exception):
    """Raised by a backend for credentials that are present but wrong (answered 400 by default)."""


class AuthCredentials:
    """What the caller may do: a list of scope names (`"authenticated"`, `"admin"`...)."""

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes = [] if scopes is None else list(scopes)


class BaseUser:
    """The interface of a user object: subclass it and implement the three properties."""

    @property
    def is_authenticated(self) -> bool:
        """True for a real user, False for the anonymous one."""
        raise NotImplementedError()

    @property
    def display_name(self) -> str:
        """A name to show."""
        raise NotImplementedError()

    @property
    def identity(self) -> str:
        """A stable identifier (a user id)."""
        raise NotImplementedError()


class SimpleUser(BaseUser):
    """An authenticated user known only by a name."""

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def is_authenticated(self) -> bool:
        """Always True."""
        return True

    @property
    def display_name(self) -> str:
        """The username."""
        return self.username

    @property
    def identity(self) -> str:
        """The username."""
        return self.username


class UnauthenticatedUser(BaseUser):
    """The user of a request no backend recognised."""

    @property
    def is_authenticated(self) -> bool:
        """Always False."""
        return False

    @property
    def display_name(self) -> str:
        """Empty."""
        return ""

    @property
    def identity(self) -> str:
        """Empty."""
        return ""


class AuthenticationBackend:
    """Subclass and implement `authenticate`; return None for "nobody"."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Who is calling: `(AuthCredentials([...]), user)`, None, or raise `AuthenticationError`."""
        raise NotImplementedError()


ErrorHandler = Callable[[Any, AuthenticationError], ASGIApp]


def _connection_factory() -> Callable[[Scope], Any]:
    try:
        from flagstone_requests import HTTPConnection
    except ImportError:
        return lambda scope: scope
    return HTTPConnection


class AuthenticationMiddleware(DerivedAttributes):
    """Authenticate each HTTP and WebSocket connection through `backend` (pure ASGI).

    `AuthenticationMiddleware(app, backend, on_error=None)`, as Starlette.
    The backend's answer goes to `scope["auth"]` and `scope["user"]`; None
    becomes `AuthCredentials()` and `UnauthenticatedUser()`.  When the
    backend raises `AuthenticationError`, `on_error(conn, exc)` returns the
    response to send (default: 400 with the error's text); a WebSocket is
    closed instead (code 1000, as Starlette).
    """

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend,
        on_error: ErrorHandler | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error: ErrorHandler = on_error if on_error is not None else self.default_on_error
        self._derive()

    # A subclass that skips `__init__` sets `app` and `backend`; `on_error`
    # and the connection factory are derived when not set.
    _derived_names = frozenset({"on_error", "_connection"})

    def _derive(self) -> None:
        """Pick the connection class (and `on_error`, when not set)."""
        if "on_error" not in self.__dict__:
            self.on_error = self.default_on_error
        self._connection = _connection_factory()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = self._connection(scope)
        try:
            result = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            # `on_error` runs for a WebSocket too, as in Starlette (it may log
            # the failure); its response is sent only over HTTP.
            response = self.on_error(conn, exc)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            else:
                await response(scope, receive, send)
            return
        if result is None:
            result = AuthCredentials(), UnauthenticatedUser()
        scope["auth"], scope["user"] = result
        await self.app(scope, receive, send)

    @staticmethod
    def default_on_error(conn: Any, exc: Exception) -> ASGIApp:
        """400 with the error's message as plain text."""
        return PlainReply(str(exc), 400)
