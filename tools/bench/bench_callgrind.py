"""Callgrind mode: instructions per request, a figure a busy machine cannot move.

Wall-clock rounds on a shared 2-core machine spread 30-170 %; the number of
instructions the CPU executes for one request does not depend on what the
other core is doing.  For each scenario and toolkit this runs the same
child process twice under `valgrind --tool=callgrind` — once with `LOW`
timed requests, once with `HIGH` — and reports

    (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW)

so interpreter start-up, imports, app construction and the warm-up request
(identical in both runs) cancel out.  `PYTHONHASHSEED` is fixed so that set
and dict layouts, and with them the instruction counts, repeat exactly.

The child (`python bench_callgrind.py --child SCENARIO TOOLKIT N`) reuses the
in-process harness: the same scope, the same server-shaped receive/send.
valgrind comes from the distribution (`apt-get install valgrind`).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_inprocess import Exchange, _prepare, scope_for  # noqa: E402
from bench_report import Row, Toolkit  # noqa: E402
from bench_scenarios import MICRO_SCENARIO, SCENARIOS, Scenario  # noqa: E402

__all__ = ["CALLGRIND_INSTALL_HINT", "callgrind_available", "run_callgrind"]

CALLGRIND_INSTALL_HINT = "valgrind is not installed: apt-get install valgrind"
# Two request counts per measurement: their difference is what is counted.
LOW, HIGH = 20, 220
# Under callgrind Python runs ~50x slower; a child that takes longer than
# this is reported as a failed cell rather than stalling the run.
CHILD_TIMEOUT = 900.0


def callgrind_available() -> bool:
    """True when `valgrind` is on PATH."""
    return shutil.which("valgrind") is not None


def _requests_for(scenario: Scenario, count: int) -> int:
    # Heavy scenarios (1 MiB uploads, 100-echo websockets) would take minutes
    # under valgrind at the full count; their weight divides it as in the
    # wall-clock mode, and the per-request figure is unaffected.
    return max(2, count // scenario.weight)


def _child(scenario_name: str, toolkit_name: str, count: int) -> None:
    """Build the app, warm it up, then serve `count` requests (run under valgrind)."""
    toolkit: Toolkit = importlib.import_module(f"apps_{toolkit_name}")
    if scenario_name == MICRO_SCENARIO.name:
        scope = scope_for(MICRO_SCENARIO)
        scope["path_params"] = {"user_id": 42}
        read = toolkit.read_request()
        read(dict(scope))
        for _ in range(count):
            read(dict(scope))
        return
    scenario = SCENARIOS[scenario_name]

    async def serve() -> None:
        prepared = await _prepare(scenario, toolkit.build(scenario))
        for _ in range(count):
            exchange = Exchange(prepared.incoming)
            await prepared.app(dict(prepared.scope), exchange.receive, exchange.send)

    asyncio.run(serve())


def _instructions(scenario: Scenario, toolkit: str, count: int) -> int:
    """Total instructions (Ir) of one child run with `count` timed requests."""
    with tempfile.TemporaryDirectory(prefix="flagstone-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            scenario.name,
            toolkit,
            str(count),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"child exited {done.returncode}: {' | '.join(tail)}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no summary line")


def run_callgrind(
    scenarios: Sequence[Scenario],
    toolkits: dict[str, Toolkit],
    progress: Callable[[str], None],
) -> list[Row]:
    """Instructions per request for every scenario and toolkit; one Row each."""
    rows = []
    for scenario in scenarios:
        row = Row(scenario)
        low, high = _requests_for(scenario, LOW), _requests_for(scenario, HIGH)
        for name in toolkits:
            progress(f"callgrind: {scenario.name} / {name}")
            try:
                toolkits[name].build(scenario) if scenario.kind != "micro" else None
            except ImportError as exc:
                row.cells[name] = f"n/a ({exc})"
                continue
            try:
                per_request = (
                    _instructions(scenario, name, high) - _instructions(scenario, name, low)
                ) / (high - low)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                row.cells[name] = f"FAIL ({exc})"
                continue
            row.cells[name] = per_request
        rows.append(row)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit("usage: bench_callgrind.py --child SCENARIO TOOLKIT N (run by run.py)")
