"""`Config`: lookup order, casts, `.env` parsing, and errors that say where they looked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flagstone_config import CommaSeparatedStrings, Config, ConfigKeyError, DotenvWarning, Secret


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_environment_wins_over_file_and_file_over_default(tmp_path: Path) -> None:
    env_file = write(tmp_path, "A=file\nB=file\n")
    config = Config(env_file, environ={"A": "env"})
    assert config("A") == "env"
    assert config("B") == "file"
    assert config("C", default="default") == "default"
    assert config("D", default=None) is None


def test_prefix_applies_to_environment_and_file(tmp_path: Path) -> None:
    env_file = write(tmp_path, "APP_B=2\n")
    config = Config(env_file, environ={"APP_A": "1", "A": "unprefixed"}, env_prefix="APP_")
    assert config("A", cast=int) == 1
    assert config("B", cast=int) == 2


@pytest.mark.parametrize(
    ("raw", "cast", "expected"),
    [
        pytest.param("true", bool, True, id="bool-true"),
        pytest.param("TRUE", bool, True, id="bool-any-case"),
        pytest.param("1", bool, True, id="bool-one"),
        pytest.param("False", bool, False, id="bool-false"),
        pytest.param("0", bool, False, id="bool-zero"),
        pytest.param("42", int, 42, id="int"),
        pytest.param("1.5", float, 1.5, id="float"),
        pytest.param("a,b", CommaSeparatedStrings, ["a", "b"], id="comma-separated"),
        pytest.param("x", lambda v: v * 2, "xx", id="any-callable"),
    ],
)
def test_casts(raw: str, cast: Callable[[Any], Any], expected: Any) -> None:
    value = Config(environ={"K": raw})("K", cast=cast)
    assert (list(value) if isinstance(value, CommaSeparatedStrings) else value) == expected


def test_secret_cast_hides_the_value() -> None:
    key = Config(environ={"KEY": "s3cret"})("KEY", cast=Secret)
    assert isinstance(key, Secret)
    assert repr(key) == "Secret('**********')"
    assert str(key) == "s3cret"


def test_defaults_are_cast_but_non_string_bool_defaults_pass_through() -> None:
    config = Config(environ={})
    assert config("N", cast=int, default="7") == 7
    assert config("B", cast=bool, default=True) is True
    assert config("B", cast=bool, default="false") is False


@pytest.mark.parametrize(
    ("raw", "cast", "message"),
    [
        pytest.param("maybe", bool, "Config 'K' has value 'maybe'. Not a valid bool", id="bool"),
        pytest.param("abc", int, "Config 'K' could not be cast with int", id="int"),
        pytest.param("1.x", float, "Config 'K' could not be cast with float", id="float"),
    ],
)
def test_bad_casts_name_the_key(raw: str, cast: Callable[[Any], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Config(environ={"K": raw})("K", cast=cast)


def test_a_failed_cast_never_echoes_the_value() -> None:
    with pytest.raises(ValueError) as info:
        Config(environ={"TOKEN": "tok-abcdef"})("TOKEN", cast=int)
    assert "tok-abcdef" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_missing_key_names_key_prefix_and_file(tmp_path: Path) -> None:
    env_file = write(tmp_path, "OTHER=1\n")
    with pytest.raises(KeyError) as info:
        Config(env_file, environ={}, env_prefix="APP_")("DATABASE_URL")
    error = info.value
    assert isinstance(error, ConfigKeyError)
    assert error.key == "APP_DATABASE_URL"
    text = str(error)
    assert text.startswith("Config 'APP_DATABASE_URL' is missing, and has no default.")
    assert "env_prefix 'APP_'" in text
    assert str(env_file) in text


def test_missing_key_without_file_says_so() -> None:
    with pytest.raises(ConfigKeyError, match="no env_file was given"):
        Config(environ={})("X")


def test_missing_env_file_warns_and_the_error_says_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.warns(UserWarning, match="not found"):
        config = Config(missing, environ={})
    with pytest.raises(ConfigKeyError, match="does not exist"):
        config("X")


DOTENV = """\
# a comment
export EXPORTED=yes
PLAIN = spaced value
INLINE=1 # one
HASH_IN_VALUE=a#b
DOUBLE="quoted # not a comment"
ESCAPED="line\\nbreak \\"q\\" back\\\\slash"
SINGLE='literal \\n $x # kept'
EMPTY=
EQUALS=a=b=c
LATER=first
LATER=second
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("EXPORTED", "yes"),
        ("PLAIN", "spaced value"),
        ("INLINE", "1"),
        ("HASH_IN_VALUE", "a#b"),
        ("DOUBLE", "quoted # not a comment"),
        ("ESCAPED", 'line\nbreak "q" back\\slash'),
        ("SINGLE", "literal \\n $x # kept"),
        ("EMPTY", ""),
        ("EQUALS", "a=b=c"),
        ("LATER", "second"),
    ],
)
def test_dotenv_grammar(tmp_path: Path, key: str, value: str) -> None:
    assert Config(write(tmp_path, DOTENV), environ={})(key) == value


@pytest.mark.parametrize(
    ("line", "message", "key", "value"),
    [
        pytest.param("JUSTAWORD\n", "line 1: expected KEY=value", None, None, id="no-equals"),
        pytest.param('A="open\n', "double quote is not closed", "A", "open", id="open-double"),
        pytest.param("A='open\n", "single quote is not closed", "A", "open", id="open-single"),
    ],
)
def test_malformed_lines_warn_with_file_and_line(
    tmp_path: Path, line: str, message: str, key: str | None, value: str | None
) -> None:
    path = write(tmp_path, line)
    with pytest.warns(DotenvWarning, match=message) as record:
        config = Config(path, environ={})
    assert str(path) in str(record[0].message)
    if key is not None:
        assert config(key) == value
    else:
        assert config.file_values == {}


@pytest.mark.parametrize(
    "separator",
    ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"],
    ids=["VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"],
)
def test_only_newline_and_carriage_return_end_a_line(tmp_path: Path, separator: str) -> None:
    # Key injection: a value carrying a Unicode line break must not start a new key.
    path = tmp_path / ".env"
    path.write_bytes(f"NAME=alice{separator}IS_ADMIN=true\n".encode())
    config = Config(path, environ={})
    assert config.file_values == {"NAME": f"alice{separator}IS_ADMIN=true"}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_lf_crlf_and_cr_each_end_a_line(tmp_path: Path, newline: str) -> None:
    path = tmp_path / ".env"
    path.write_bytes(f"A=1{newline}B=2{newline}".encode())
    assert Config(path, environ={}).file_values == {"A": "1", "B": "2"}
