"""`HTTPConnection`: what HTTP requests and WebSockets have in common.

A connection is a thin, lazy view over the ASGI scope: the constructor only
stores references, and every property parses its part of the scope the first
time it is read (then caches it).  Building one costs no more than a tuple.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from flagstone_contract import Receive, Scope

from ._datastructures import URL, Address, Headers, QueryParams, State
from ._exceptions import WrongScopeType
from ._url import url_parts_from_scope

__all__ = ["HTTPConnection", "URLPathLike", "cookie_parser"]


class URLPathLike(Protocol):
    """What `url_for` needs back from `router.url_path_for(name, **params)`.

    A `str` subclass (the path) with `make_absolute_url(base_url)`, as
    flagstone-routing's and Starlette's `URLPath` are.
    """

    def make_absolute_url(self, base_url: str | URL) -> Any:
        """Join this path onto `base_url` and return the absolute URL."""


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a `Cookie` header leniently, the way browsers send it.

    Pairs are split on `;`; a chunk without `=` is a value with an empty name
    (Django's rule); surrounding quotes are removed.  Later duplicates win.
    """
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            key, value = chunk.split("=", 1)
        else:
            key, value = "", chunk
        key, value = key.strip(), value.strip()
        if key or value:
            cookies[key] = _unquote_cookie(value)
    return cookies


def _unquote_cookie(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    # RFC 2109 quoted-string: backslash escapes one character, or an octal byte.
    out: list[str] = []
    i = 0
    while i < len(inner):
        char = inner[i]
        if char == "\\" and i + 1 < len(inner):
            octal = inner[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(chr(int(octal, 8)))
                i += 4
                continue
            out.append(inner[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class HTTPConnection(Mapping[str, Any]):
    """The shared base of `Request` and `WebSocket`: a read-only mapping over the scope.

    Properties (each parsed on first access): `url`, `base_url`, `headers`,
    `query_params`, `path_params`, `cookies`, `client`, `session`, `auth`,
    `user`, `state`, `app`; and `url_for(name, /, **path_params)`.
    Connections compare by identity.
    """

    # Not slotted: subclasses (and users) add attributes, as with Starlette.
    # The caches below default at CLASS level, so the constructor sets nothing
    # but the scope: building a connection is the hot path of every request.
    _url: URL | None = None
    _base_url: URL | None = None
    _headers: Headers | None = None
    _query_params: QueryParams | None = None
    _cookies: dict[str, str] | None = None
    _state: State | None = None

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        # `receive` is accepted for Starlette compatibility; subclasses that
        # read from the connection (Request, WebSocket) keep their own.
        if scope["type"] not in ("http", "websocket"):
            raise WrongScopeType(
                f"HTTPConnection needs an 'http' or 'websocket' scope, got {scope['type']!r}"
            )
        self.scope = scope

    # --- Mapping over the scope -------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    # A Mapping would compare by contents; two connections are the same only
    # if they are the same object (Starlette does the same).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # --- the request line and headers ----------------------------------------------

    @property
    def app(self) -> Any:
        """The application that received the request (`scope["app"]`)."""
        return self.scope["app"]

    @property
    def url(self) -> URL:
        """The request URL; its path is always `scope["path"]` (see `URL`)."""
        if self._url is None:
            self._url = URL(scope=self.scope)
        return self._url

    @property
    def base_url(self) -> URL:
        """The URL of the application root (`app_root_path` or `root_path`, plus `/`)."""
        if self._base_url is None:
            root = self.scope.get("app_root_path", self.scope.get("root_path", ""))
            if not root.endswith("/"):
                root += "/"
            self._base_url = URL.from_parts(url_parts_from_scope(self.scope, root, ""))
        return self._base_url

    @property
    def headers(self) -> Headers:
        """The request headers (case-insensitive, duplicates kept)."""
        if self._headers is None:
            self._headers = Headers._from_scope(self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The parsed query string."""
        if self._query_params is None:
            self._query_params = QueryParams._from_raw(self.scope.get("query_string", b""))
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        """The router's converted path parameters (`scope["path_params"]`)."""
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from every `Cookie` header (joined; later duplicates win)."""
        if self._cookies is None:
            values = self.headers.getlist("cookie")
            self._cookies = cookie_parser("; ".join(values)) if values else {}
        return self._cookies

    @property
    def client(self) -> Address | None:
        """The client's `(host, port)`, or None if the server did not say."""
        client = self.scope.get("client")
        if client is None:
            return None
        return Address(*client)

    # --- what middleware and lifespan put in the scope --------------------------

    @property
    def session(self) -> dict[str, Any]:
        """The session (`scope["session"]`), set by a session middleware."""
        if "session" not in self.scope:
            error = AssertionError("SessionMiddleware must be installed to access request.session")
            error.add_note(
                "flagstone: wrap the app in flagstone_sessions.SessionMiddleware (or any "
                'middleware that sets scope["session"])'
            )
            raise error
        # No access marking here: flagstone's `Session` marks itself accessed
        # (for `Vary: Cookie`) when it is read, which is what the response
        # depends on; holding the object reads nothing.
        session: dict[str, Any] = self.scope["session"]
        return session

    @property
    def auth(self) -> Any:
        """Authentication credentials (`scope["auth"]`), set by an auth middleware."""
        if "auth" not in self.scope:
            raise AssertionError(
                "AuthenticationMiddleware must be installed to access request.auth"
            )
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        """The authenticated user (`scope["user"]`), set by an auth middleware."""
        if "user" not in self.scope:
            raise AssertionError(
                "AuthenticationMiddleware must be installed to access request.user"
            )
        return self.scope["user"]

    @property
    def state(self) -> State:
        """Per-request state backed by `scope["state"]` (lifespan state copy)."""
        if self._state is None:
            server_gave_state = "state" in self.scope
            self._state = State(self.scope.setdefault("state", {}))
            if not server_gave_state:
                # Servers without the lifespan protocol (daphne) send no
                # `state`: say so when a lifespan value is looked up.
                self._state._missing_hint = (
                    'flagstone: the server sent no scope["state"]: it does not run the ASGI '
                    "lifespan protocol, or runs it without state support, so values "
                    "a lifespan yields never reach requests; serve the app with "
                    "uvicorn, hypercorn or granian, or set them at import time"
                )
        return self._state

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of the route called `name`.

        Uses `scope["router"]`, else `scope["app"]`: any object with
        `url_path_for(name, **path_params)` returning a path that has
        `make_absolute_url(base_url)` (see `URLPathLike`).
        """
        router = self.scope.get("router") or self.scope.get("app")
        if router is None or not hasattr(router, "url_path_for"):
            error = RuntimeError(
                "The `url_for` method can only be used inside a Starlette application "
                "or with a router."
            )
            error.add_note(
                f"flagstone: url_for({name!r}) needs a router: serve this app through "
                "flagstone_routing.Router (or an app with url_path_for), which "
                'sets scope["router"]'
            )
            raise error
        url_path: URLPathLike = router.url_path_for(name, **path_params)
        result = url_path.make_absolute_url(base_url=self.base_url)
        return result if isinstance(result, URL) else URL(str(result))
