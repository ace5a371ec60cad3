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
from pathlib import Path

# Run as a script (`python tools/bench/run.py`): the sibling modules are
# imported by their plain names, so this folder must be on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_report import (
    TOOLKIT_NAMES,
    Row,
    Toolkit,
    failed,
    machine_info,
    render_table,
    write_results_section,
)
from bench_scenarios import MICRO_SCENARIO, SCENARIOS, Scenario, scenario_names

__all__ = ["main"]


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
    if spec == "all":
        return [*SCENARIOS.values(), MICRO_SCENARIO]
    chosen = []
    for name in (part.strip() for part in spec.split(",") if part.strip()):
        if name == MICRO_SCENARIO.name:
            chosen.append(MICRO_SCENARIO)
        elif name in SCENARIOS:
            chosen.append(SCENARIOS[name])
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
    variants = {name: toolkit.variant() for name, toolkit in toolkits.items()}
    tables: list[tuple[str, str, list[Row], str | None]] = []
    if args.mode in ("inprocess", "both", "all"):
        from bench_inprocess import run_inprocess

        rows = run_inprocess(scenarios, toolkits, args.rounds, args.requests, _progress)
        title = f"In-process (ASGI app called directly; {args.stat} of {args.rounds} rounds x {args.requests} requests / weight)"
        tables.append(("inprocess", title, rows, None))
    if args.mode in ("http", "both", "all") and any(s.kind != "micro" for s in scenarios):
        from bench_http import run_http

        http_scenarios = [s for s in scenarios if s.kind != "micro"]
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
            tables.append(("http" if impl == "httptools" else f"http-{impl}", title, rows, None))
    if args.mode in ("callgrind", "all"):
        from bench_callgrind import CALLGRIND_INSTALL_HINT, callgrind_available, run_callgrind

        if not callgrind_available():
            raise SystemExit(CALLGRIND_INSTALL_HINT)
        rows = run_callgrind(scenarios, toolkits, _progress, jobs=args.jobs, cache_dir=args.cache)
        title = "Callgrind (instructions per request, in-process, ASGI spec 2.3; lower is better, flagstone/starlette 0.5x = twice as fast)"
        tables.append(("callgrind", title, rows, "instr/req"))
    for _, _, rows, unit in tables:
        if unit is None:
            for row in rows:
                row.use_statistic(args.stat)
    names = list(toolkits)
    prefix = "- " if args.markdown else ""
    machine = machine_info(variants)
    print("\n".join(prefix + line for line in machine))
    print()
    for _, title, rows, unit in tables:
        print(render_table(title, rows, names, args.markdown, unit))
    if args.write_results:
        command = "hatch run bench:run " + shlex.join(argv)
        today = datetime.date.today().isoformat()
        for section, title, rows, unit in tables:
            text = "\n".join(
                [
                    f"Recorded {today} by `{command}`.",
                    "",
                    *[f"- {line}" for line in machine],
                    "",
                    render_table(title, rows, names, True, unit),
                ]
            )
            write_results_section(section, text)
        print(f"wrote {len(tables)} section(s) of tools/bench/RESULTS.md", file=sys.stderr)
    wrong = [
        (row.scenario.name, name, cell)
        for _, _, rows, _ in tables
        for row in rows
        for name, cell in row.cells.items()
        if failed(cell)
    ]
    for scenario_name, name, cell in wrong:
        print(f"WRONG ANSWER: {scenario_name} / {name}: {cell}", file=sys.stderr)
    print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
