"""Results, the toolkit protocol, and the tables the runner prints."""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Protocol

from bench_scenarios import Scenario

from flagstone_contract import ASGIApp, Scope

__all__ = [
    "RESULTS_PATH",
    "TOOLKIT_NAMES",
    "Cell",
    "Row",
    "Toolkit",
    "failed",
    "machine_info",
    "NOISY_SPREAD",
    "render_table",
    "write_results_section",
]

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"

TOOLKIT_NAMES = ("raw", "starlette", "flagstone")
# Rounds further apart than this (relative to their median) are flagged.
NOISY_SPREAD = 0.3

# A measured rate (operations per second), or why there is none:
# "n/a (...)" for a toolkit that cannot build the scenario (a package not
# written yet), "FAIL (...)" for a wrong answer or an exception.
Cell = float | str


class Toolkit(Protocol):
    """What each `apps_*` module provides."""

    def build(self, scenario: Scenario) -> ASGIApp:
        """The ASGI app of `scenario`."""
        ...

    def read_request(self) -> Callable[[Scope], tuple[str, str, object]]:
        """The request micro-benchmark's reader."""
        ...

    def variant(self) -> str:
        """A one-line description of what the apps run on."""
        ...


@dataclass
class Row:
    """One scenario's cells, by toolkit name."""

    scenario: Scenario
    cells: dict[str, Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Per toolkit: (slowest - fastest round) / median, to tell a real
    # difference from a neighbour's burst on the shared machine.
    spread: dict[str, float] = field(default_factory=dict)

    # Per toolkit: the rate of every round, kept for `use_statistic`.
    rates: dict[str, list[float]] = field(default_factory=dict)

    def record(self, toolkit: str, counts: Sequence[int], seconds: Sequence[float]) -> None:
        """Store the median rate of the rounds and how far apart the rounds were."""
        rates = [count / max(elapsed, 1e-9) for count, elapsed in zip(counts, seconds, strict=True)]
        median = statistics.median(rates)
        self.rates[toolkit] = rates
        self.cells[toolkit] = median
        self.spread[toolkit] = (max(rates) - min(rates)) / median if median > 0 else 0.0

    def use_statistic(self, statistic: str) -> None:
        """Report `median` (default) or `max` of the rounds.

        `max` (the fastest round) suits a busy shared machine: a neighbour
        can only slow a round down, so the fastest one is the closest to
        what the code can do; the median says what a typical round got.
        """
        if statistic == "max":
            for toolkit, rates in self.rates.items():
                self.cells[toolkit] = max(rates)


def failed(cell: Cell) -> bool:
    """True for a wrong answer (as opposed to a rate or a not-yet-available toolkit)."""
    return isinstance(cell, str) and cell.startswith("FAIL")


def _ratio(top: Cell | None, bottom: Cell | None) -> str:
    if isinstance(top, float) and isinstance(bottom, float) and bottom > 0:
        value = top / bottom
        return f"{value:.2f}x" if value >= 0.1 else f"{value:.3f}x"
    return "-"


class _Footnotes:
    """Long cell texts ("n/a (...)", "FAIL (...)") become `n/a [1]` plus a numbered note."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}
        self.where: dict[str, list[str]] = {}

    def cell(self, cell: Cell | None, place: str) -> str:
        if cell is None:
            return "-"
        if isinstance(cell, float):
            return f"{cell:,.0f}"
        number = self.texts.setdefault(cell, len(self.texts) + 1)
        self.where.setdefault(cell, []).append(place)
        return f"{cell.split(' ', 1)[0]} [{number}]"

    def lines(self) -> list[str]:
        return [
            f"[{number}] {', '.join(self.where[text])}: {text}"
            for text, number in self.texts.items()
        ]


def render_table(
    title: str,
    rows: Sequence[Row],
    toolkits: Sequence[str],
    markdown: bool,
    unit: str | None = None,
) -> str:
    """The results as a table: figures per toolkit, then the ratios that matter.

    `unit` replaces every scenario's own unit (the callgrind table counts
    instructions per request, not operations per second).
    """
    ratios = [("starlette", "raw"), ("flagstone", "starlette"), ("flagstone", "raw")]
    ratios = [(a, b) for a, b in ratios if a in toolkits and b in toolkits]
    header = ["scenario", "unit", *toolkits, *[f"{a}/{b}" for a, b in ratios]]
    footnotes = _Footnotes()
    lines = [
        [row.scenario.name, unit or row.scenario.unit]
        + [footnotes.cell(row.cells.get(t), f"{row.scenario.name}/{t}") for t in toolkits]
        + [_ratio(row.cells.get(a), row.cells.get(b)) for a, b in ratios]
        for row in rows
    ]
    notes = footnotes.lines() + _grouped_notes(rows)
    noisy = [
        f"{row.scenario.name}/{name} {value:.0%}"
        for row in rows
        for name, value in row.spread.items()
        if value > NOISY_SPREAD
    ]
    if noisy:
        notes.append(
            f"noisy (rounds spread > {NOISY_SPREAD:.0%} of the median): {', '.join(noisy)}"
        )
    if markdown:
        out = [f"### {title}", "", "| " + " | ".join(header) + " |"]
        out.append("|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|")
        out += ["| " + " | ".join(line) + " |" for line in lines]
        out += ["", *[f"- {note.replace('|', '/')}" for note in notes]] if notes else []
        return "\n".join(out) + "\n"
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    out = [title, "=" * len(title)]
    for line in [header, *lines]:
        out.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    out += ["", *notes] if notes else []
    return "\n".join(out) + "\n"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _grouped_notes(rows: Sequence[Row]) -> list[str]:
    """One line per distinct note, naming its scenarios ("every scenario" when all)."""
    by_note: dict[str, list[str]] = {}
    for row in rows:
        for note in row.notes:
            by_note.setdefault(note, []).append(row.scenario.name)
    return [
        f"{'every scenario' if len(names) == len(rows) > 1 else ', '.join(names)}: {note}"
        for note, names in by_note.items()
    ]


def _source_version(dist: str) -> str:
    # The packages are installed editable, so the installed metadata keeps the
    # version of the day the environment was built; the module's __version__
    # is the one in the tree being measured.
    try:
        module = importlib.import_module(dist.replace("-", "_"))
    except ImportError:
        return _version(dist)
    return str(getattr(module, "__version__", _version(dist)))


def _commit() -> str:
    """The measured tree's commit, `-dirty` when packages/ or tools/ have changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "packages", "tools"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def machine_info(variants: dict[str, str], also: Sequence[str] = ()) -> list[str]:
    """Where and with what the figures were taken (`also`: more distributions to name)."""
    lines = [
        f"machine: {os.cpu_count()} CPUs (nproc), {_cpu_model()}, {platform.system()} {platform.release()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        "versions: "
        + ", ".join(
            f"{d} {_version(d)}"
            for d in ("starlette", "uvicorn", "httptools", "uvloop", "websockets", *also)
        ),
    ]
    # Every installed flagstone distribution, so a new package shows up too.
    flagstone = sorted(
        {
            dist.metadata["Name"]
            for dist in metadata.distributions()
            if (dist.metadata["Name"] or "").startswith("flagstone")
        }
    )
    lines.append("flagstone versions: " + ", ".join(f"{d} {_source_version(d)}" for d in flagstone))
    lines.append(f"commit: {_commit()}")
    lines += [f"{name}: {text}" for name, text in variants.items()]
    return lines


def write_results_section(name: str, text: str, path: Path = RESULTS_PATH) -> None:
    """Put `text` into RESULTS.md between the markers of section `name`.

    The bench writes its own tables (`--write-results`), so the recorded
    figures are exactly what a run printed, never hand-edited.  A section
    is delimited by `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; it is
    replaced in place, or appended at the end the first time.
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1]
        updated = before + block + after
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(updated, encoding="utf-8")
