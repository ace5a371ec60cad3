"""URL: parsing, derivation, and building it safely from a scope."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone_contract.http import safe_location_path
from flagstone_requests import URL


def test_lazy_parts() -> None:
    url = URL("https://user:pw@Example.com:8443/a/b?x=1&y=2#frag")
    assert url.scheme == "https"
    assert url.netloc == "user:pw@Example.com:8443"
    assert url.path == "/a/b"
    assert url.query == "x=1&y=2"
    assert url.fragment == "frag"
    assert url.username == "user"
    assert url.password == "pw"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.is_secure
    assert not URL("http://a/").is_secure
    assert URL("wss://a/").is_secure


def test_str_eq_hash_and_masked_repr() -> None:
    url = URL("https://user:secret@example.com/")
    assert str(url) == "https://user:secret@example.com/"
    assert url == "https://user:secret@example.com/"
    assert url == URL("https://user:secret@example.com/")
    assert url != 3
    assert hash(url) == hash(str(url))
    assert "secret" not in repr(url)
    assert repr(url) == "URL('https://user:********@example.com/')"
    assert repr(URL("http://a/")) == "URL('http://a/')"


def test_replace() -> None:
    url = URL("http://user:pw@example.com:80/path?q=1")
    assert str(url.replace(scheme="https")) == "https://user:pw@example.com:80/path?q=1"
    assert str(url.replace(hostname="other.org")) == "http://user:pw@other.org:80/path?q=1"
    assert str(url.replace(port=8080)) == "http://user:pw@example.com:8080/path?q=1"
    assert str(url.replace(port=None)) == "http://user:pw@example.com/path?q=1"
    assert str(url.replace(username="bob", password=None)) == "http://bob@example.com:80/path?q=1"
    assert str(URL("http://a/").replace(hostname="::1")) == "http://[::1]/"
    assert str(URL("http://[::1]:8000/").replace(port=9)) == "http://[::1]:9/"
    assert str(url.replace(path="/other", query="")) == "http://user:pw@example.com:80/other"
    with pytest.raises(TypeError, match="unexpected component"):
        url.replace(nonsense="x")


@pytest.mark.parametrize(
    ("hostname", "url", "host", "port"),
    [
        ("example.org:8080", "http://example.org:8080/p", "example.org", 8080),
        ("127.0.0.1:8000", "http://127.0.0.1:8000/p", "127.0.0.1", 8000),
        ("localhost:0", "http://localhost:0/p", "localhost", 0),
        ("a:1", "http://a:1/p", "a", 1),
        ("::1", "http://[::1]/p", "::1", None),
        (
            "2001:db8::8:800:200c:417a",
            "http://[2001:db8::8:800:200c:417a]/p",
            "2001:db8::8:800:200c:417a",
            None,
        ),
        ("::ffff:192.0.2.1", "http://[::ffff:192.0.2.1]/p", "::ffff:192.0.2.1", None),
        ("[::1]", "http://[::1]/p", "::1", None),
        ("example.org", "http://example.org/p", "example.org", None),
    ],
    ids=[
        "name-and-port",
        "ipv4-and-port",
        "port-zero",
        "short-name-and-port",
        "ipv6-loopback",
        "ipv6-full",
        "ipv4-mapped-ipv6",
        "already-bracketed",
        "plain-name",
    ],
)
@pytest.mark.parametrize("base", ["http://old.example:9000/p", "http://u@[::2]/p"])
def test_replace_hostname_brackets_only_ipv6_addresses(
    base: str, hostname: str, url: str, host: str, port: int | None
) -> None:
    replaced = URL(base).replace(hostname=hostname, port=None, username=None)
    assert str(replaced) == url
    assert (replaced.hostname, replaced.port) == (host, port)


def test_replace_ipv6_hostname_keeps_the_given_port() -> None:
    assert str(URL("http://a:81/").replace(hostname="::1")) == "http://[::1]:81/"
    assert str(URL("http://a/").replace(hostname="fe80::1", port=8080)) == "http://[fe80::1]:8080/"


def test_components_constructor() -> None:
    url = URL(scheme="https", netloc="example.com", path="/p")
    assert str(url) == "https://example.com/p"
    with pytest.raises(TypeError):
        URL("http://a/", path="/x")


def test_query_param_helpers() -> None:
    url = URL("http://a/p?x=1&y=2&x=3")
    assert str(url.include_query_params(x="9", z=1)) == "http://a/p?y=2&x=9&z=1"
    assert str(url.replace_query_params(k="v")) == "http://a/p?k=v"
    assert str(url.remove_query_params("x")) == "http://a/p?y=2"
    assert str(url.remove_query_params(["x", "y"])) == "http://a/p"


def scope_for(path: str = "/", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


def test_from_scope_uses_host_header() -> None:
    url = URL(scope=scope_for("/a", headers=[(b"host", b"example.com:8000")], query_string=b"q=1"))
    assert str(url) == "http://example.com:8000/a?q=1"


def test_from_scope_falls_back_to_server_and_drops_default_port() -> None:
    assert str(URL(scope=scope_for("/a"))) == "http://testserver/a"
    assert str(URL(scope=scope_for("/a", server=("h", 8080)))) == "http://h:8080/a"
    assert str(URL(scope=scope_for("/", scheme="https", server=("h", 443)))) == "https://h/"
    assert str(URL(scope=scope_for("/", server=("::1", 8000)))) == "http://[::1]:8000/"
    assert str(URL(scope=scope_for("/", server=("h", None)))) == "http://h/"


def test_host_port_with_leading_zeros_is_read_as_the_port() -> None:
    url = URL(scope=scope_for("/a", headers=[(b"host", b"example.com:000080")]))
    assert url.hostname == "example.com"
    assert url.port == 80


@pytest.mark.parametrize(
    "host",
    [b"[:::]", b"[1:2:3:4:5:6:7:8:9]", b"[::g]", b"[fe80::1%25eth0]", b"[]"],
    ids=["triple_colon", "nine_groups", "non_hex", "zone_id", "empty"],
)
def test_invalid_ipv6_literal_falls_back_to_the_server(host: bytes) -> None:
    url = URL(scope=scope_for("/a", headers=[(b"host", host)]))
    assert url.netloc == "testserver"


def test_ipvfuture_literal_is_read_as_starlette_reads_it() -> None:
    url = URL(scope=scope_for("/a", headers=[(b"host", b"[v1.x]:8080")]))
    assert url.netloc == "[v1.x]:8080"
    assert url.port == 8080
    # Starlette accepts a lower-case "v" only; anything else falls back to the server.
    for host in (b"[V1.x]", b"[V1.x]:8080", b"[v1.x/evil]"):
        url = URL(scope=scope_for("/a", headers=[(b"host", host)]))
        assert str(url) == "http://testserver/a"


def test_from_scope_without_host_is_relative() -> None:
    url = URL(scope=scope_for("/a", server=None, query_string=b"x=1"))
    assert str(url) == "/a?x=1"
    assert url.netloc == ""
    assert url.path == "/a"
    # A unix-socket "server" is not an authority either.
    assert URL(scope=scope_for("/a", server=("/tmp/app.sock", None))).netloc == ""


def test_url_without_authority_never_starts_with_two_slashes() -> None:
    url = URL(scope=scope_for("//evil.example/x", server=None))
    assert str(url) == "/%2Fevil.example/x"
    assert URL(str(url)).netloc == ""


def test_from_scope_escapes_characters_that_would_end_the_path() -> None:
    url = URL(scope=scope_for("/a?b#c\\d"))
    assert url.path == "/a%3Fb%23c%5Cd"
    assert url.query == ""
    assert URL(str(url)).path == url.path


def test_scope_and_url_are_exclusive() -> None:
    with pytest.raises(TypeError):
        URL("http://a/", scope=scope_for())


HOSTILE_HOSTS = {
    # GHSA-86qp-5c8j-p5mr / CVE-2026-48710: a Host with a path and query made
    # url.path "/abc" while the router dispatched on the real path.
    "host_header_with_path_and_query": b"example.com/abc?bar=",
    "host_header_with_fragment": b"example.com#/abc",
    "host_header_with_userinfo_at": b"example.com@evil.com",
    "host_header_with_at_only": b"@evil.com",
    "host_header_with_space": b"example.com /admin",
    "host_header_with_backslash": b"example.com\\evil.com",
    "host_header_port_out_of_range": b"example.com:99999",
    "host_header_port_not_numeric": b"example.com:8o",
    "host_header_two_ports": b"example.com:80:81",
    "host_header_empty": b"",
    "host_header_control_chars": b"example.com\r\nx: y",
    "host_header_unclosed_ipv6": b"[::1",
}


@pytest.mark.parametrize("host", HOSTILE_HOSTS.values(), ids=HOSTILE_HOSTS.keys())
@pytest.mark.parametrize("path", ["/private/data", "/"])
def test_hostile_host_header_never_changes_path_or_host(host: bytes, path: str) -> None:
    url = URL(scope=scope_for(path, headers=[(b"host", host)], query_string=b"a=1"))
    assert url.path == path
    assert url.query == "a=1"
    # The malformed Host is ignored in favour of the server address.
    assert url.netloc == "testserver"
    assert url.hostname == "testserver"
    assert URL(str(url)).path == path


HOSTILE_TARGETS = {
    # GHSA-jp82-jpqv-5vv3 / CVE-2026-54282: authority-looking request targets.
    "target_double_slash_authority": "//evil.com/x",
    "target_absolute_url": "http://evil.com/x",
    "target_at_host": "@evil.com",
    "target_userinfo_at_host": "user:pass@evil.com",
    "target_at_after_slash": "/@evil.com",
    "target_backslashes": "/\\\\evil.com\\x",
    "target_newline_then_authority": "/\n/evil.com/x",
    "target_leading_space_authority": " //evil.com/x",
    "target_tab_inside_double_slash": "/\t/evil.com/x",
}


@pytest.mark.parametrize("target", HOSTILE_TARGETS.values(), ids=HOSTILE_TARGETS.keys())
@pytest.mark.parametrize(
    "source",
    ["host_header", "server_fallback", "no_authority"],
)
def test_authority_looking_request_target_stays_the_path(target: str, source: str) -> None:
    extra: dict[str, Any] = {}
    if source == "host_header":
        extra["headers"] = [(b"host", b"example.com")]
        expected_host: str | None = "example.com"
    elif source == "server_fallback":
        expected_host = "testserver"
    else:
        extra["server"] = None
        expected_host = None
    url = URL(scope=scope_for(target, **extra))
    escapes: dict[str, str | int | None] = {"\\": "%5C", "\t": "%09", "\n": "%0A", "\r": "%0D"}
    expected_path = target.translate(str.maketrans(escapes))
    if expected_host is not None and not target.startswith("/"):
        expected_path = "/" + expected_path  # after an authority a path starts with "/"
    assert url.path == expected_path
    assert url.hostname == expected_host
    assert url.username is None
    assert url.password is None
    assert "evil.com" not in url.netloc
    # Read back as a string, it still does not name evil.com as the host.
    assert URL(str(url)).hostname == expected_host
    if expected_host is not None:
        assert URL(str(url)).path == url.path


@settings(max_examples=300, deadline=None)
@given(
    host=st.binary(max_size=40),
    path=st.text(max_size=40).map(lambda p: "/" + p),
    server=st.sampled_from([("testserver", 80), ("::1", 8000), None]),
)
def test_any_host_header_leaves_the_path_alone(
    host: bytes, path: str, server: tuple[str, int] | None
) -> None:
    url = URL(scope=scope_for(path, headers=[(b"host", host)], server=server))
    escapes: dict[str, str | int | None] = {
        "?": "%3F",
        "#": "%23",
        "\\": "%5C",
        "\t": "%09",
        "\n": "%0A",
        "\r": "%0D",
    }
    escaped = path.translate(str.maketrans(escapes))
    assert url.path == escaped
    assert url.query == ""
    reparsed = URL(str(url))
    assert reparsed.netloc == url.netloc
    # Without an authority a leading "//" is written "/%2F" (the contract's
    # safe_location_path): the same path once decoded, never a host.
    assert reparsed.path in (url.path, safe_location_path(url.path))


@pytest.mark.parametrize("target", ["@google.com", "user@google.com", "x"])
def test_a_path_without_leading_slash_reads_back_the_same(target: str) -> None:
    # Starlette 1.10: "http://testserver/@google.com", path "/@google.com".
    url = URL(scope=scope_for(target))
    assert str(url) == f"http://testserver/{target}"
    assert url.path == "/" + target
    assert URL(str(url)).path == url.path
    assert url.hostname == "testserver"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "http://x/", "scope": {}}, 'Cannot set both "url" and "scope".'),
        ({"scope": {}, "path": "/x"}, 'Cannot set both "scope" and "**components".'),
        ({"url": "http://x/", "path": "/x"}, 'Cannot set both "url" and "**components".'),
    ],
)
def test_conflicting_arguments_are_starlettes_assertion(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AssertionError) as info:
        URL(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, TypeError)
