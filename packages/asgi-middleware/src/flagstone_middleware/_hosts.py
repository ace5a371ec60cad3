"""`TrustedHostMiddleware` and `HTTPSRedirectMiddleware`: the two that read `Host`.

Both parse the Host header with the contract's single validator
(`flagstone_contract.http.split_host`), the same one URL building and Host
routing use, so no Host value is "valid" for one layer and "invalid" for the
next.  That validator admits only a registered name, an IPv4 address or a
bracketed IP literal, plus a port: `/`, `?`, `#`, `@`, `\\`, `%`, spaces and
control characters never get through, so a redirect rebuilt from the Host
cannot point anywhere but the host that was validated.

Syntax is not enough for an absolute URL: `Host: evil.com` is perfectly
valid, and a redirect to `https://evil.com/` built from it is what a cache
poisoning or a phishing link needs.  So the HTTPS redirect goes only to a
host the application allowed: its own `allowed_hosts=` or canonical
`host=`, or the verdict of a `TrustedHostMiddleware` around it (the
`flagstone.trusted_host` scope key, declared in the contract) or inside it
(found at construction).  With none of these it refuses (400) and logs how
to configure it once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import quote

from flagstone_contract import ASGIApp, DerivedAttributes, Receive, Scope, Send
from flagstone_contract.http import HostPort, safe_location_path, split_host

from ._replies import PlainReply

__all__ = ["ENFORCE_DOMAIN_WILDCARD", "HTTPSRedirectMiddleware", "TrustedHostMiddleware"]

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."

logger = logging.getLogger("flagstone.middleware")

# Written by TrustedHostMiddleware when it let a request through because its
# Host matched `allowed_hosts` (declared in flagstone_contract.SCOPE_KEYS).
TRUSTED_HOST_KEY = "flagstone.trusted_host"
# How far HTTPSRedirectMiddleware looks through `.app` attributes for an
# inner TrustedHostMiddleware: a middleware stack is a few layers deep.
_CHAIN_DEPTH = 32

_INVALID_HOST = "Invalid host header"
_DEFAULT_PORT = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class HostPatternError(ValueError, AssertionError):
    """A malformed `allowed_hosts` pattern (an `AssertionError` too, as Starlette raises)."""


def request_host(scope: Scope, *, server_fallback: bool) -> HostPort | None:
    """The validated `Host` of a request, or None.

    None when the Host header is invalid, or absent (unless `server_fallback`
    and `scope["server"]` is known, as Starlette's URL building does).  A
    request with several Host headers is refused (RFC 9112 §3.2: answer
    400), since two layers could each pick a different one.
    """
    values = [v for k, v in scope["headers"] if k == b"host"]
    if len(values) > 1:
        return None
    if values:
        return split_host(values[0].decode("latin-1"))
    if not server_fallback:
        return None
    server = scope.get("server")
    if not server or server[0] is None:
        return None
    host = str(server[0])
    if ":" in host:  # an IPv6 server address: bracket it like a Host header
        host = f"[{host}]"
    return split_host(host if server[1] is None else f"{host}:{server[1]}")


def _bare(host: str) -> str:
    # Names compare case-insensitively, and "example.com." is the same
    # fully qualified name as "example.com" (RFC 1034 §3.1).
    return host.lower().removesuffix(".")


def _target(scope: Scope) -> str:
    """The request target (path and query) to repeat in a redirect, safely encoded.

    `raw_path` is what the client sent; without it the decoded `path` is
    re-quoted.  Either way `safe_location_path` encodes the characters a
    browser would rewrite (a `\\` or a tab could otherwise turn the path
    into `//other.host`).
    """
    raw_path = scope.get("raw_path")
    if raw_path:
        # Bytes in, so a non-ASCII byte is encoded as itself (not re-encoded).
        path = quote(bytes(raw_path), safe="/:@!$&'()*+,;=-._~%")
    else:
        # `path` already includes `root_path` (ASGI; Starlette since 0.35).
        path = quote(scope["path"], safe="/:@!$&'()*+,;=-._~")
    path = safe_location_path(path or "/")
    query = scope.get("query_string", b"")
    if query:
        path += "?" + quote(bytes(query), safe="/:@!$&'()*+,;=-._~%?")
    return path


def _netloc(host: str, port: int | None, scheme: str) -> str:
    if port is None or _DEFAULT_PORT.get(scheme) == port:
        return host
    return f"{host}:{port}"


class _Redirect(PlainReply):
    """A redirect with an empty body and a `Location`."""

    def __init__(self, location: str, status_code: int) -> None:
        super().__init__("", status_code, [(b"location", location.encode("latin-1"))])


class TrustedHostMiddleware(DerivedAttributes):
    """Answer 400 unless the request's `Host` is one of `allowed_hosts` (pure ASGI).

    `TrustedHostMiddleware(app, allowed_hosts=None, www_redirect=True)`, as
    Starlette: `allowed_hosts` holds names (`"example.com"`), wildcard
    subdomains (`"*.example.com"`, which does not admit `example.com`
    itself) or `"*"` (the default: anything).  The port is ignored.  With
    `www_redirect`, a request for `example.com` when only `www.example.com`
    is allowed is redirected there (307, path and query kept).  HTTP and
    WebSocket connections are checked; lifespan passes through.

    Beyond Starlette: a host with a trailing dot matches its name without
    it, and several `Host` headers are refused.
    """

    # The constructor's defaults: a subclass that skips `__init__` sets
    # `app` and any of these (assign a new list to change the hosts).
    allowed_hosts: Sequence[str] = ("*",)
    www_redirect: bool = True

    _derived_from = frozenset({"allowed_hosts"})
    _derived_names = frozenset({"allow_any", "_exact", "_suffixes"})
    allow_any: bool
    """Whether `"*"` is among `allowed_hosts` (derived from it)."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        if isinstance(allowed_hosts, str):
            # Iterated as characters, it would allow no host at all.
            raise TypeError(
                f"allowed_hosts must be a list of host patterns, not the string "
                f"{allowed_hosts!r}: write allowed_hosts=[{allowed_hosts!r}]"
            )
        for pattern in allowed_hosts:
            if "*" in pattern[1:] or (
                pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")
            ):
                raise HostPatternError(f"{ENFORCE_DOMAIN_WILDCARD} Got {pattern!r}.")
        self.app = app
        self.allowed_hosts = [_bare(pattern) for pattern in allowed_hosts]
        self.www_redirect = www_redirect
        self._derive()

    def _derive(self) -> None:
        """Split `allowed_hosts` into exact names and wildcard suffixes."""
        hosts = [_bare(pattern) for pattern in self.allowed_hosts]
        self.allow_any = "*" in hosts
        self._exact = frozenset(p for p in hosts if not p.startswith("*"))
        self._suffixes = tuple(p[1:] for p in hosts if p.startswith("*."))

    def is_allowed(self, host: str) -> bool:
        """Whether a (validated) host name matches `allowed_hosts`."""
        host = _bare(host)
        return host in self._exact or (bool(self._suffixes) and host.endswith(self._suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        parsed = request_host(scope, server_fallback=False)
        if parsed is not None and self.is_allowed(parsed.host):
            # Tell the layers inside (HTTPSRedirectMiddleware, an app building
            # absolute URLs) that this Host was checked against an allow-list.
            scope[TRUSTED_HOST_KEY] = parsed.host
            await self.app(scope, receive, send)
            return
        reply: PlainReply = PlainReply(_INVALID_HOST, 400)
        if (
            parsed is not None
            and self.www_redirect
            and ("www." + _bare(parsed.host)) in self._exact
        ):
            scheme = scope.get("scheme", "http")
            netloc = _netloc("www." + parsed.host, parsed.port, scheme)
            reply = _Redirect(f"{scheme}://{netloc}{_target(scope)}", 307)
        await reply(scope, receive, send)


def _inner_trusted_host(app: object) -> TrustedHostMiddleware | None:
    """A checking `TrustedHostMiddleware` among the layers inside `app`, found by `.app`."""
    for _ in range(_CHAIN_DEPTH):
        if isinstance(app, TrustedHostMiddleware) and not app.allow_any:
            return app
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class HTTPSRedirectMiddleware(DerivedAttributes):
    """Redirect `http` to `https` and `ws` to `wss` (pure ASGI).

    `HTTPSRedirectMiddleware(app, status_code=307, *, allowed_hosts=None,
    host=None)`: the redirect keeps the path and query, drops the port when
    it is 80 or 443, and keeps any other.  `status_code=308` makes the
    permanence explicit (both keep the method and body).  Secure requests
    (and lifespan) pass through.

    The redirect is an absolute URL, so its host must be one the
    application allowed (Starlette echoes any `Host`):

    - `host="example.com"` (or `"example.com:8443"`): every redirect goes to
      this canonical host, whatever the request's `Host`;
    - `allowed_hosts=[...]`: `TrustedHostMiddleware`'s patterns (`["*"]` for
      any host); the request's `Host` must match one, or the answer is 400;
    - neither: a `TrustedHostMiddleware` (with `allowed_hosts` other than
      `"*"`) around this middleware, or inside it, decides;
    - none of these: the request's own `Host`, as in Starlette (a ported app
      keeps working), with one warning log line saying what to configure.

    An invalid `Host` (or none and no server address) is answered 400, never
    redirected.
    """

    # The constructor's defaults, for a subclass that skips `__init__` (it
    # sets `app` and any of these).
    status_code: int = 307
    host: str | None = None
    allowed_hosts: Sequence[str] | None = None
    _warned: bool = False

    _derived_from = frozenset({"allowed_hosts", "app"})
    _derived_names = frozenset({"_matcher", "_inner"})

    def __init__(
        self,
        app: ASGIApp,
        status_code: int = 307,
        *,
        allowed_hosts: Sequence[str] | None = None,
        host: str | None = None,
    ) -> None:
        if status_code not in (301, 302, 303, 307, 308):
            raise ValueError(
                f"status_code must be a redirect status (307 or 308), not {status_code}"
            )
        if host is not None and split_host(host) is None:
            raise ValueError(
                f"host must be a host name with an optional port, like 'example.com' or "
                f"'example.com:8443', not {host!r}"
            )
        self.app = app
        self.status_code = status_code
        self.host = host
        self.allowed_hosts = allowed_hosts
        self._derive()  # now, so a bad pattern fails at construction

    def _derive(self) -> None:
        """The matcher for `allowed_hosts` (a TrustedHostMiddleware: one rule) and the inner one."""
        patterns = self.allowed_hosts
        self._matcher = None if patterns is None else TrustedHostMiddleware(self.app, patterns)
        self._inner = _inner_trusted_host(self.app)

    def _allows(self, scope: Scope, host: str) -> bool:
        matcher = self._matcher
        if matcher is not None:
            return matcher.allow_any or matcher.is_allowed(host)
        trusted = scope.get(TRUSTED_HOST_KEY)
        if trusted is not None:
            # The very host that was checked (a layer in between could have
            # rewritten the Host header since).
            return _bare(trusted) == _bare(host)
        inner = self._inner
        if inner is not None:
            return inner.is_allowed(host)
        if not self._warned:
            self._warned = True
            logger.warning(
                "HTTPSRedirectMiddleware redirects to the request's own Host (%r) because no "
                "host is configured, as Starlette does: an attacker's Host is echoed into the "
                "Location.  Pass allowed_hosts=[...] or host='example.com' (the canonical host), "
                "or put TrustedHostMiddleware(allowed_hosts=[...]) around it.",
                host,
            )
        return True

    def _location(self, scope: Scope) -> str | None:
        scheme = "https" if scope["scheme"] == "http" else "wss"
        if self.host is not None:
            return f"{scheme}://{self.host}{_target(scope)}"
        parsed = request_host(scope, server_fallback=True)
        if parsed is None or not self._allows(scope, parsed.host):
            return None
        port = None if parsed.port in (80, 443) else parsed.port
        return f"{scheme}://{_netloc(parsed.host, port, scheme)}{_target(scope)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("scheme") not in ("http", "ws"):
            await self.app(scope, receive, send)
            return
        location = self._location(scope)
        if location is None:
            await PlainReply(_INVALID_HOST, 400)(scope, receive, send)
            return
        await _Redirect(location, self.status_code)(scope, receive, send)
