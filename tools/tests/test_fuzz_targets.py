"""Each fuzz target runs its own seeds and junk inputs without breaking an invariant.

The fuzzing runs themselves are on demand (`hatch run fuzz:run`); this keeps
the targets from rotting between runs.
"""

import importlib
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))

TARGETS = [
    "fuzz_multipart",
    "fuzz_urlencoded",
    "fuzz_cookies",
    "fuzz_range",
    "fuzz_json",
    "fuzz_conditional",
    "fuzz_dotenv",
]


@pytest.mark.parametrize("name", TARGETS)
def test_seeds_pass_the_target(name: str) -> None:
    target = importlib.import_module(name)
    assert target.SEEDS
    for seed in target.SEEDS:
        target.check(seed)


@pytest.mark.parametrize("name", TARGETS)
def test_junk_inputs_are_handled(name: str) -> None:
    target = importlib.import_module(name)
    for junk in (b"", b"\x00" * 64, b"\xff\xfe" * 100, b"=" * 500, b"--" * 300):
        target.check(junk)


def test_the_oracle_accepts_only_documented_client_errors() -> None:
    from fuzz_common import clean_rejection

    from flagstone_contract import HTTPException
    from flagstone_requests import ContentTooLarge, FormError, InvalidJSON

    assert clean_rejection(FormError("bad"))
    assert clean_rejection(ContentTooLarge("big", limit=1))
    assert clean_rejection(InvalidJSON(ValueError("x")))
    # A ValueError that escapes an endpoint is a 500 in production.
    assert not clean_rejection(ValueError("escaped"))
    assert not clean_rejection(LookupError("unknown encoding: base64"))
    assert not clean_rejection(HTTPException(500))


@pytest.mark.parametrize("codec", [b"base64", b"rot13", b"hex", b"zlib", b"punycode", b"undefined"])
def test_multipart_target_covers_non_text_charsets(codec: bytes) -> None:
    target = importlib.import_module("fuzz_multipart")
    assert any(b"charset=" + codec + b"\n" in seed for seed in target.SEEDS)


def test_dotenv_target_catches_a_key_smuggled_by_a_unicode_line_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from fuzz_common import InvariantBroken

    from flagstone_config import _dotenv

    target = importlib.import_module("fuzz_dotenv")
    smuggling = next(seed for seed in target.SEEDS if b"\x0cIS_ADMIN=true" in seed)
    target.check(smuggling)
    # The parser as it was before issue 27 (`str.splitlines()`) breaks the invariant.
    monkeypatch.setattr(_dotenv, "_LINE_BREAK", SimpleNamespace(split=str.splitlines))
    with pytest.raises(InvariantBroken, match="IS_ADMIN"):
        target.check(smuggling)
