"""`Environ` refuses to change a key after it was read (Starlette's guard for tests)."""

from __future__ import annotations

import os

import pytest

from flagstone_config import Config, Environ, EnvironError, environ


def test_unread_keys_change_freely() -> None:
    env = Environ({})
    env["A"] = "1"
    env["A"] = "2"
    del env["A"]
    assert "A" not in env


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda env: env["A"], id="item"),
        pytest.param(lambda env: "A" in env, id="membership"),
        pytest.param(lambda env: env.get("A"), id="get"),
        pytest.param(lambda env: Config(environ=env)("A"), id="through-config"),
    ],
)
def test_a_read_key_cannot_be_set_or_deleted(read: object) -> None:
    env = Environ({"A": "1"})
    read(env)  # type: ignore[operator]
    with pytest.raises(EnvironError, match=r"set environ\['A'\].*already been read"):
        env["A"] = "2"
    with pytest.raises(EnvironError, match=r"delete environ\['A'\]"):
        del env["A"]
    assert env["A"] == "1"


def test_a_missing_key_that_was_looked_up_is_guarded_too() -> None:
    env = Environ({})
    assert "MISSING" not in env
    with pytest.raises(EnvironError):
        env["MISSING"] = "late"


def test_the_default_environ_wraps_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGSTONE_CONFIG_TEST_UNREAD", "1")
    assert len(environ) == len(os.environ)
    assert "FLAGSTONE_CONFIG_TEST_UNREAD" in set(environ)
    assert Config()("FLAGSTONE_CONFIG_TEST_UNREAD", cast=bool) is True
