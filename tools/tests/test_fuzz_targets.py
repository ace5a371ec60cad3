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

TARGETS = ["fuzz_multipart", "fuzz_urlencoded", "fuzz_cookies", "fuzz_range"]


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
