"""Property tests for the incoming side: headers, cookies, query strings, URLs, ranges.

Each property holds for every generated input, not just the examples in the
other test files.  Examples are kept modest (the whole file runs in seconds)
and the deadline is off: the machine is shared, and speed is measured in
tools/bench, not here.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flagstone_requests import (
    URL,
    FileResponse,
    Headers,
    HTTPConnection,
    MutableHeaders,
    QueryParams,
    Response,
)
from flagstone_requests._multidict import parse_query
from flagstone_requests._ranges import parse_range

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ----------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
header_names = st.text(TOKEN_CHARS, min_size=1, max_size=12)
# Header values as ASGI carries them: latin-1 bytes, no CR/LF/NUL (those
# would split a response; MutableHeaders refuses them), no surrounding blanks.
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=20,
).map(str.strip)
raw_headers = st.lists(st.tuples(header_names, header_values), max_size=8)

# Cookie names and values `http.cookies` writes without quoting.
COOKIE_SAFE = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:"
# Cookie names are RFC 9110 tokens (RFC 6265): SimpleCookie also takes ":", flagstone does not.
cookie_names = st.text(TOKEN_CHARS, min_size=1, max_size=10).filter(
    # SimpleCookie refuses the names of cookie attributes (`Path`, `Max-Age`, ...).
    lambda name: (
        name.lower()
        not in {
            "expires",
            "path",
            "comment",
            "domain",
            "max-age",
            "secure",
            "httponly",
            "version",
            "samesite",
            "partitioned",
        }
    )
)
cookie_values = st.text(COOKIE_SAFE, max_size=20)
# Printable ASCII: SimpleCookie quotes and escapes these (`"a\\054b"`).
printable_cookie_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20
).map(str.strip)

any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


def to_raw(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def http_scope(**extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


# --- headers -------------------------------------------------------------------


@FAST
@given(pairs=raw_headers)
def test_headers_lookup_agrees_with_the_raw_list(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(raw=to_raw(pairs))
    assert len(headers) == len(pairs)
    assert headers.raw == to_raw(pairs)
    for name, _ in pairs:
        expected = [value for other, value in pairs if other.lower() == name.lower()]
        # Lookups are case-insensitive; getlist keeps every value in order.
        for spelling in (name, name.lower(), name.upper()):
            assert headers.getlist(spelling) == expected
            assert headers[spelling] == expected[0]
            assert spelling in headers


@FAST
@given(pairs=raw_headers, name=header_names)
def test_absent_header_is_absent(pairs: list[tuple[str, str]], name: str) -> None:
    pairs = [(k, v) for k, v in pairs if k.lower() != name.lower()]
    headers = Headers(raw=to_raw(pairs))
    assert name not in headers
    assert headers.get(name) is None
    assert headers.getlist(name) == []
    with pytest.raises(KeyError):
        headers[name]


@FAST
@given(pairs=raw_headers, name=header_names, value=header_values)
def test_setting_a_header_replaces_every_occurrence(
    pairs: list[tuple[str, str]], name: str, value: str
) -> None:
    headers = MutableHeaders(raw=to_raw(pairs))
    headers[name] = value
    assert headers.getlist(name) == [value]
    # Every other header is untouched, in its order.
    others = [(k, v) for k, v in to_raw(pairs) if k != name.lower().encode()]
    assert [(k, v) for k, v in headers.raw if k != name.lower().encode()] == others


@FAST
@given(pairs=raw_headers, name=header_names, value=header_values)
def test_append_then_delete_round_trips(
    pairs: list[tuple[str, str]], name: str, value: str
) -> None:
    headers = MutableHeaders(raw=to_raw(pairs))
    before = headers.getlist(name)
    headers.append(name, value)
    assert headers.getlist(name) == [*before, value]
    del headers[name]
    assert name not in headers
    assert headers.raw == [(k, v) for k, v in to_raw(pairs) if k != name.lower().encode()]


@FAST
@given(pairs=raw_headers)
def test_mutable_copy_and_scope_round_trip(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(raw=to_raw(pairs))
    assert headers.mutablecopy() == headers
    assert Headers(scope={"type": "http", "headers": to_raw(pairs)}) == headers
    message: dict[str, Any] = {"type": "http.response.start", "headers": to_raw(pairs)}
    MutableHeaders(scope=message).append("x-added", "1")
    assert message["headers"] == [*to_raw(pairs), (b"x-added", b"1")]


@FAST
@given(name=header_names, value=header_values, bad=st.sampled_from(["\r", "\n", "\x00"]))
def test_header_injection_is_refused(name: str, value: str, bad: str) -> None:
    headers = MutableHeaders()
    with pytest.raises(ValueError, match=r"."):
        headers[name] = value + bad + "x-injected: 1"
    assert headers.raw == []


# --- cookies -------------------------------------------------------------------


@FAST
@given(header=st.binary(max_size=200))
def test_any_cookie_header_parses_without_error(header: bytes) -> None:
    scope = http_scope(headers=[(b"cookie", header)])
    cookies = HTTPConnection(scope).cookies
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())
    assert all(k == k.strip() for k in cookies)


@FAST
@given(jar=st.dictionaries(cookie_names, cookie_values, max_size=6))
def test_browser_style_cookie_header_round_trips(jar: dict[str, str]) -> None:
    header = "; ".join(f"{k}={v}" for k, v in jar.items())
    scope = http_scope(headers=[(b"cookie", header.encode("latin-1"))])
    assert HTTPConnection(scope).cookies == {k: v for k, v in jar.items() if k or v}


def _cookie_from_set_cookie(set_cookie: str) -> dict[str, str]:
    """What a browser sends back: the `name=value` before the attributes."""
    pair = set_cookie.split("; ", 1)[0] if '"' not in set_cookie else _quoted_pair(set_cookie)
    scope = http_scope(headers=[(b"cookie", pair.encode("latin-1"))])
    return HTTPConnection(scope).cookies


def _quoted_pair(set_cookie: str) -> str:
    # A quoted value may hold "; " itself: cut after the closing quote.
    name, _, rest = set_cookie.partition('="')
    end = 0
    while True:
        end = rest.index('"', end)
        # Escaped only after an odd run of backslashes: `\\"` closes, `\\\"` does not.
        backslashes = len(rest[:end]) - len(rest[:end].rstrip("\\"))
        if backslashes % 2 == 0:
            break
        end += 1
    return f'{name}="{rest[: end + 1]}'


@FAST
@given(name=cookie_names, value=cookie_values)
def test_set_cookie_round_trips_for_token_values(name: str, value: str) -> None:
    response = Response()
    response.set_cookie(name, value, max_age=60, path="/", httponly=True)
    [set_cookie] = response.headers.getlist("set-cookie")
    assert _cookie_from_set_cookie(set_cookie) == ({name: value} if value else {name: ""})


@FAST
@given(name=cookie_names, value=printable_cookie_values)
@example(name="0", value='\\"')  # a backslash then a quote: found by hypothesis in CI
def test_set_cookie_round_trips_for_quoted_values(name: str, value: str) -> None:
    response = Response()
    response.set_cookie(name, value)
    [set_cookie] = response.headers.getlist("set-cookie")
    assert _cookie_from_set_cookie(set_cookie) == {name: value}


# --- query strings -----------------------------------------------------------------


@FAST
@given(pairs=st.lists(st.tuples(any_text, any_text), max_size=8))
def test_query_params_from_urlencode_give_the_pairs_back(pairs: list[tuple[str, str]]) -> None:
    params = QueryParams(urlencode(pairs))
    assert params.multi_items() == pairs
    for key, _ in pairs:
        assert params.getlist(key) == [v for k, v in pairs if k == key]
    # The same through a scope's raw bytes.
    scope = http_scope(query_string=urlencode(pairs).encode("ascii"))
    assert HTTPConnection(scope).query_params.multi_items() == pairs


# Query-string characters, weighted towards the ones the parser treats specially.
query_text = st.text(
    st.one_of(st.sampled_from("&=+%;#?25aAcCfF09 "), st.characters(exclude_categories=("Cs",))),
    max_size=40,
)


@FAST
@given(query=query_text)
@example(query="a=1&&b&=c&d=%zz&e=%C3%A9+%2B&f=%ff==")
def test_query_parser_is_parse_qsl(query: str) -> None:
    # The hand-written parser must be exactly parse_qsl with blanks kept.
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)
    assert QueryParams(query).multi_items() == parse_qsl(query, keep_blank_values=True)


@FAST
@given(query=st.binary(max_size=100))
def test_any_query_string_parses_without_error(query: bytes) -> None:
    params = HTTPConnection(http_scope(query_string=query)).query_params
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.multi_items())


# --- URLs from scopes ------------------------------------------------------------------

paths = st.text(st.characters(exclude_categories=("Cs",)), max_size=20).map(lambda p: "/" + p)
hosts = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
    st.sampled_from(["evil.com/abc?x=", "@evil", "a b", "[::1]:80", "x:99999", "evil#"]),
)
# Characters URL escapes in a path so that it reads back as a path.
ESCAPED = str.maketrans(
    {"?": "%3F", "#": "%23", "\\": "%5C", "\t": "%09", "\n": "%0A", "\r": "%0D"}
)


@FAST
@given(path=paths, query=st.binary(max_size=20), host=hosts)
def test_url_path_comes_from_the_scope_never_the_host(path: str, query: bytes, host: str) -> None:
    scope = http_scope(
        path=path, query_string=query, headers=[(b"host", host.encode("latin-1", "replace"))]
    )
    url = HTTPConnection(scope).url
    assert url.path == path.translate(ESCAPED)
    without_host = URL(scope=http_scope(path=path, query_string=query))
    assert url.path == without_host.path
    # Reading the URL back as a string moves nothing between its parts.
    assert URL(str(url)).path == url.path
    assert URL(str(url)).netloc == url.netloc
    assert not set(url.netloc) & set("/?#@\\")


# --- Range headers ---------------------------------------------------------------------


@FAST
@given(
    header=st.one_of(
        st.text(max_size=60),
        st.lists(
            st.tuples(st.integers(-5, 3000), st.integers(-5, 3000)).map(
                lambda t: f"{t[0] if t[0] >= 0 else ''}-{t[1] if t[1] >= 0 else ''}"
            ),
            max_size=12,
        ).map(lambda specs: "bytes=" + ",".join(specs)),
    ),
    size=st.integers(0, 2000),
    max_ranges=st.integers(1, 10),
)
def test_range_parser_answers_within_the_file(header: str, size: int, max_ranges: int) -> None:
    decision = parse_range(header, size, max_ranges)
    assert decision.outcome in {"full", "partial", "bad_request", "unsatisfiable"}
    if decision.outcome != "partial":
        return
    assert 1 <= len(decision.ranges) <= max_ranges
    previous_stop = -1
    for start, stop in decision.ranges:
        assert 0 <= start < stop <= size
        assert start > previous_stop  # sorted and merged: no overlap, no contact
        previous_stop = stop


@pytest.mark.parametrize("header", ["bytes=-1", "bytes=-5", "bytes=0-,-3", "bytes=-1, 0-0"])
def test_suffix_range_on_empty_file_is_unsatisfiable(header: str) -> None:
    # Regression (tools/fuzz, range target): a suffix range on a zero-byte
    # file gave a 206 for the empty range (0, 0): `Content-Range: bytes 0--1/0`.
    assert parse_range(header, 0).outcome == "unsatisfiable"


@pytest.mark.anyio
async def test_empty_file_suffix_range_answers_416(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(headers=[(b"range", b"bytes=-5")])
    with anyio.fail_after(5):
        await FileResponse(path)(scope, receive, send)
    assert sent[0]["status"] == 416
    assert (b"content-range", b"bytes */0") in sent[0]["headers"]
