"""The FastAPI downstream runner: reading pytest's results, and what counts as a regression."""

import re
import sys
import tomllib
from pathlib import Path

DOWNSTREAM = Path(__file__).resolve().parents[1] / "downstream"
sys.path.insert(0, str(DOWNSTREAM))

import fastapi_suite  # noqa: E402

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" />
<testcase classname="tests.test_a" name="test_param[x]" />
<testcase classname="tests.test_b" name="test_broken"><failure message="assert 1 == 2">tb</failure></testcase>
<testcase classname="tests.test_b" name="test_skip"><skipped message="no" /></testcase>
<testcase classname="tests.sub.test_c" name="test_err"><error message="fixture blew up">tb</error></testcase>
</testsuite></testsuites>
"""


def test_read_junit_sorts_every_outcome(tmp_path: Path) -> None:
    path = tmp_path / "run.xml"
    path.write_text(JUNIT)
    outcome = fastapi_suite.read_junit(path)
    assert outcome.passed == {"tests.test_a::test_ok", "tests.test_a::test_param[x]"}
    assert outcome.failed == {"tests.test_b::test_broken": "assert 1 == 2"}
    assert outcome.skipped == {"tests.test_b::test_skip"}
    assert outcome.errors == {"tests.sub.test_c::test_err": "fixture blew up"}


def test_a_recorded_test_that_fails_is_a_regression_and_new_passes_are_listed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.xml"
    path.write_text(JUNIT)
    outcome = fastapi_suite.read_junit(path)
    recorded = {"tests.test_a::test_ok", "tests.test_b::test_broken", "tests.test_gone::test_x"}
    lost, new = fastapi_suite.compare(recorded, outcome, None, filtered=False)
    assert lost == ["tests.test_b::test_broken", "tests.test_gone::test_x"]
    assert new == ["tests.test_a::test_param[x]"]
    # Filtered with -k: a recorded test that did not run is not a regression.
    lost, _ = fastapi_suite.compare(recorded, outcome, None, filtered=True)
    assert lost == ["tests.test_b::test_broken"]


def test_a_subset_holds_only_its_own_files_to_the_record(tmp_path: Path) -> None:
    path = tmp_path / "run.xml"
    path.write_text(JUNIT)
    outcome = fastapi_suite.read_junit(path)
    recorded = {"tests.test_a::test_ok", "tests.test_b::test_broken", "tests.sub.test_c::test_err"}
    lost, _ = fastapi_suite.compare(
        recorded, outcome, ["tests/test_a.py", "tests/sub/test_c.py"], False
    )
    assert lost == ["tests.sub.test_c::test_err"]


def test_the_runner_and_the_environment_pin_the_same_fastapi() -> None:
    root = DOWNSTREAM.parents[1]
    envs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["envs"]
    pins = [d for d in envs["downstream"]["extra-dependencies"] if re.match(r"fastapi\b", d)]
    assert pins == [f"fastapi=={fastapi_suite.FASTAPI_VERSION}"]


def test_the_record_and_the_subset_are_well_formed() -> None:
    recorded = fastapi_suite.read_record(fastapi_suite.RECORD)
    assert len(recorded) > 5000
    assert all("::" in ident and ident.startswith("tests.") for ident in recorded)
    subset = fastapi_suite.subset_paths()
    assert subset
    assert all(p.startswith("tests/") and p.endswith(".py") for p in subset)
    covered = {i for i in recorded if fastapi_suite.in_subset(i, subset)}
    assert len(covered) > 300, "the CI subset should hold a few hundred recorded tests"
