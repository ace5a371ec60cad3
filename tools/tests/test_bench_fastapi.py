"""The FastAPI bench rows: each column in its own child, on the toolkit it is named after."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import bench_callgrind  # noqa: E402
import bench_fastapi  # noqa: E402
from bench_inprocess import Outcome, check_answers  # noqa: E402
from bench_report import Row  # noqa: E402
from bench_scenarios import FASTAPI_SCENARIOS, SCENARIOS  # noqa: E402

COLUMNS = ["raw", "starlette", "flagstone"]


def _quiet(message: str) -> None:
    pass


def test_every_column_answers_alike_and_is_timed() -> None:
    # A cell is a rate only when its child answered what raw answered.
    rows = bench_fastapi.run_framework_inprocess(
        list(FASTAPI_SCENARIOS.values()), COLUMNS, rounds=2, requests=10, progress=_quiet
    )
    for row in rows:
        for name in COLUMNS:
            cell = row.cells[name]
            assert isinstance(cell, float), f"{row.scenario.name}/{name}: {cell}"
            assert cell > 0
            assert len(row.rates[name]) == 2


def test_a_flagstone_child_started_without_the_layer_fails_its_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Started like the starlette child, FastAPI would run on Starlette: not measured.
    monkeypatch.setattr(bench_fastapi, "python_command", lambda scenario, toolkit: [sys.executable])
    [row] = bench_fastapi.run_framework_inprocess(
        [FASTAPI_SCENARIOS["fastapi-hello"]], ["flagstone"], rounds=1, requests=5, progress=_quiet
    )
    cell = row.cells["flagstone"]
    assert isinstance(cell, str)
    assert cell.startswith(
        "FAIL (build: RuntimeError: the flagstone column's process runs FastAPI on Starlette"
    )


def test_only_the_flagstone_child_goes_through_flagstone_compat() -> None:
    fastapi = FASTAPI_SCENARIOS["fastapi-json"]
    assert bench_fastapi.python_command(fastapi, "flagstone") == [
        sys.executable,
        "-m",
        "flagstone_compat",
        "python",
    ]
    assert bench_fastapi.python_command(fastapi, "starlette") == [sys.executable]
    assert bench_fastapi.python_command(fastapi, "raw") == [sys.executable]
    assert bench_fastapi.python_command(SCENARIOS["hello"], "flagstone") == [sys.executable]


@pytest.mark.parametrize("toolkit", COLUMNS)
def test_callgrind_child_serves_fastapi_on_its_toolkit(toolkit: str) -> None:
    # The child valgrind runs, here without valgrind: it checks its answer against raw's.
    scenario = FASTAPI_SCENARIOS["fastapi-json"]
    done = subprocess.run(
        [
            *bench_fastapi.python_command(scenario, toolkit),
            str(BENCH / "bench_callgrind.py"),
            "--child",
            scenario.name,
            toolkit,
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_flagstone_answer_that_differs_fails_only_its_column() -> None:
    scenario = FASTAPI_SCENARIOS["fastapi-hello"]
    right = Outcome(200, {"content-type": "application/json"}, b'{"message":"Hello World"}')
    wrong = Outcome(500, {"content-type": "text/plain"}, b"Internal Server Error")
    row = Row(scenario)
    failed = check_answers(scenario, {"raw": right, "starlette": right, "flagstone": wrong}, row)
    assert failed == ["flagstone"]
    assert list(row.cells) == ["flagstone"]
    assert str(row.cells["flagstone"]).startswith("FAIL (differs from raw: status 500 != 200")
    # A starlette column differing from raw is a harness bug: every column fails.
    row = Row(scenario)
    failed = check_answers(scenario, {"raw": right, "starlette": wrong, "flagstone": right}, row)
    assert sorted(failed) == sorted(COLUMNS)
    assert all(str(cell).startswith("FAIL") for cell in row.cells.values())


def test_framework_fingerprint_follows_the_framework_app_file() -> None:
    plain = bench_callgrind.fingerprint("starlette")
    fastapi = bench_callgrind.fingerprint("starlette", "fastapi")
    assert fastapi == bench_callgrind.fingerprint("starlette", "fastapi")
    assert fastapi != plain
    assert bench_callgrind.fingerprint("raw", "fastapi") != fastapi
