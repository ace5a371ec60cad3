"""`Secret` hides its value everywhere but `str`; `CommaSeparatedStrings` splits like a shell."""

from __future__ import annotations

import logging
import pickle
import traceback
from dataclasses import dataclass

import pytest

from flagstone_config import CommaSeparatedStrings, Secret

VALUE = "hunter2-very-secret"


def test_repr_is_masked_and_str_reveals_as_in_starlette() -> None:
    secret = Secret(VALUE)
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == VALUE
    assert secret
    assert not Secret("")


@dataclass
class Settings:
    key: Secret


@pytest.mark.parametrize(
    "container",
    [
        pytest.param(lambda s: [s], id="list"),
        pytest.param(lambda s: (s, 1), id="tuple"),
        pytest.param(lambda s: {"key": s}, id="dict"),
        pytest.param(lambda s: {s}, id="set"),
        pytest.param(lambda s: Settings(s), id="dataclass"),
    ],
)
def test_containers_never_show_the_value(container: object) -> None:
    held = container(Secret(VALUE))  # type: ignore[operator]
    assert VALUE not in repr(held)
    assert VALUE not in str(held)
    assert "**********" in repr(held)


def test_log_records_with_repr_hide_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %r", {"key": Secret(VALUE)})
    assert VALUE not in caplog.text


def test_tracebacks_with_captured_locals_hide_it() -> None:
    def fail(key: Secret) -> None:
        raise RuntimeError("boom")

    try:
        fail(Secret(VALUE))
    except RuntimeError as exc:
        rendered = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    assert "key = Secret('**********')" in rendered
    assert VALUE not in rendered


def test_pickle_round_trips_like_starlette() -> None:
    # Starlette's Secret pickles; settings objects sent to worker processes rely on it.
    assert str(pickle.loads(pickle.dumps(Secret(VALUE)))) == VALUE


@pytest.mark.parametrize(
    ("text", "items"),
    [
        pytest.param("a, b ,c", ["a", "b", "c"], id="spaces-stripped"),
        pytest.param("a, 'b, c'", ["a", "b, c"], id="single-quotes-group"),
        pytest.param('"x,y", z', ["x,y", "z"], id="double-quotes-group"),
        pytest.param("", [], id="empty"),
        pytest.param("one", ["one"], id="single"),
    ],
)
def test_comma_separated_strings(text: str, items: list[str]) -> None:
    css = CommaSeparatedStrings(text)
    assert list(css) == items
    assert len(css) == len(items)


def test_comma_separated_strings_repr_str_and_indexing() -> None:
    css = CommaSeparatedStrings(["x", "y"])
    assert repr(css) == "CommaSeparatedStrings(['x', 'y'])"
    assert str(css) == "'x', 'y'"
    assert css[1] == "y"
    assert list(css[:1]) == ["x"]
