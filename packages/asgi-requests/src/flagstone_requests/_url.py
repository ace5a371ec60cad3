"""`URL`: a lazily parsed URL, and the safe way to build one from an ASGI scope.

Security note (GHSA-86qp-5c8j-p5mr, GHSA-jp82-jpqv-5vv3).  Starlette used to
glue `scheme://` + Host header + path into one string and parse it back, so a
Host of `example.com/abc?x=` or a request target of `//evil/x` or `@evil`
changed `url.path` (or `url.hostname`) away from what the router dispatches
on, and authorisation checks on `request.url.path` could be bypassed.  Here
a URL built from a scope is held as COMPONENTS: the path always comes from
`scope["path"]`, the authority only from a Host header that
`flagstone_contract.http.split_host` accepts (else from `scope["server"]`;
the same validator decides whether a `Host` route can match), and nothing is
ever re-parsed out of the concatenation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

from flagstone_contract import Scope
from flagstone_contract.http import safe_location_path, split_host

from ._exceptions import BadArguments
from ._headers import Headers
from ._multidict import MultiDict, parse_query

__all__ = ["URL"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Characters a path can hold that would end the path when the URL is read
# back as a string (Starlette escapes the first three), and the ones urlsplit
# silently deletes (so "/\n/evil" would read back with authority "evil").
_PATH_ESCAPES = str.maketrans(
    {"?": "%3F", "#": "%23", "\\": "%5C", "\t": "%09", "\n": "%0A", "\r": "%0D"}
)


def scope_netloc(scope: Scope, scheme: str) -> str:
    """The authority of the request: a valid Host header, else the server address.

    Returns "" when neither is usable, which makes the URL relative.
    """
    host: str | None = Headers(scope=scope).get("host")
    if host is not None and split_host(host) is not None:
        return host
    # A malformed Host is ignored rather than rejected: the router has already
    # dispatched on scope["path"], and the URL must agree with it.
    server = scope.get("server")
    if not server:
        return ""
    server_host, server_port = server[0], server[1]
    if not isinstance(server_host, str):
        return ""
    if ":" in server_host and not server_host.startswith("["):
        server_host = f"[{server_host}]"
    # A unix-socket path or other non-host value can't be an authority.
    if split_host(server_host) is None:
        return ""
    if server_port is None or _DEFAULT_PORTS.get(scheme) == server_port:
        return server_host
    return f"{server_host}:{server_port}"


def url_parts_from_scope(
    scope: Scope, path: str | None = None, query: str | None = None
) -> SplitResult:
    """URL components for `scope`, with `path`/`query` overridable (for base_url)."""
    scheme = scope.get("scheme") or "http"
    if path is None:
        path = scope.get("path", "")
    if query is None:
        query = (scope.get("query_string") or b"").decode("latin-1")
    netloc = scope_netloc(scope, scheme)
    if not netloc:
        # No authority: a relative URL, path and query only (as in Starlette).
        return SplitResult("", "", path.translate(_PATH_ESCAPES), query, "")
    if path and path[0] != "/":
        # After an authority the path starts with "/" (RFC 3986 §3.3), so a
        # target such as "@example.com" reads "/@example.com", the same path
        # the string form reads back (Starlette's urlunsplit adds it too).
        path = "/" + path
    return SplitResult(scheme, netloc, path.translate(_PATH_ESCAPES), query, "")


def _unsplit(parts: SplitResult) -> str:
    scheme, netloc, path, query, fragment = parts
    url = path
    if netloc:
        if path and not path.startswith("/"):
            url = "/" + path
        url = f"//{netloc}{url}"
    elif path.startswith("//"):
        # Without an authority a path may not begin with "//" (RFC 3986 §3.3):
        # it would read back as a host.  The toolkit's one policy encodes the
        # second slash; a server decoding the path gets the same path back.
        url = safe_location_path(path)
    elif not scheme and path and not path.startswith("/"):
        # A relative path not starting with "/" could read back as a scheme
        # ("http://evil/x") or, after urlsplit strips leading blanks, as an
        # authority (" //evil/x"); "./" keeps it a path (RFC 3986 §4.2).
        url = "./" + path
    if scheme:
        url = f"{scheme}:{url}"
    if query:
        url = f"{url}?{query}"
    if fragment:
        url = f"{url}#{fragment}"
    return url


class URL:
    """A URL whose parts are parsed only when first asked for.

    `URL("https://example.com/a?b=1")`, `URL(scope=scope)` (the request URL,
    built safely from components) or `URL(scheme=..., netloc=..., path=...)`.
    Read `scheme`, `netloc`, `path`, `query`, `fragment`, `username`,
    `password`, `hostname`, `port`, `is_secure`; derive new URLs with
    `replace`, `include_query_params`, `replace_query_params` and
    `remove_query_params`.  `==` compares the string form; `repr` masks the
    password.
    """

    __slots__ = ("_parts", "_url")

    _url: str | None
    _parts: SplitResult | None

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            if url:
                raise BadArguments('Cannot set both "url" and "scope".')
            if components:
                raise BadArguments('Cannot set both "scope" and "**components".')
            self._url = None
            self._parts = url_parts_from_scope(scope)
        elif components:
            if url:
                raise BadArguments('Cannot set both "url" and "**components".')
            built = URL("").replace(**components)
            self._url, self._parts = built._url, built._parts
        else:
            self._url = url
            self._parts = None

    @classmethod
    def from_parts(cls, parts: SplitResult) -> URL:
        """A URL from already-split components (no string parsing involved)."""
        url = cls.__new__(cls)
        url._url = None
        url._parts = parts
        return url

    @property
    def components(self) -> SplitResult:
        """The parts as a `urllib.parse.SplitResult`."""
        if self._parts is None:
            self._parts = urlsplit(self._url or "")
        return self._parts

    @property
    def scheme(self) -> str:
        """The scheme, e.g. `"https"` (`""` for a relative URL)."""
        return self.components.scheme

    @property
    def netloc(self) -> str:
        """The authority: `[user[:password]@]host[:port]`."""
        return self.components.netloc

    @property
    def path(self) -> str:
        """The path (for a request: `scope["path"]`, with `?#\\` and TAB/CR/LF escaped)."""
        return self.components.path

    @property
    def query(self) -> str:
        """The query string, without the `?`."""
        return self.components.query

    @property
    def fragment(self) -> str:
        """The fragment, without the `#`."""
        return self.components.fragment

    @property
    def username(self) -> str | None:
        """The user name of the authority, if any."""
        return self.components.username

    @property
    def password(self) -> str | None:
        """The password of the authority, if any."""
        return self.components.password

    @property
    def hostname(self) -> str | None:
        """The host, lower-cased, without brackets or port."""
        return self.components.hostname

    @property
    def port(self) -> int | None:
        """The explicit port, or None."""
        return self.components.port

    @property
    def is_secure(self) -> bool:
        """True for `https` and `wss` URLs."""
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some parts replaced.

        Accepts `scheme`, `netloc`, `path`, `query`, `fragment`, and the
        authority pieces `username`, `password`, `hostname`, `port` (the
        netloc is rebuilt from them; IPv6 hosts are bracketed).
        """
        if {"username", "password", "hostname", "port"} & kwargs.keys():
            kwargs["netloc"] = self._build_netloc(kwargs)
        unknown = kwargs.keys() - set(SplitResult._fields)
        if unknown:
            raise TypeError(f"URL.replace() got unexpected component(s) {sorted(unknown)}")
        return URL.from_parts(self.components._replace(**kwargs))

    def _build_netloc(self, kwargs: dict[str, Any]) -> str:
        hostname = kwargs.pop("hostname", None)
        port = kwargs.pop("port", self.port)
        username = kwargs.pop("username", self.username)
        password = kwargs.pop("password", self.password)
        if hostname is None:
            hostname = self.netloc.rpartition("@")[2]
            if not hostname.endswith("]"):
                hostname = hostname.rpartition(":")[0] or hostname
        elif _is_ipv6_address(hostname):
            # Only a real IPv6 address is bracketed: `hostname="example.org:8080"`
            # is a host and a port (Starlette's reading), not an IPv6 literal.
            hostname = f"[{hostname}]"
        netloc = str(hostname)
        if port is not None:
            netloc = f"{netloc}:{port}"
        if username is not None:
            userinfo = str(username) if password is None else f"{username}:{password}"
            netloc = f"{userinfo}@{netloc}"
        return netloc

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with these query parameters set (others kept)."""
        params = MultiDict[str, str](parse_query(self.query))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query is exactly these parameters."""
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the named query parameter(s)."""
        if isinstance(keys, str):
            keys = [keys]
        params = MultiDict[str, str](parse_query(self.query))
        for key in keys:
            params.pop(key, None)
        return self.replace(query=urlencode(params.multi_items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL | str):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        if self._url is None:
            self._url = _unsplit(self.components)
        return self._url

    def __repr__(self) -> str:
        url = str(self)
        if self.password:
            url = str(self.replace(password="********"))
        return f"{type(self).__name__}({url!r})"


def _is_ipv6_address(value: object) -> bool:
    if not isinstance(value, str) or ":" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True
