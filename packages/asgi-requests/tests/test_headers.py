"""Headers and MutableHeaders."""

from __future__ import annotations

from typing import Any

import pytest

from flagstone_requests import Headers, HTTPConnection, MutableHeaders


def test_lookup_is_case_insensitive_and_keeps_duplicates() -> None:
    h = Headers(raw=[(b"accept", b"a"), (b"x-tag", b"1"), (b"x-tag", b"2")])
    assert h["Accept"] == "a"
    assert h["X-TAG"] == "1"
    assert h.getlist("x-Tag") == ["1", "2"]
    assert h.get("missing") is None
    assert h.get("missing", "d") == "d"
    assert "ACCEPT" in h
    assert 3 not in h  # type: ignore[comparison-overlap]
    assert h.keys() == ["accept", "x-tag", "x-tag"]
    assert h.values() == ["a", "1", "2"]
    assert h.items() == [("accept", "a"), ("x-tag", "1"), ("x-tag", "2")]
    assert len(h) == 3
    assert list(h) == ["accept", "x-tag", "x-tag"]
    with pytest.raises(KeyError):
        h["nope"]


def test_from_mapping_lowercases_names() -> None:
    h = Headers({"Content-Type": "text/plain"})
    assert h.raw == [(b"content-type", b"text/plain")]
    assert repr(h) == "Headers({'content-type': 'text/plain'})"


def test_from_scope_does_not_rewrite_scope_headers() -> None:
    raw = ((b"host", b"example.com"),)
    scope: dict[str, Any] = {"type": "http", "headers": raw}
    h = Headers(scope=scope)
    assert h["host"] == "example.com"
    assert scope["headers"] is raw


def test_from_scope_with_one_shot_iterator_is_stored_once() -> None:
    scope: dict[str, Any] = {"headers": iter([(b"a", b"1")])}
    assert Headers(scope=scope)["a"] == "1"
    assert Headers(scope=scope)["a"] == "1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"headers": {"a": "b"}, "raw": []}, 'Cannot set both "headers" and "raw".'),
        ({"headers": {"a": "b"}, "scope": {}}, 'Cannot set both "headers" and "scope".'),
        ({"raw": [], "scope": {}}, 'Cannot set both "raw" and "scope".'),
    ],
)
def test_only_one_source_allowed(kwargs: dict[str, Any], message: str) -> None:
    # Starlette asserts, with these texts; a TypeError too.
    with pytest.raises(AssertionError) as info:
        Headers(**kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, TypeError)


def test_equality_ignores_order() -> None:
    a = Headers(raw=[(b"a", b"1"), (b"b", b"2")])
    b = Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert a == b
    assert a != Headers(raw=[(b"a", b"1")])
    assert a != {"a": "1"}


def test_repr_with_duplicates_shows_raw() -> None:
    h = Headers(raw=[(b"a", b"1"), (b"a", b"2")])
    assert "raw=" in repr(h)


def test_setitem_replaces_every_duplicate_keeping_first_position() -> None:
    h = MutableHeaders(
        raw=[(b"a", b"1"), (b"set-cookie", b"x"), (b"b", b"2"), (b"set-cookie", b"y")]
    )
    h["Set-Cookie"] = "z"
    assert h.raw == [(b"a", b"1"), (b"set-cookie", b"z"), (b"b", b"2")]
    h["new"] = "v"
    assert h.raw[-1] == (b"new", b"v")


def test_delete_append_setdefault_update() -> None:
    h = MutableHeaders()
    h.append("x", "1")
    h.append("X", "2")
    assert h.getlist("x") == ["1", "2"]
    del h["x"]
    assert "x" not in h
    with pytest.raises(KeyError):
        del h["x"]
    assert h.setdefault("a", "1") == "1"
    assert h.setdefault("a", "2") == "1"
    h.update({"a": "3", "b": "4"})
    assert dict(h.items()) == {"a": "3", "b": "4"}


def test_or_and_ior() -> None:
    h = MutableHeaders({"a": "1"})
    merged = h | {"b": "2"}
    assert merged["b"] == "2"
    assert "b" not in h
    h |= {"a": "9"}
    assert h["a"] == "9"
    # Starlette's TypeError text for a non-mapping operand.
    with pytest.raises(TypeError) as info:
        h | [("b", "2")]  # type: ignore[operator]
    assert str(info.value) == "Expected a mapping but got list"
    with pytest.raises(TypeError) as info:
        h |= 1  # type: ignore[arg-type]
    assert str(info.value) == "Expected a mapping but got int"


def test_mutablecopy_is_independent() -> None:
    h = Headers({"a": "1"})
    m = h.mutablecopy()
    m["a"] = "2"
    assert h["a"] == "1"
    assert m["a"] == "2"


def test_add_vary_header_merges_without_duplicates() -> None:
    h = MutableHeaders({"vary": "Accept-Encoding"})
    h.add_vary_header("Cookie")
    h.add_vary_header("cookie, Origin")
    assert h["vary"] == "Accept-Encoding, Cookie, Origin"
    empty = MutableHeaders()
    empty.add_vary_header("Accept")
    assert empty["vary"] == "Accept"


def test_mutable_headers_from_message_edit_it_in_place() -> None:
    message: dict[str, Any] = {"type": "http.response.start", "headers": ((b"a", b"1"),)}
    h = MutableHeaders(scope=message)
    h["b"] = "2"
    assert message["headers"] == [(b"a", b"1"), (b"b", b"2")]


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: evil=1", "a\nb", "a\x00b"])
def test_header_injection_is_refused(value: str) -> None:
    h = MutableHeaders()
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        h["x"] = value
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        h.append("x", value)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Headers({"x": value})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param([(b"a", b"1")], id="list"),
        pytest.param(((b"a", b"1"),), id="tuple"),
        pytest.param(iter([(b"a", b"1")]), id="one-shot-iterator"),
    ],
)
def test_connection_headers_from_any_scope_headers_iterable(raw: Any) -> None:
    # A connection reads its headers through a shortcut for the usual list;
    # every other iterable ASGI allows still works, an iterator read twice too.
    scope: dict[str, Any] = {"type": "http", "headers": raw}
    assert HTTPConnection(scope).headers["a"] == "1"
    assert HTTPConnection(scope).headers.getlist("a") == ["1"]
    assert HTTPConnection({"type": "http"}).headers.raw == []
