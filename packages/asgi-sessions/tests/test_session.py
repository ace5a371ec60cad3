"""Session: a dict that records access and modification."""

from __future__ import annotations

import json

import pytest

from flagstone_sessions import Session, SessionReadOnlyError


def test_new_session_is_untouched() -> None:
    session = Session({"a": 1})
    assert (session.accessed, session.modified) == (False, False)


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["a"],
        lambda s: s.get("a"),
        lambda s: "a" in s,
        lambda s: list(s),
        lambda s: len(s),
        lambda s: list(s.keys()),
        lambda s: list(s.values()),
        lambda s: list(s.items()),
        lambda s: s.copy(),
        lambda s: dict(s),
        lambda s: json.dumps(s),
        lambda s: s == {"a": 1},
        lambda s: s | {"b": 2},
    ],
    ids=[
        "getitem", "get", "contains", "iter", "len", "keys", "values", "items", "copy",
        "dict", "json_dumps", "eq", "or",
    ],
)  # fmt: skip
def test_reads_mark_accessed_not_modified(read: object) -> None:
    session = Session({"a": 1})
    read(session)  # type: ignore[operator]
    assert session.accessed
    assert not session.modified


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.clear(),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("new", 1),
        lambda s: s.update({"b": 2}),
        lambda s: s.update(b=2),
        lambda s: s.__ior__({"b": 2}),
        lambda s: s.regenerate(),
    ],
    ids=["setitem", "delitem", "clear", "pop", "popitem", "setdefault_new", "update",
         "update_kwargs", "ior", "regenerate"],
)  # fmt: skip
def test_writes_mark_modified(write: object) -> None:
    session = Session({"a": 1})
    write(session)  # type: ignore[operator]
    assert session.accessed
    assert session.modified


def test_pop_missing_and_setdefault_existing_do_not_modify() -> None:
    session = Session({"a": 1})
    assert session.pop("missing", None) is None
    # Starlette: popping a missing key marks the session neither accessed nor modified.
    assert (session.accessed, session.modified) == (False, False)
    assert session.setdefault("a", 5) == 1
    assert not session.modified
    assert session.accessed


def test_is_a_dict_for_ported_code() -> None:
    session = Session({"a": [1]})
    assert isinstance(session, dict)
    assert json.loads(json.dumps(session)) == {"a": [1]}
    assert {**session} == {"a": [1]}
    assert repr(session) == "Session({'a': [1]})"


def test_non_string_key_is_refused() -> None:
    session = Session()
    with pytest.raises(TypeError, match="session keys must be str, got int"):
        session[1] = "x"  # type: ignore[index]
    with pytest.raises(TypeError, match="must be str"):
        session.update({2: "x"})


def test_read_only_session_refuses_writes_with_reason() -> None:
    session = Session({"a": 1})
    session._read_only = "because of the test"
    for write in (lambda: session.__setitem__("b", 1), session.clear, session.regenerate):
        with pytest.raises(SessionReadOnlyError, match="because of the test"):
            write()
    assert session == {"a": 1}
