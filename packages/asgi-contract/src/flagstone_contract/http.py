"""The HTTP grammar rules that several flagstone packages need, in one place.

Each rule here used to be written separately by the packages that need it,
and the copies had started to disagree (a Host header one package accepted
and another rejected is exactly the disagreement behind the Host-header
advisories of peer projects).  Everything is dependency-free, pure and
documented; a package that needs one of these rules calls it from here.

- `is_token` / `is_header_value`: RFC 9110 field names and values.
- `parse_content_length`: strict RFC 9110 `Content-Length` digits.
- `split_host` / `is_valid_host`: the one Host-header validator, shared by
  URL building and Host routing.
- `safe_location_path`: a path that a browser cannot read as another host.
- `build_set_cookie`: one `Set-Cookie` value with checked attributes.
- `is_async_callable`: "will calling this give an awaitable?", as far as
  that can be known without calling it.
- `negotiate_encodings`: which content codings an `Accept-Encoding` allows,
  best first (compression middleware and precompressed static files).
- `get_route_path`: the part of `scope["path"]` below `root_path`
  (routing and static files both match on it).
- `redact_url`: a broker URL (redis://, postgres://) without its
  credentials, for logs, errors and `repr()` (sessions' Redis store, broadcast).
"""

from __future__ import annotations

import functools
import http.cookies
import inspect
import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from inspect import CO_COROUTINE
from types import FunctionType, MethodType
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "HostPort",
    "MalformedContentLength",
    "accept_encoding_weights",
    "build_set_cookie",
    "get_route_path",
    "is_async_callable",
    "is_header_value",
    "is_token",
    "is_valid_host",
    "negotiate_encodings",
    "parse_content_length",
    "redact_url",
    "safe_location_path",
    "split_host",
]

# --- tokens and field values (RFC 9110 §5.1, §5.5, §5.6.2) --------------------

# tchar: any VCHAR except delimiters.  A header name with ":", a space or a
# line break would let a caller forge a second header (response splitting).
_TOKEN_STR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# field-value: visible characters, obs-text (0x80-0xFF), spaces and tabs
# inside.  Any other control character is refused: CR and LF split the
# header, NUL truncates it in C servers, the rest is rejected by h11.
_FIELD_VALUE_STR = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_FIELD_VALUE_BYTES = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")


def is_token(value: str | bytes) -> bool:
    """True if `value` is an RFC 9110 token (a valid header or cookie name).

    Upper-case letters are tokens too; ASGI wants header names lower-cased,
    which is a separate rule the caller applies.
    """
    if isinstance(value, bytes):
        return _TOKEN_BYTES.fullmatch(value) is not None
    return _TOKEN_STR.fullmatch(value) is not None


def is_header_value(value: str | bytes) -> bool:
    """True if `value` can be sent as a header value without splitting the header.

    Tabs, spaces, visible ASCII and obs-text (bytes 0x80-0xFF, or the
    latin-1 characters they decode to) are allowed; CR, LF, NUL and every
    other control character are not.
    """
    if isinstance(value, bytes):
        return _FIELD_VALUE_BYTES.fullmatch(value) is not None
    return _FIELD_VALUE_STR.fullmatch(value) is not None


# --- Content-Length (RFC 9110 §8.6) -------------------------------------------


class MalformedContentLength(ValueError):
    """A `Content-Length` value that is not a plain run of ASCII digits.

    Answer it with 400: the framing of the request is unknown, so nothing
    after it can be trusted.
    """


_DIGITS = re.compile(rb"[0-9]+")


def parse_content_length(value: str | bytes) -> int:
    """The length a `Content-Length` value declares, read strictly.

    Only ASCII digits, with optional surrounding spaces/tabs (field OWS).
    `int()` would also take `+1000`, `1_000`, full-width digits (U+FF10..U+FF19)
    and `-0`; a front proxy that reads the header differently from us is how
    request smuggling starts, so all of those raise `MalformedContentLength`.
    A list (`10, 10`) is refused too: servers that allow it collapse it first.
    """
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
    raw = raw.strip(b" \t")
    if _DIGITS.fullmatch(raw) is None:
        shown = raw[:40].decode("latin-1")
        raise MalformedContentLength(f"Content-Length must be ASCII digits only, got {shown!r}")
    # Leading zeros carry no value; stripping them keeps an absurd but valid
    # "0000...1" from hitting int()'s digit limit (a ValueError we don't want).
    significant = raw.lstrip(b"0") or b"0"
    if len(significant) > 19:
        # More than any real body (2**63 has 19 digits): say so, do not parse
        # thousands of digits (CPU) or trip int()'s 4300-digit guard.
        raise MalformedContentLength(
            f"Content-Length has {len(significant)} digits; no body is that large"
        )
    return int(significant)


# --- Host (RFC 9110 §7.2, RFC 3986 §3.2.2) -----------------------------------


class HostPort(NamedTuple):
    """A validated Host header: `host` as written (brackets kept on IP literals)."""

    host: str
    port: int | None


# reg-name, deliberately narrower than RFC 3986: letters, digits, "-", "_"
# and dots between non-empty labels, an optional trailing dot, at most 253
# characters (DNS).  No "/", "?", "#", "@", "\\", "%", whitespace or any
# sub-delim, so nothing in a Host header can move the boundary between
# authority and path when a URL is rebuilt from it (GHSA-86qp-5c8j-p5mr).
_REG_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?", re.ASCII)
_MAX_NAME = 253
# IPvFuture (RFC 3986): "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
# A lower-case "v" only, as Starlette reads it: "[V1.x]" falls back to the
# server address there, so it must here too.
_IP_FUTURE = re.compile(r"v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+", re.ASCII)
_PORT = re.compile(r"[0-9]*", re.ASCII)


def split_host(value: str) -> HostPort | None:
    """Validate a Host header (or any `host[:port]`): `HostPort`, or None if invalid.

    Accepted: a registered name or IPv4 address, a bracketed IPv6 literal
    that `ipaddress` accepts (no zone id), or an IPvFuture literal (lower-case
    `v`, as in Starlette), then an
    optional `:port` of digits.  Leading zeros in the port are accepted
    (`:000080` is port 80, as Starlette and RFC 3986 read it); a port above
    65535 is invalid; an empty port (`host:`) means no port.  The returned
    `host` keeps its case and, for IP literals, its brackets, so the caller
    can rebuild a netloc without re-bracketing.
    """
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
        if not _valid_ip_literal(host[1:-1]):
            return None
    else:
        host, sep, port_text = value.partition(":")
        rest = sep + port_text
        if len(host) > _MAX_NAME + 1 or _REG_NAME.fullmatch(host) is None:
            return None
        if len(host.rstrip(".")) > _MAX_NAME:
            return None
    if not rest:
        return HostPort(host, None)
    if rest[0] != ":" or _PORT.fullmatch(rest[1:]) is None:
        return None
    if rest == ":":
        return HostPort(host, None)
    digits = rest[1:].lstrip("0")
    if len(digits) > 5:
        return None
    port = int(digits or "0")
    return HostPort(host, port) if port <= 65535 else None


def _valid_ip_literal(inner: str) -> bool:
    if inner[:1] in ("v", "V"):
        return _IP_FUTURE.fullmatch(inner) is not None  # "V...": no match
    if "%" in inner:
        # A zone id (RFC 6874) names an interface of the *client's* machine;
        # it has no meaning in a Host header.
        return False
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        return False
    return True


def is_valid_host(value: str) -> bool:
    """True if `value` is a valid `host[:port]` (see `split_host`)."""
    return split_host(value) is not None


# --- safe paths for Location and URL strings --------------------------------

# Browsers drop tabs and line breaks from URLs and read "\\" as "/", so each
# of these could turn "/<x>/evil.example" into "//evil.example".
_LOCATION_ESCAPES = str.maketrans(
    {"\\": "%5C", "\t": "%09", "\n": "%0A", "\r": "%0D", "\x00": "%00"}
)


def safe_location_path(path: str) -> str:
    """`path` made safe to send as a same-origin `Location` or URL path.

    A path that starts with `//` (or `/\\`, or `/<tab>/`) is read by every
    browser as a scheme-relative URL naming another host: an open redirect
    (the trailing-slash redirect of several frameworks had it).  The one
    policy for the whole toolkit: percent-encode the characters browsers
    strip or rewrite (backslash, tab, CR, LF, NUL) and, if the path still
    starts with `//`, encode the second slash as `%2F`.  The browser then
    sees a path on the same host, and a server that decodes the path again
    gets exactly the original path back (unlike collapsing the slashes,
    which changes which route matches).
    """
    path = path.translate(_LOCATION_ESCAPES)
    if path.startswith("//"):
        path = "/%2F" + path[2:]
    return path


# --- Set-Cookie (RFC 6265) ----------------------------------------------------


def build_set_cookie(
    key: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | str | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = "lax",
    partitioned: bool = False,
) -> str:
    """The value of one `Set-Cookie` header, with every attribute checked.

    The name must be a token, the value is quoted as RFC 6265 wants (by
    `http.cookies`), `path` and `domain` may not contain `;` or control
    characters (which would start an attribute of the caller's choosing),
    `samesite` is one of strict/lax/none (any case), and `partitioned`
    requires `secure`.  Raises `ValueError` saying which argument is wrong.
    """
    if not is_token(key):
        raise _IllegalCookieName(
            f"Illegal key {key!r}: a cookie name is not a token unless it is made of "
            "letters, digits and !#$%&'*+-.^_`|~"
        )
    cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    cookie[key] = value
    morsel = cookie[key]
    if max_age is not None:
        morsel["max-age"] = str(max_age)
    if expires is not None:
        morsel["expires"] = _cookie_expires(expires)
    if path is not None:
        morsel["path"] = _cookie_attribute("path", path)
    if domain is not None:
        morsel["domain"] = _cookie_attribute("domain", domain)
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    if samesite is not None:
        if samesite.lower() not in ("strict", "lax", "none"):
            raise ValueError(f"samesite must be 'strict', 'lax' or 'none', not {samesite!r}")
        morsel["samesite"] = samesite
    header = morsel.OutputString()
    if partitioned:
        if not secure:
            raise ValueError("partitioned cookies must also be secure: pass secure=True")
        # Written by hand: SimpleCookie only learned `Partitioned` in 3.14.
        header += "; Partitioned"
    return header


class _IllegalCookieName(ValueError, http.cookies.CookieError):
    # Both: code ported from Starlette catches SimpleCookie's CookieError.
    pass


def _cookie_expires(expires: datetime | str | int) -> str | int:
    if isinstance(expires, datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return format_datetime(expires.astimezone(UTC), usegmt=True)
    if isinstance(expires, str):
        return _cookie_attribute("expires", expires)
    # An int is seconds from now; SimpleCookie turns it into an HTTP date.
    return expires


def _cookie_attribute(name: str, value: str) -> str:
    # `path="/; Domain=evil.example"` would add an attribute; control
    # characters would split the header.
    if ";" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError(f"cookie {name} must not contain ';' or control characters: {value!r}")
    return value


# --- callables ---------------------------------------------------------------


def is_async_callable(obj: Any) -> bool:
    """True for async functions, `functools.partial`s of them, and objects with an async `__call__`.

    This is a hint for choosing a code path up front (run in a thread or
    await directly); it cannot see a sync function that returns a coroutine,
    so callers that accept "any callable returning an awaitable" must still
    check the result with `inspect.isawaitable`.
    """
    # The common cases first, without `inspect`'s half-dozen calls: a plain
    # `async def` function or bound method (endpoints, background tasks, one
    # per request).  Anything else, sync ones included, takes the full check.
    func = obj.__func__ if type(obj) is MethodType else obj
    if type(func) is FunctionType and func.__code__.co_flags & CO_COROUTINE:
        return True
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - we want the method itself
    return call is not None and inspect.iscoroutinefunction(call)


# --- content negotiation (RFC 9110 §12.5.3) -----------------------------------

# A hostile header could list thousands of codings; no real client sends
# more than a handful, so only the first 64 elements are read.
_MAX_CODINGS = 64


def _q_value(params: Sequence[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            # RFC 9110 §12.4.2: "0" or "1", or up to three decimals after them.
            if len(value) > 5 or not value.replace(".", "", 1).isdigit():
                return 0.0  # malformed: read as "not acceptable"
            q = float(value)
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def accept_encoding_weights(header: str) -> dict[str, float]:
    """`Accept-Encoding` as `{coding: q}`: lower-case, `x-gzip` read as `gzip`.

    A malformed or out-of-range `q` counts as 0 (refused); a coding listed
    twice keeps its highest weight.
    """
    weights: dict[str, float] = {}
    for element in header.split(",")[:_MAX_CODINGS]:
        coding, *params = element.split(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        if coding == "x-gzip":  # RFC 9110 §8.4.1.3: an alias of gzip
            coding = "gzip"
        weights[coding] = max(weights.get(coding, 0.0), _q_value(params))
    return weights


def negotiate_encodings(header: str | None, offered: Sequence[str]) -> list[str]:
    """The codings of `offered` that `header` allows, best first.

    The client's highest `q` wins; equal weights keep `offered`'s order (the
    server's preference).  `q=0` refuses a coding and `*` stands for every
    coding not named.  No header means "no preference", which RFC 9110 lets
    a server read as anything; like every browser-facing server this reads
    it as identity only (an empty list).
    """
    if not header:
        return []
    weights = accept_encoding_weights(header)
    star = weights.get("*", 0.0)
    ranked = []
    for index, coding in enumerate(offered):
        q = weights.get(coding, star)
        if q > 0.0:
            ranked.append((-q, index, coding))
    return [coding for _, _, coding in sorted(ranked)]


# --- the routed path -----------------------------------------------------------


def get_route_path(scope: Mapping[str, Any]) -> str:
    """The path to match: `scope["path"]` minus `root_path`, at a segment boundary.

    ASGI (and Starlette since 0.35) keeps the full path in `path`; a Mount
    adds its prefix to `root_path`.  When `root_path` is not a prefix of
    `path` (a server that strips it itself) the path is used unchanged.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path:
        return path
    if path.startswith(root_path) and (len(path) == len(root_path) or path[len(root_path)] == "/"):
        return path[len(root_path) :]
    return path


# --- credentials in URLs -------------------------------------------------------

# Query parameters of a broker URL that carry a credential: redis-py reads
# `password` and `username`; libpq reads `password` (and `user` is half of a
# login); a token in the wrong place is no less secret.
_SECRET_PARAMS = frozenset({"password", "username", "user", "passfile", "sslpassword"})


def redact_url(url: str) -> str:
    """The URL without its credentials: logs, error messages and repr must not leak them.

    Userinfo (`redis://user:pw@`, `redis://:pw@`, `postgres://pw@`) becomes
    `***@`, and credential query parameters (`password=`, `username=`,
    `user=`, any case, also on `unix://`) become `***`.  A URL that cannot
    be split is shown only by its scheme.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.partition(":")[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = (
        "&".join(_redact_param(param) for param in parts.query.split("&")) if parts.query else ""
    )
    redacted = urlunsplit(parts._replace(netloc=netloc, query=query))
    # urlunsplit drops the "//" of an empty authority (memory://, postgresql:///db).
    prefix = f"{parts.scheme}://"
    if url.startswith(prefix) and not redacted.startswith(prefix):
        redacted = prefix + redacted[len(parts.scheme) + 1 :]
    return redacted


def _redact_param(param: str) -> str:
    name, equals, _ = param.partition("=")
    if equals and unquote(name).strip().lower() in _SECRET_PARAMS:
        return f"{name}=***"
    return param
