"""flagstone_contract.http: the HTTP grammar every package shares.

Tables name the input each row stands for; property tests check the rules
against an independent reading of the RFC grammar.
"""

from __future__ import annotations

import functools
import ipaddress
import string
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flagstone_contract.http import (
    HostPort,
    MalformedContentLength,
    accept_encoding_weights,
    build_set_cookie,
    get_route_path,
    is_async_callable,
    is_header_value,
    is_token,
    is_valid_host,
    negotiate_encodings,
    parse_content_length,
    redact_url,
    safe_location_path,
    split_host,
)

TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters

# --- tokens and values ---------------------------------------------------------


@pytest.mark.parametrize("name", ["content-type", "X-Custom", "a", "!#$%&'*+-.^_`|~"])
def test_tokens(name: str) -> None:
    assert is_token(name)
    assert is_token(name.encode())


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a:b", "a\r\nb", "é", "a(b)", 'a"b', "a/b", "a\x00"],
    ids=["empty", "space", "colon", "crlf", "non-ascii", "parens", "quote", "slash", "nul"],
)
def test_not_tokens(name: str) -> None:
    assert not is_token(name)
    assert not is_token(name.encode("utf-8"))


@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=20))
def test_token_is_exactly_tchars(text: str) -> None:
    assert is_token(text) == (text != "" and all(c in TCHARS for c in text))


@pytest.mark.parametrize("value", ["", "text/html; charset=utf-8", "a\tb", "caf\xe9", " x "])
def test_header_values(value: str) -> None:
    assert is_header_value(value)
    assert is_header_value(value.encode("latin-1"))


@pytest.mark.parametrize(
    "value",
    ["a\rb", "a\nb", "a\r\nSet-Cookie: x=1", "a\x00b", "a\x7fb", "a\x1bb"],
    ids=["cr", "lf", "response-splitting", "nul", "del", "escape"],
)
def test_not_header_values(value: str) -> None:
    assert not is_header_value(value)
    assert not is_header_value(value.encode("latin-1"))


@given(st.binary(max_size=30))
def test_header_value_refuses_exactly_controls(raw: bytes) -> None:
    controls = set(range(0x20)) - {0x09} | {0x7F}
    assert is_header_value(raw) == (not any(b in controls for b in raw))


# --- Content-Length ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("1000", 1000), (b"42", 42), (" 7\t", 7), ("000080", 80), ("0" * 50 + "5", 5)],
)
def test_content_length(value: str | bytes, expected: int) -> None:
    assert parse_content_length(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "+1000", "-1", "-0", "1_000", "1e3", "0x10", "\uff11\uff10\uff10\uff10", "10, 10", "1 0", "ten", "9" * 20, "1" * 5000],
    ids=[
        "empty", "plus-sign", "negative", "negative-zero", "underscore", "exponent", "hex",
        "full-width-digits", "list", "inner-space", "word", "twenty-digits", "5000-digits",
    ],
)  # fmt: skip
def test_malformed_content_length(value: str) -> None:
    with pytest.raises(MalformedContentLength, match="Content-Length"):
        parse_content_length(value)
    assert issubclass(MalformedContentLength, ValueError)


@given(st.integers(min_value=0, max_value=2**63))
def test_content_length_round_trip(n: int) -> None:
    assert parse_content_length(str(n)) == n


@given(st.text(max_size=12))
def test_content_length_accepts_only_ascii_digits(text: str) -> None:
    stripped = text.strip(" \t")
    try:
        parsed = parse_content_length(text)
    except MalformedContentLength:
        assert (
            not (stripped and all(c in string.digits for c in stripped))
            or len(stripped.lstrip("0")) > 19
        )
    else:
        assert stripped
        assert all(c in string.digits for c in stripped)
        assert parsed == int(stripped)


# --- Host ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("Example.COM:8080", ("Example.COM", 8080)),
        ("example.com:000080", ("example.com", 80)),
        ("example.com:", ("example.com", None)),
        ("example.com.", ("example.com.", None)),
        ("a-", ("a-", None)),
        ("under_score.local", ("under_score.local", None)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]", ("[::1]", None)),
        ("[2001:db8::1]:443", ("[2001:db8::1]", 443)),
        ("[::ffff:192.0.2.1]", ("[::ffff:192.0.2.1]", None)),
        ("[v1.x]", ("[v1.x]", None)),
        ("[vF.a:b]:81", ("[vF.a:b]", 81)),
        ("localhost:65535", ("localhost", 65535)),
        ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, None)),
    ],
)  # fmt: skip
def test_valid_hosts(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == HostPort(*expected)
    assert is_valid_host(value)


@pytest.mark.parametrize(
    "value",
    [
        "", ":80", "example.com:65536", "example.com:99999999", "example.com:8o",
        "example.com/abc?x=", "evil.com@example.com", "example.com#x", "exa mple.com",
        "example.com\\evil", "ex%41mple.com", "a..b", ".example.com", "[:::]", "[::1",
        "[1.2.3.4]", "[::1%25eth0]", "[v1.]", "[vx.y]", "[V1.x]", "[::1]x", "[::1]:", "x" * 300,
        "example.com:80:80", "exa\x00mple.com",
    ],
    ids=[
        "empty", "port-only", "port-too-large", "port-huge", "port-not-digits",
        "path-and-query", "userinfo", "fragment", "space", "backslash", "percent-escape",
        "empty-label", "leading-dot", "bad-ipv6", "unclosed-bracket", "ipv4-in-brackets",
        "zone-id", "empty-ipvfuture", "bad-ipvfuture-version", "upper-case-ipvfuture-v",
        "junk-after-literal",
        "empty-port-after-literal-ok?", "300-chars", "two-ports", "nul",
    ],
)  # fmt: skip
def test_invalid_hosts(value: str) -> None:
    if value == "[::1]:":
        # An empty port is allowed after a literal too (RFC 3986 `port = *DIGIT`).
        assert split_host(value) == HostPort("[::1]", None)
        return
    assert split_host(value) is None
    assert not is_valid_host(value)


@given(st.ip_addresses(v=6), st.one_of(st.none(), st.integers(0, 65535)))
def test_every_ipv6_address_is_a_valid_literal(
    address: ipaddress.IPv6Address, port: int | None
) -> None:
    text = f"[{address}]" + ("" if port is None else f":{port}")
    assert split_host(text) == HostPort(f"[{address}]", port)


@given(st.text(max_size=30))
def test_a_valid_host_never_holds_a_url_delimiter(text: str) -> None:
    parsed = split_host(text)
    if parsed is not None and not parsed.host.startswith("["):
        assert not set(parsed.host) & set("/?#@\\% \t\r\n")
        assert len(parsed.host) <= 254


# --- safe paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/a/b/", "/a/b/"),
        ("//evil.example/", "/%2Fevil.example/"),
        ("///evil.example", "/%2F/evil.example"),
        ("/\\evil.example", "/%5Cevil.example"),
        ("/\t/evil.example", "/%09/evil.example"),
        ("/\r\n/evil", "/%0D%0A/evil"),
        ("/a//b", "/a//b"),
    ],
    ids=[
        "root",
        "plain",
        "double-slash",
        "triple-slash",
        "backslash",
        "tab",
        "crlf",
        "inner-slashes",
    ],
)
def test_safe_location_path(path: str, expected: str) -> None:
    assert safe_location_path(path) == expected


@given(st.text(alphabet="/\\\t\r\nab.%", max_size=12))
def test_safe_location_path_never_leaves_the_host(path: str) -> None:
    safe = safe_location_path("/" + path)
    # What a browser does to a path before resolving it: drop tabs and line
    # breaks, read backslashes as slashes.
    browser = safe.replace("\t", "").replace("\r", "").replace("\n", "").replace("\\", "/")
    assert not browser.startswith("//")
    assert safe == "/" + path or "%" in safe


# --- Set-Cookie -------------------------------------------------------------------


def test_set_cookie_defaults() -> None:
    assert build_set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=lax"


def test_set_cookie_every_attribute() -> None:
    header = build_set_cookie(
        "sid",
        "a b",
        max_age=60,
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="none",
        partitioned=True,
    )
    assert header == (
        'sid="a b"; Domain=example.com; expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; '
        "Max-Age=60; Path=/app; SameSite=none; Secure; Partitioned"
    )


def test_set_cookie_expires_in_seconds_becomes_a_date() -> None:
    header = build_set_cookie("a", "b", expires=10)
    assert "expires=" in header
    assert header.endswith("GMT; Path=/; SameSite=lax")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "a b"}, "not a token"),
        ({"key": "a;b"}, "not a token"),
        ({"path": "/; Domain=evil.example"}, "path must not contain"),
        ({"domain": "example.com\r\nX: y"}, "domain must not contain"),
        ({"expires": "x; Secure"}, "expires must not contain"),
        ({"samesite": "sometimes"}, "samesite must be"),
        ({"partitioned": True}, "must also be secure"),
    ],
    ids=["name-space", "name-semicolon", "path-injection", "domain-crlf", "expires-injection", "bad-samesite", "partitioned-insecure"],
)  # fmt: skip
def test_set_cookie_refuses(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"key": "sid", "value": "v"} | kwargs
    with pytest.raises(ValueError, match=message):
        build_set_cookie(**arguments)


# --- is_async_callable ----------------------------------------------------------------


async def _async_fn() -> None:
    return None


def _sync_fn() -> None:
    return None


class _AsyncCall:
    async def __call__(self) -> None:
        return None


class _SyncCall:
    def __call__(self) -> None:
        return None


async def _async_gen() -> Any:
    yield None


class _Methods:
    async def run(self) -> None:
        return None

    def run_sync(self) -> None:
        return None


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_async_fn, True),
        (functools.partial(_async_fn), True),
        (functools.partial(functools.partial(_async_fn)), True),
        (_AsyncCall(), True),
        (_sync_fn, False),
        (functools.partial(_sync_fn), False),
        (_SyncCall(), False),
        (42, False),
        (_async_gen, False),
        (_Methods().run, True),
        (_Methods().run_sync, False),
        (lambda: _async_fn(), False),
    ],
    ids=["function", "partial", "nested-partial", "async-call", "sync", "sync-partial", "sync-call", "not-callable", "async-generator", "async-method", "sync-method", "lambda-returning-coroutine"],
)  # fmt: skip
def test_is_async_callable(obj: object, expected: bool) -> None:
    assert is_async_callable(obj) is expected


# --- content negotiation -------------------------------------------------------------

OFFERED = ("br", "zstd", "gzip")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("gzip", ["gzip"]),
        ("gzip, br", ["br", "gzip"]),
        ("gzip;q=1, br;q=0.5", ["gzip", "br"]),
        ("br;q=0, *", ["zstd", "gzip"]),
        ("*;q=0.1, gzip;q=0.9", ["gzip", "br", "zstd"]),
        ("x-gzip", ["gzip"]),
        ("GZIP;Q=0.5", ["gzip"]),
        ("identity", []),
        ("gzip;q=2", []),
        ("gzip;q=abc", []),
        ("gzip;q=0.12345", []),
        ("gzip;q=0, gzip;q=0.5", ["gzip"]),
    ],
    ids=[
        "no-header", "empty", "one", "server-order-breaks-ties", "client-weights-win",
        "star-with-refusal", "star-lower-than-named", "x-gzip-alias", "case", "identity-only",
        "q-above-one", "q-not-a-number", "q-too-precise", "listed-twice-keeps-highest",
    ],
)  # fmt: skip
def test_negotiate_encodings(header: str | None, expected: list[str]) -> None:
    assert negotiate_encodings(header, OFFERED) == expected


def test_accept_encoding_reads_a_bounded_number_of_elements() -> None:
    # A hostile header of 100,000 codings costs what 64 cost.
    header = ",".join(f"c{i}" for i in range(100_000)) + ",gzip"
    assert "gzip" not in accept_encoding_weights(header)
    assert len(accept_encoding_weights(header)) == 64


@given(st.text(alphabet="gzipbr*;q=0.1, ", max_size=40))
def test_negotiated_codings_are_offered_and_allowed(header: str) -> None:
    ranked = negotiate_encodings(header, OFFERED)
    weights = accept_encoding_weights(header)
    assert len(ranked) == len(set(ranked))
    for coding in ranked:
        assert coding in OFFERED
        assert weights.get(coding, weights.get("*", 0.0)) > 0


# --- the routed path -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/users/7", "", "/users/7"),
        ("/api/users/7", "/api", "/users/7"),
        ("/api", "/api", ""),
        ("/apix/users", "/api", "/apix/users"),
        ("/users/7", "/api", "/users/7"),
    ],
    ids=["no-root", "below-root", "root-itself", "not-a-segment-boundary", "server-stripped"],
)
def test_get_route_path(path: str, root_path: str, expected: str) -> None:
    assert get_route_path({"path": path, "root_path": root_path}) == expected


# --- redact_url -------------------------------------------------------------------

REDACTED = {
    "userinfo_password": ("redis://:hunter2@h:6379/0", "redis://***@h:6379/0"),
    "userinfo_user_and_password": ("rediss://ada:hunter2@h/0", "rediss://***@h/0"),
    "postgres_login": ("postgres://ada:hunter2@db:5432/app", "postgres://***@db:5432/app"),
    "password_in_query": ("redis://h/0?password=hunter2", "redis://h/0?password=***"),
    "username_in_query_any_case": (
        "unix://localhost/s.sock?UserName=ada",
        "unix://localhost/s.sock?UserName=***",
    ),
    "libpq_user_param": (
        "postgresql:///app?user=ada&password=pw",
        "postgresql:///app?user=***&password=***",
    ),
    "harmless_params_kept": (
        "redis://h/0?socket_timeout=2&password=pw",
        "redis://h/0?socket_timeout=2&password=***",
    ),
    "no_credentials": ("memory://", "memory://"),
    "unsplittable": ("redis://[::1/0", "redis://***"),
}


@pytest.mark.parametrize(("url", "shown"), REDACTED.values(), ids=REDACTED.keys())
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
