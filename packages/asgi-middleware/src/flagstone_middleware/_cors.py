"""`CORSMiddleware`: Cross-Origin Resource Sharing, Starlette's arguments and defaults.

Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are
answered here without reaching the app; every other request goes to the app
and its response is decorated on the way out.

Deliberate differences from Starlette, each closing a way to let the wrong
origin in:

- An origin must be a well-formed serialized origin (`scheme://host[:port]`,
  the host checked by the contract's single Host validator) before it is
  compared with anything: userinfo, paths, spaces or a trailing garbage
  suffix never reach `allow_origin_regex`.
- `allow_origin_regex` must match the *whole* origin (as Starlette does since
  0.13.5): `https://.*\\.example\\.com` does not admit
  `https://evil.example.com.attacker.net`.
- The `null` origin (sandboxed iframes, `file:` pages, some redirects) is
  never admitted by `"*"` or by the regex, only when `"null"` is listed in
  `allow_origins` explicitly: any page can produce it.
- `Vary: Origin` is sent on every response, also to requests without an
  `Origin`: the answer depends on the origin, so a shared cache must not
  serve one origin's answer to another.
- Credentials and exposed headers are sent only to an allowed origin.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Awaitable, Collection

from flagstone_contract import ASGIApp, DerivedAttributes, Message, Receive, Scope, Send
from flagstone_contract.http import is_token, split_host

from ._headers import add_vary, set_header
from ._replies import PlainReply

__all__ = ["ALL_METHODS", "SAFELISTED_HEADERS", "CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
SAFELISTED_HEADERS = frozenset({"Accept", "Accept-Language", "Content-Language", "Content-Type"})

_PREFLIGHT_VARY = (
    b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    b"Access-Control-Request-Private-Network"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_VARY_ORIGIN = (b"vary", b"Origin")
_header_name = operator.itemgetter(0)

logger = logging.getLogger("flagstone.middleware")

# A log line, not a `warnings.warn`: Starlette allows this configuration
# silently, and test suites (Starlette's, FastAPI's, many apps') run with
# warnings as errors, where a warning would turn a ported app's construction
# into an exception.  `strict=True` is the way to make it one.
WILDCARD_CREDENTIALS = (
    "CORSMiddleware: allow_origins=['*'] with allow_credentials=True lets every web site "
    "read this app's responses with the visitor's cookies (any Origin is echoed with "
    "Access-Control-Allow-Credentials: true). List the origins that need credentials, "
    "allow_origins=['https://app.example.com'] (or allow_origin_regex=...), or drop "
    "allow_credentials; strict=True refuses this configuration."
)


def is_serialized_origin(origin: str) -> bool:
    """True for `scheme://host[:port]` with a valid host and nothing else.

    That is the only shape a browser sends (RFC 6454 §6.2), apart from
    `null`, which callers handle themselves.
    """
    scheme, sep, authority = origin.partition("://")
    if not sep or not scheme or not is_token(scheme):
        return False
    return split_host(authority) is not None


class CORSMiddleware(DerivedAttributes):
    """Answer CORS preflights and add CORS headers to responses (pure ASGI).

    `CORSMiddleware(app, allow_origins=(), allow_methods=("GET",),
    allow_headers=(), allow_credentials=False, allow_origin_regex=None,
    allow_private_network=False, expose_headers=(), max_age=600)`, as
    Starlette.  `"*"` in `allow_origins`, `allow_methods` or `allow_headers`
    allows any; with `allow_credentials=True` an allowed origin is echoed,
    never `*` (browsers refuse `*` with credentials).  A preflight for a
    disallowed origin, method, header or private-network access is answered
    400 `Disallowed CORS origin, method, ...`, naming what failed.

    `allow_origins=["*"]` with `allow_credentials=True` lets any site read
    responses with the visitor's cookies.  Starlette accepts it silently;
    here construction logs one WARNING (logger `flagstone.middleware`)
    naming the fix, and `strict=True` (keyword-only, not in Starlette)
    refuses it with a `ValueError`.
    """

    # The constructor's defaults, normalized as `__init__` stores them: a
    # subclass that skips `__init__` sets `app` and any of these (assign,
    # do not mutate in place); the header blocks are derived from them.
    allow_origins: frozenset[str] = frozenset()
    allow_methods: tuple[str, ...] = ("GET",)
    allow_headers: frozenset[str] = frozenset(h.lower() for h in SAFELISTED_HEADERS)
    allow_all_origins: bool = False
    allow_all_headers: bool = False
    allow_credentials: bool = False
    allow_private_network: bool = False
    allow_origin_regex: re.Pattern[str] | None = None
    expose_headers: tuple[str, ...] = ()
    max_age: int = 600
    # The allowed header names as given (the preflight lists them in their
    # own case); `allow_headers` is what requests are checked against.
    _header_names: tuple[str, ...] = tuple(sorted(SAFELISTED_HEADERS))

    _derived_from = frozenset(
        {
            "allow_origins", "allow_methods", "allow_headers", "allow_all_origins",
            "allow_all_headers", "allow_credentials", "allow_private_network",
            "allow_origin_regex", "expose_headers", "max_age",
        }
    )  # fmt: skip
    _derived_names = frozenset(
        {
            "_echo_origin", "_simple_headers", "_own_origin_rule", "_listed_extra",
            "_star_extra", "_preflight_headers",
        }
    )  # fmt: skip

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Collection[str] = (),
        allow_methods: Collection[str] = ("GET",),
        allow_headers: Collection[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Collection[str] = (),
        max_age: int = 600,
        *,
        strict: bool = False,
    ) -> None:
        if "*" in allow_origins and allow_credentials:
            if strict:
                raise ValueError(WILDCARD_CREDENTIALS)
            logger.warning(WILDCARD_CREDENTIALS)
        self.app = app
        if "*" in allow_methods:
            allow_methods = ALL_METHODS
        self.allow_origins = frozenset(allow_origins)
        self.allow_methods = tuple(allow_methods)
        self.allow_all_origins = "*" in self.allow_origins
        self.allow_all_headers = "*" in allow_headers
        self.allow_credentials = allow_credentials
        self.allow_private_network = allow_private_network
        self.allow_origin_regex = (
            re.compile(allow_origin_regex) if allow_origin_regex is not None else None
        )
        self._header_names = tuple(
            sorted(SAFELISTED_HEADERS | {h for h in allow_headers if h != "*"})
        )
        self.allow_headers = frozenset(h.lower() for h in self._header_names)
        self.expose_headers = tuple(expose_headers)
        self.max_age = max_age
        self._derive()

    def _derive(self) -> None:
        """Build the header blocks from the public attributes (see `DerivedAttributes`)."""
        header_names = self._header_names
        if frozenset(h.lower() for h in header_names) != self.allow_headers:
            # `allow_headers` was assigned since: list it as it is.
            header_names = tuple(sorted(self.allow_headers))
        # With credentials, "*" is not a wildcard for browsers: echo the origin.
        self._echo_origin = not self.allow_all_origins or self.allow_credentials

        simple: list[tuple[bytes, bytes]] = []
        if self.allow_credentials:
            simple.append((b"access-control-allow-credentials", b"true"))
        if self.expose_headers:
            exposed = ", ".join(self.expose_headers).encode()
            simple.append((b"access-control-expose-headers", exposed))
        self._simple_headers = simple
        # Everything a simple response gets that does not depend on the
        # request, built once: for each origin listed by name (and valid),
        # and for "*" without credentials (one answer for every origin).
        # `is_allowed_origin` is still asked when a subclass overrides it.
        self._own_origin_rule = type(self).is_allowed_origin is CORSMiddleware.is_allowed_origin
        self._listed_extra = (
            {
                origin.encode("latin-1"): self._extra_for(origin)
                for origin in self.allow_origins
                if origin.isascii() and self.is_allowed_origin(origin)
            }
            if self._own_origin_rule
            else {}
        )
        self._star_extra = self._extra_for("*")

        preflight: list[tuple[bytes, bytes]] = [
            (b"vary", _PREFLIGHT_VARY),
            (b"access-control-allow-methods", ", ".join(self.allow_methods).encode()),
            (b"access-control-max-age", str(self.max_age).encode()),
        ]
        if not self.allow_all_headers:
            preflight.append((b"access-control-allow-headers", ", ".join(header_names).encode()))
        if self.allow_credentials:
            preflight.append((b"access-control-allow-credentials", b"true"))
        self._preflight_headers = preflight

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether `origin` (the request's `Origin` value) may read responses."""
        if origin in self.allow_origins:
            # An explicit entry, `null` included, is the user's decision.
            return True
        if origin == "null" or not is_serialized_origin(origin):
            return False
        if self.allow_all_origins:
            return True
        regex = self.allow_origin_regex
        return regex is not None and regex.fullmatch(origin) is not None

    def _extra_for(self, origin: str) -> list[tuple[bytes, bytes]]:
        """The headers an allowed `origin`'s simple response gets, `Vary` included."""
        value = origin if self._echo_origin else "*"
        return [
            (b"access-control-allow-origin", value.encode("latin-1")),
            *self._simple_headers,
            _VARY_ORIGIN,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One C-level pass over the request headers (a repeated header: the
        # last one counts).
        found = dict(scope["headers"])
        origin_raw: bytes | None = found.get(b"origin")
        if origin_raw is None:
            await self.app(scope, receive, _decorating(send, _VARY_ONLY))
            return
        if scope["method"] == "OPTIONS":
            request_method = found.get(b"access-control-request-method")
            if request_method is not None:
                origin = origin_raw.decode("latin-1")
                reply = self.preflight_response(scope, origin, request_method.decode("latin-1"))
                await reply(scope, receive, send)
                return
        extra = self._listed_extra.get(origin_raw)
        if extra is None:
            extra = self._extra_for_request(origin_raw.decode("latin-1"))
        await self.app(scope, receive, _decorating(send, extra))

    def _extra_for_request(self, origin: str) -> list[tuple[bytes, bytes]]:
        if not self.is_allowed_origin(origin):
            return _VARY_ONLY
        if not self._echo_origin:
            return self._star_extra
        return self._extra_for(origin)

    def preflight_response(self, scope: Scope, origin: str, method: str) -> PlainReply:
        """The answer to a preflight: 200 `OK`, or 400 naming what is not allowed."""
        headers = list(self._preflight_headers)
        failures: list[str] = []
        if self.is_allowed_origin(origin):
            value = origin if self._echo_origin else "*"
            headers.append((b"access-control-allow-origin", value.encode("latin-1")))
        else:
            failures.append("origin")
        if method not in self.allow_methods:
            failures.append("method")
        found = dict(scope["headers"])  # a repeated header: the last one counts
        requested = found.get(b"access-control-request-headers")
        if requested is not None:
            if self.allow_all_headers:
                # "*" with credentials is not a wildcard either: mirror the list.
                headers.append((b"access-control-allow-headers", requested))
            elif not self.allow_headers.issuperset(
                # Each listed name, stripped and lower-cased, in C (no
                # generator frame per name); an empty entry is refused.
                map(str.strip, requested.decode("latin-1").lower().split(","))
            ):
                failures.append("headers")
        if b"access-control-request-private-network" in found:
            if self.allow_private_network:
                headers.append((b"access-control-allow-private-network", b"true"))
            else:
                failures.append("private-network")
        if failures:
            return PlainReply("Disallowed CORS " + ", ".join(failures), 400, headers)
        return PlainReply("OK", 200, headers)


_VARY_ONLY = [_VARY_ORIGIN]


def _decorating(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """`send`, with the CORS headers `extra` added to the response start.

    `extra` always ends with `Vary: Origin`.  Replacing each header the app
    already set and merging `Vary` takes a pass per header; a response that
    sets none of them (the usual case) gets `extra` appended in one step.
    """
    names = _ADDED_NAMES if extra is not _VARY_ONLY else _VARY_NAME

    # A closure (cheaper to make and to call than an object with `__call__`)
    # and not `async def`: hands back `send`'s awaitable, so a message costs
    # no coroutine of its own.
    def send_with_cors(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = message.get("headers") or ()
            if names.isdisjoint(map(_header_name, headers)):
                message["headers"] = [*headers, *extra]
            else:
                message["headers"] = _merged(list(headers), extra)
        return send(message)

    return send_with_cors


_ADDED_NAMES = frozenset(
    {
        b"vary",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
)
_VARY_NAME = frozenset({b"vary"})


def _merged(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` with each of `extra` replacing the app's own, and `Origin` merged into `Vary`."""
    for name, value in extra:
        if name == b"vary":
            add_vary(headers, "Origin")
        else:
            set_header(headers, name, value)
    return headers
