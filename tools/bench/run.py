"""Benchmark flagstone beside Starlette and raw ASGI: `hatch run bench:run [options]`.

The same scenarios, written three ways (apps_raw, apps_starlette,
apps_flagstone), measured in-process (the ASGI app called directly) and
over HTTP (uvicorn on 127.0.0.1 with a bounded keep-alive load).  Prints
the median rate per toolkit and the ratios; `--markdown` prints the tables
in the form RESULTS.md keeps.  Exit status 1 when any answer was wrong.
See tools/bench/README.md for the methodology.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a script (`python tools/bench/run.py`): the sibling modules are
# imported by their plain names, so this folder must be on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fastapi import FRAMEWORK_DISTS
from bench_fastapi import variants as framework_variants
from bench_report import (
    TOOLKIT_NAMES,
    Row,
    Toolkit,
    failed,
    machine_info,
    render_table,
    write_results_section,
)
from bench_scenarios import (
    FASTAPI_SCENARIOS,
    MICRO_SCENARIO,
    SCENARIOS,
    Scenario,
    scenario_names,
)

__all__ = ["main"]


@dataclass
class _Table:
    """One printed table and its RESULTS.md section."""

    section: str
    title: str
    rows: list[Row]
    # None: a rate per scenario's own unit; else every cell's unit (instr/req).
    unit: str | None
    # The machine and version lines recorded with it.
    machine: list[str]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hatch run bench:run",
        description="Benchmark raw ASGI, Starlette and flagstone on the same scenarios.",
    )
    parser.add_argument(
        "--scenarios",
        default="all",
        help=f"comma-separated names, or 'all' (default). Names: {', '.join(scenario_names())}",
    )
    parser.add_argument(
        "--toolkits",
        default=",".join(TOOLKIT_NAMES),
        help="comma-separated subset of raw,starlette,flagstone",
    )
    parser.add_argument(
        "--mode",
        choices=("inprocess", "http", "callgrind", "both", "all"),
        default="both",
        help="both = inprocess + http (default); all = inprocess + http + callgrind",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds per toolkit; the median is reported (default 5)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=1000,
        help="in-process requests per toolkit per round (default 1000); heavy scenarios divide it by their weight (multipart 20, websocket 20, streaming 10, routes-1000 4)",
    )
    parser.add_argument(
        "--http-rounds", type=int, default=5, help="rounds in HTTP mode (default 5)"
    )
    parser.add_argument(
        "--http-requests",
        type=int,
        default=600,
        help="requests per toolkit per HTTP round (default 600, divided by weight)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=8,
        help="keep-alive connections of the HTTP load (default 8)",
    )
    parser.add_argument(
        "--client",
        choices=("python", "wrk"),
        default="python",
        help="HTTP load generator (wrk: time-bounded, needs `wrk` on PATH)",
    )
    parser.add_argument(
        "--duration", type=float, default=1.0, help="seconds per wrk run (default 1.0)"
    )
    parser.add_argument(
        "--stat",
        choices=("median", "max"),
        default="median",
        help="per-toolkit figure: median of the rounds (default) or the fastest round",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the tables as markdown (for RESULTS.md)"
    )
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="also write each table (markdown, with the command, date and machine) into its section of tools/bench/RESULTS.md",
    )
    parser.add_argument(
        "--http-impl",
        choices=("httptools", "h11", "both"),
        default="httptools",
        help="uvicorn's HTTP parser in HTTP mode (default httptools, uvicorn's own default); both = one table each",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="callgrind child runs at a time (default: the CPU count; counts do not depend on load)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="callgrind: reuse child totals stored in this directory when their fingerprint (sources and versions) is unchanged",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    for name in ("rounds", "requests", "http_rounds", "http_requests", "connections", "jobs"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}"
            )
    if not 0 < args.duration <= 60:
        parser.error(f"--duration must be in (0, 60] seconds, got {args.duration}")
    if args.client == "wrk" and args.duration != int(args.duration):
        parser.error(f"--client wrk takes whole seconds (wrk -d), got --duration {args.duration}")
    return args


def _select(spec: str) -> list[Scenario]:
    known = {**SCENARIOS, MICRO_SCENARIO.name: MICRO_SCENARIO, **FASTAPI_SCENARIOS}
    if spec == "all":
        return list(known.values())
    chosen = []
    for name in (part.strip() for part in spec.split(",") if part.strip()):
        if name in known:
            chosen.append(known[name])
        else:
            raise SystemExit(
                f"unknown scenario {name!r}; choose from: {', '.join(scenario_names())}"
            )
    return chosen


def _toolkits(spec: str) -> dict[str, Toolkit]:
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [name for name in names if name not in TOOLKIT_NAMES]
    if unknown or not names:
        raise SystemExit(f"unknown toolkit(s) {unknown}; choose from: {', '.join(TOOLKIT_NAMES)}")
    # A module is a Toolkit structurally (build, read_request, variant).
    return {
        name: importlib.import_module(f"apps_{name}") for name in TOOLKIT_NAMES if name in names
    }


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """Run the benchmark; 0 when every answer was right, 1 otherwise."""
    args = _parse(argv)
    scenarios = _select(args.scenarios)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:14} {scenario.unit:6} {scenario.description}")
        return 0
    toolkits = _toolkits(args.toolkits)
    started = time.perf_counter()
    # A framework's scenarios (FastAPI) run each column in a child process
    # and go to tables of their own.
    plain = [s for s in scenarios if s.framework is None]
    framework = [s for s in scenarios if s.framework is not None]
    variants = {name: toolkit.variant() for name, toolkit in toolkits.items()}
    machine = machine_info(variants)
    framework_machine = machine_info(framework_variants(list(toolkits)), also=FRAMEWORK_DISTS)
    tables: list[_Table] = []
    if args.mode in ("inprocess", "both", "all"):
        rounds = f"{args.stat} of {args.rounds} rounds x {args.requests} requests / weight"
        if plain:
            from bench_inprocess import run_inprocess

            rows = run_inprocess(plain, toolkits, args.rounds, args.requests, _progress)
            title = f"In-process (ASGI app called directly; {rounds})"
            tables.append(_Table("inprocess", title, rows, None, machine))
        if framework:
            from bench_fastapi import run_framework_inprocess

            rows = run_framework_inprocess(
                framework, list(toolkits), args.rounds, args.requests, _progress
            )
            title = f"FastAPI in-process (one FastAPI app on Starlette and on flagstone, each column in its own child process, the ASGI app called directly; {rounds})"
            tables.append(_Table("fastapi-inprocess", title, rows, None, framework_machine))
    http_scenarios = [s for s in plain if s.kind != "micro"]
    if args.mode in ("http", "both", "all") and framework:
        _progress(
            f"HTTP: {', '.join(s.name for s in framework)} left out (in-process and callgrind only)"
        )
    if args.mode in ("http", "both", "all") and http_scenarios:
        from bench_http import run_http

        load = (
            f"wrk, {args.duration:g} s"
            if args.client == "wrk"
            else f"{args.http_requests} requests / weight"
        )
        impls = ("httptools", "h11") if args.http_impl == "both" else (args.http_impl,)
        for impl in impls:
            rows = run_http(http_scenarios, list(toolkits), args, _progress, impl)
            title = f"HTTP (uvicorn with {impl} on 127.0.0.1, {args.connections} keep-alive connections, {args.stat} of {args.http_rounds} rounds x {load})"
            # httptools keeps the section name earlier runs wrote.
            section = "http" if impl == "httptools" else f"http-{impl}"
            tables.append(_Table(section, title, rows, None, machine))
    if args.mode in ("callgrind", "all"):
        from bench_callgrind import CALLGRIND_INSTALL_HINT, callgrind_available, run_callgrind

        if not callgrind_available():
            raise SystemExit(CALLGRIND_INSTALL_HINT)
        # One call for every scenario: the child runs share the job pool.
        rows = run_callgrind(scenarios, toolkits, _progress, jobs=args.jobs, cache_dir=args.cache)
        plain_rows = [row for row in rows if row.scenario.framework is None]
        framework_rows = [row for row in rows if row.scenario.framework is not None]
        lower = "lower is better, flagstone/starlette 0.5x = twice as fast"
        if plain_rows:
            title = f"Callgrind (instructions per request, in-process, ASGI spec 2.3; {lower})"
            tables.append(_Table("callgrind", title, plain_rows, "instr/req", machine))
        if framework_rows:
            title = f"FastAPI callgrind (instructions per request, in-process, ASGI spec 2.3, each column in its own child process; {lower})"
            tables.append(
                _Table("fastapi-callgrind", title, framework_rows, "instr/req", framework_machine)
            )
    for table in tables:
        if table.unit is None:
            for row in table.rows:
                row.use_statistic(args.stat)
    names = list(toolkits)
    prefix = "- " if args.markdown else ""
    print("\n".join(prefix + line for line in machine))
    print()
    for table in tables:
        # A FastAPI table names what its columns run on (the lines the others lack).
        extra = [line for line in table.machine if line not in machine]
        if extra:
            print("\n".join(prefix + line for line in extra) + "\n")
        print(render_table(table.title, table.rows, names, args.markdown, table.unit))
    if args.write_results:
        command = "hatch run bench:run " + shlex.join(argv)
        today = datetime.date.today().isoformat()
        for table in tables:
            text = "\n".join(
                [
                    f"Recorded {today} by `{command}`.",
                    "",
                    *[f"- {line}" for line in table.machine],
                    "",
                    render_table(table.title, table.rows, names, True, table.unit),
                ]
            )
            write_results_section(table.section, text)
        print(f"wrote {len(tables)} section(s) of tools/bench/RESULTS.md", file=sys.stderr)
    wrong = [
        (row.scenario.name, name, cell)
        for table in tables
        for row in table.rows
        for name, cell in row.cells.items()
        if failed(cell)
    ]
    for scenario_name, name, cell in wrong:
        print(f"WRONG ANSWER: {scenario_name} / {name}: {cell}", file=sys.stderr)
    print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
