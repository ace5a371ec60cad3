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

Because the count is deterministic, child runs are independent of each
other and of the machine's load: they run `jobs` at a time, and with a cache
directory a child's total is stored under a fingerprint of everything that
can change it (the harness and the toolkit's app file, every installed
distribution's version, the Python and valgrind versions, and for flagstone
the source of every package in the tree). A later run reuses a total only
when that fingerprint is unchanged, so iterating on flagstone re-measures
only the flagstone column; the table says how many totals it reused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import apps_raw  # noqa: E402
from bench_fastapi import app_builder, python_command, unavailable  # noqa: E402
from bench_inprocess import Exchange, _prepare, compare, scope_for  # noqa: E402
from bench_report import Row, Toolkit  # noqa: E402
from bench_scenarios import FASTAPI_SCENARIOS, MICRO_SCENARIO, SCENARIOS, Scenario  # noqa: E402

from flagstone_contract import ASGIApp  # noqa: E402

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


def _settle_garbage() -> None:
    """Collect, then freeze what survived start-up and the warm-up request.

    The app's long-lived objects (a 1,000-route table, compiled patterns)
    would otherwise be traversed by whichever full collection happens to
    fall inside the timed requests, so the LOW and HIGH runs would differ
    by millions of instructions at random.  Frozen, they are never
    traversed again, and a collection costs what the requests allocated.
    """
    gc.collect()
    gc.freeze()


def _child(scenario_name: str, toolkit_name: str, count: int) -> None:
    """Build the app, warm it up, then serve `count` requests (run under valgrind).

    A framework scenario's app comes from `bench_fastapi.app_builder`: the
    flagstone column's child was started through flagstone-compat
    (`python_command`), and the builder checks that it was.
    """
    if scenario_name == MICRO_SCENARIO.name:
        toolkit: Toolkit = importlib.import_module(f"apps_{toolkit_name}")
        scope = scope_for(MICRO_SCENARIO)
        scope["path_params"] = {"user_id": 42}
        read = toolkit.read_request()
        read(dict(scope))
        _settle_garbage()
        for _ in range(count):
            read(dict(scope))
        return
    build: Callable[[Scenario], ASGIApp]
    if scenario_name in FASTAPI_SCENARIOS:
        scenario = FASTAPI_SCENARIOS[scenario_name]
        build = app_builder(toolkit_name)
    else:
        scenario = SCENARIOS[scenario_name]
        toolkit = importlib.import_module(f"apps_{toolkit_name}")
        build = toolkit.build

    async def serve() -> None:
        prepared = await _prepare(scenario, build(scenario))
        if toolkit_name != "raw":
            # Checked as in-process: a wrong answer is not counted.
            floor = await _prepare(scenario, apps_raw.build(scenario))
            problems = compare(scenario, floor.outcome, prepared.outcome)
            if problems:
                raise SystemExit(f"answer differs from raw: {'; '.join(problems)}")
        _settle_garbage()
        for _ in range(count):
            exchange = Exchange(prepared.incoming)
            await prepared.app(dict(prepared.scope), exchange.receive, exchange.send)

    asyncio.run(serve())


REPO = HERE.parent.parent
_HARNESS = ("bench_callgrind.py", "bench_inprocess.py", "bench_scenarios.py")


def _digest_files(digest: Any, paths: Sequence[Path]) -> None:
    for path in sorted(paths):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")


def _app_files(toolkit: str, framework: str | None) -> list[str]:
    if framework is None:
        return [f"apps_{toolkit}.py"]
    # A framework scenario: its children and the framework's apps (raw's floor).
    return [f"bench_{framework}.py", "apps_raw.py" if toolkit == "raw" else f"apps_{framework}.py"]


def fingerprint(toolkit: str, framework: str | None = None) -> str:
    """What a child's instruction total depends on, as a hex digest.

    The harness files and the toolkit's app file (for a framework
    scenario, the framework's app file and child code); the name and version of
    every installed distribution (Starlette, anyio, python-multipart...);
    the Python build and the valgrind version; and for flagstone, whose
    packages are installed editable (so their versions do not move with
    the code), the content of every source file under `packages/`.
    """
    digest = hashlib.sha256()
    _digest_files(digest, [HERE / name for name in (*_HARNESS, *_app_files(toolkit, framework))])
    versions = sorted(
        f"{dist.metadata['Name']}=={dist.version}" for dist in importlib.metadata.distributions()
    )
    digest.update("\n".join(versions).encode())
    digest.update(sys.version.encode() + platform.machine().encode())
    valgrind = (
        subprocess.run(
            ["valgrind", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if callgrind_available()
        else "no valgrind"
    )
    digest.update(valgrind.encode())
    if toolkit == "flagstone":
        _digest_files(digest, list((REPO / "packages").glob("*/src/**/*.py")))
    return digest.hexdigest()


class TotalsCache:
    """Child totals stored by (scenario, toolkit, count, fingerprint) in one JSON file."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / "totals.json" if directory is not None else None
        self.totals: dict[str, int] = {}
        if self.path is not None and self.path.exists():
            self.totals = json.loads(self.path.read_text())
        self.reused = 0

    @staticmethod
    def key(scenario: str, toolkit: str, count: int, print_: str) -> str:
        return f"{scenario}/{toolkit}/{count}/{print_}"

    def get(self, key: str) -> int | None:
        return self.totals.get(key)

    def put(self, key: str, total: int) -> None:
        self.totals[key] = total
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.totals, indent=0, sort_keys=True))
            tmp.replace(self.path)


def _instructions(scenario: Scenario, toolkit: str, count: int) -> int:
    """Total instructions (Ir) of one child run with `count` timed requests."""
    with tempfile.TemporaryDirectory(prefix="flagstone-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            # The flagstone column of a framework scenario: through flagstone-compat.
            *python_command(scenario, toolkit),
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
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
) -> list[Row]:
    """Instructions per request for every scenario and toolkit; one Row each.

    Child runs go `jobs` at a time (their counts do not depend on load);
    with `cache_dir`, totals whose fingerprint is unchanged are reused and
    the row says so.
    """
    cache = TotalsCache(cache_dir)
    frameworks = {scenario.framework for scenario in scenarios}
    prints = (
        {(name, kind): fingerprint(name, kind) for name in toolkits for kind in frameworks}
        if cache_dir is not None
        else {}
    )
    rows: list[Row] = []
    pending: dict[tuple[str, str, int], concurrent.futures.Future[int]] = {}
    reused: dict[str, list[str]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:

        def total(scenario: Scenario, name: str, count: int) -> concurrent.futures.Future[int]:
            key = cache.key(scenario.name, name, count, prints.get((name, scenario.framework), ""))
            known = cache.get(key) if cache_dir is not None else None
            done: concurrent.futures.Future[int] = concurrent.futures.Future()
            if known is not None:
                reused.setdefault(scenario.name, []).append(f"{name}@{count}")
                done.set_result(known)
                return done

            def measure() -> int:
                progress(f"callgrind: {scenario.name} / {name} x {count}")
                value = _instructions(scenario, name, count)
                if cache_dir is not None:
                    cache.put(key, value)
                return value

            return pool.submit(measure)

        for scenario in scenarios:
            row = Row(scenario)
            rows.append(row)
            low, high = _requests_for(scenario, LOW), _requests_for(scenario, HIGH)
            for name in toolkits:
                if scenario.framework is not None:
                    # Never built here: this process may have imported Starlette.
                    reason = unavailable(scenario, name)
                    if reason is not None:
                        row.cells[name] = f"n/a ({reason})"
                        continue
                else:
                    try:
                        toolkits[name].build(scenario) if scenario.kind != "micro" else None
                    except ImportError as exc:
                        row.cells[name] = f"n/a ({exc})"
                        continue
                for count in (low, high):
                    pending[(scenario.name, name, count)] = total(scenario, name, count)
        for row in rows:
            low, high = _requests_for(row.scenario, LOW), _requests_for(row.scenario, HIGH)
            for name in toolkits:
                if name in row.cells:
                    continue
                try:
                    high_total = pending[(row.scenario.name, name, high)].result()
                    low_total = pending[(row.scenario.name, name, low)].result()
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    row.cells[name] = f"FAIL ({exc})"
                    continue
                row.cells[name] = (high_total - low_total) / (high - low)
            if row.scenario.name in reused:
                kits = sorted({entry.split("@")[0] for entry in reused[row.scenario.name]})
                row.notes.append(
                    f"{', '.join(kits)}: totals reused from the cache (same fingerprint: sources and versions unchanged)"
                )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit("usage: bench_callgrind.py --child SCENARIO TOOLKIT N (run by run.py)")
