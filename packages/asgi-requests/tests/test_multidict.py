"""ImmutableMultiDict, MultiDict and QueryParams."""

from __future__ import annotations

import pytest

from flagstone_requests import ImmutableMultiDict, MultiDict, QueryParams


def test_last_value_wins_getlist_keeps_all() -> None:
    d = ImmutableMultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d["a"] == "3"
    assert d.getlist("a") == ["1", "3"]
    assert d.getlist("zz") == []
    assert d.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert list(d.keys()) == ["a", "b"]
    assert list(d.values()) == ["3", "2"]
    assert list(d.items()) == [("a", "3"), ("b", "2")]
    assert len(d) == 2
    assert "a" in d
    assert d.get("zz") is None
    assert repr(d) == "ImmutableMultiDict([('a', '1'), ('b', '2'), ('a', '3')])"


def test_constructors() -> None:
    assert ImmutableMultiDict({"a": 1}).multi_items() == [("a", 1)]
    assert ImmutableMultiDict(a=1).multi_items() == [("a", 1)]
    base = ImmutableMultiDict([("a", 1), ("a", 2)])
    assert ImmutableMultiDict(base).getlist("a") == [1, 2]
    assert ImmutableMultiDict().multi_items() == []
    with pytest.raises(TypeError):
        ImmutableMultiDict({}, {})
    with pytest.raises(AssertionError) as info:  # Starlette asserts, with this text
        ImmutableMultiDict({}, {})
    assert str(info.value) == "Too many arguments."


def test_equality_is_order_aware_per_key_only() -> None:
    assert ImmutableMultiDict([("a", 1), ("b", 2)]) == ImmutableMultiDict([("b", 2), ("a", 1)])
    assert ImmutableMultiDict([("a", 1), ("a", 2)]) != ImmutableMultiDict([("a", 2), ("a", 1)])
    assert QueryParams("a=1&a=2") != QueryParams("a=2&a=1")
    assert ImmutableMultiDict() != {}


def test_multidict_mutation() -> None:
    d = MultiDict[str, str]([("a", "1"), ("a", "2"), ("b", "3")])
    d["a"] = "x"
    assert d.multi_items() == [("b", "3"), ("a", "x")]
    d.append("b", "4")
    assert d.getlist("b") == ["3", "4"]
    assert d["b"] == "4"
    assert d.poplist("b") == ["3", "4"]
    assert "b" not in d
    assert d.pop("zz", "dflt") == "dflt"
    assert d.setdefault("c", "5") == "5"
    assert d.setdefault("c", "6") == "5"
    d.setlist("c", ["7", "8"])
    assert d.getlist("c") == ["7", "8"]
    d.setlist("c", [])
    assert "c" not in d
    del d["a"]
    assert len(d) == 0
    d.update([("k", "1"), ("k", "2")], z="9")
    assert d.getlist("k") == ["1", "2"]
    d.update({"k": "3"})
    assert d.getlist("k") == ["3"]
    key, _ = d.popitem()
    assert key not in d
    d.clear()
    assert d.multi_items() == []


def test_query_params_from_string_keeps_blanks() -> None:
    q = QueryParams("a=1&b=&a=2&c")
    assert q["a"] == "2"
    assert q.getlist("a") == ["1", "2"]
    assert q["b"] == ""
    assert q["c"] == ""
    assert str(q) == "a=1&b=&a=2&c="


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("&&", [], id="only-separators"),
        pytest.param("a", [("a", "")], id="no-equals"),
        pytest.param("=v", [("", "v")], id="empty-name"),
        pytest.param("a=b=c", [("a", "b=c")], id="second-equals-is-value"),
        pytest.param("q=flag+stone", [("q", "flag stone")], id="plus-is-space"),
        pytest.param("q=%2B", [("q", "+")], id="escaped-plus-stays"),
        pytest.param("k%20y=%C3%A9", [("k y", "é")], id="escapes-in-name-and-value"),
        pytest.param("q=%zz%", [("q", "%zz%")], id="broken-escape-kept"),
        pytest.param("q=%ff", [("q", "\ufffd")], id="bad-utf8-replaced"),
        pytest.param("a=1;b=2", [("a", "1;b=2")], id="semicolon-not-a-separator"),
    ],
)
def test_query_params_parse_like_parse_qsl(query: str, pairs: list[tuple[str, str]]) -> None:
    assert QueryParams(query).multi_items() == pairs
    assert QueryParams(query.encode()).multi_items() == pairs


def test_query_params_from_string_with_keywords() -> None:
    q = QueryParams("a=1", b=2)
    assert q.multi_items() == [("a", "1"), ("b", "2")]


def test_query_params_other_sources_coerce_to_str() -> None:
    assert QueryParams({"a": 1})["a"] == "1"
    assert QueryParams([("a", 1), ("a", 2)]).getlist("a") == ["1", "2"]
    assert QueryParams(a=True)["a"] == "True"
    assert repr(QueryParams("a=1")) == "QueryParams('a=1')"


def test_query_params_bytes_are_utf8_not_latin1() -> None:
    # Starlette decodes raw bytes as latin-1: "é" sent unescaped becomes "Ã©".
    assert QueryParams("q=é".encode())["q"] == "é"
    assert QueryParams(b"q=%C3%A9")["q"] == "é"
    # Bytes that are not UTF-8 still decode, losslessly, as latin-1.
    assert QueryParams(b"q=\xff")["q"] == "\xff"
