"""Run FastAPI's own test suite on flagstone, through flagstone-compat.

    hatch run downstream:fastapi                 # the whole suite, compared with the record
    hatch run downstream:fastapi --subset        # the part CI runs (tools/downstream/fastapi-subset.txt)
    hatch run downstream:fastapi --record        # rewrite the record of passing tests
    hatch run downstream:fastapi --starlette     # the same suite on the real Starlette, for comparison
    hatch run downstream:fastapi -- -k websocket # anything after -- goes to pytest
    hatch run downstream:fastapi -- tests/test_ws_router.py   # paths replace `tests`

FastAPI's tests (and the `docs_src` apps they import) ship in its sdist: the
pinned release's sdist is downloaded once into `.cache/downstream/` (pip
checks it against the index) and the suite runs there, unchanged, under
`python -m flagstone_compat pytest`, with FastAPI's own pytest configuration
(warnings are errors).

The record, `tools/downstream/fastapi-passing.txt`, lists every test that
passed when it was written.  A run fails (exit 1) when a recorded test does
not pass now, naming each one; tests that pass now but are not recorded are
counted and listed, for `--record`.  With `--subset`, only the recorded tests
inside the subset's files are held to it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / ".cache" / "downstream"
RECORD = HERE / "fastapi-passing.txt"
SUBSET = HERE / "fastapi-subset.txt"

#: The FastAPI release whose suite is run; the `downstream` environment pins the same.
FASTAPI_VERSION = "0.165.0"


@dataclass
class Outcome:
    """What one run of the suite gave, by test id (`module::test[params]`)."""

    passed: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)


def _pip() -> list[str]:
    """A pip to download with: this interpreter's, else the README's `.venv`."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    local = ROOT / ".venv" / "bin" / "pip"
    if local.exists():
        return [str(local)]
    raise SystemExit(
        "no pip to download FastAPI's sdist with: run the README's commands first (they make .venv)"
    )


def fetch(version: str) -> Path:
    """The extracted sdist of FastAPI `version` (downloaded on first use)."""
    target = CACHE / f"fastapi-{version}"
    if (target / "tests").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(
            [*_pip(), "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--dest", tmp, f"fastapi=={version}"],
            check=True,
        )  # fmt: skip
        (archive,) = Path(tmp).glob("fastapi-*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        shutil.move(str(Path(tmp) / f"fastapi-{version}"), target)
    return target


def test_id(case: ET.Element) -> str:
    """`tests/test_x.py::test_y[p]`-like id from a junit testcase (`tests.test_x::test_y[p]`)."""
    return f"{case.get('classname', '')}::{case.get('name', '')}"


def read_junit(path: Path) -> Outcome:
    outcome = Outcome()
    for case in ET.parse(path).getroot().iter("testcase"):
        ident = test_id(case)
        failure = case.find("failure")
        error = case.find("error")
        if failure is not None:
            outcome.failed[ident] = (failure.get("message") or "")[:300]
        elif error is not None:
            outcome.errors[ident] = (error.get("message") or "")[:300]
        elif case.find("skipped") is not None:
            outcome.skipped.add(ident)
        else:
            outcome.passed.add(ident)
    return outcome


def subset_paths() -> list[str]:
    lines = SUBSET.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def in_subset(ident: str, paths: list[str]) -> bool:
    owner = ident.split("::", 1)[0]  # the module, or module.Class for a test in a class
    for path in paths:
        module = path.removesuffix(".py").replace("/", ".")
        if owner == module or owner.startswith(module + "."):
            return True
    return False


def run_suite(source: Path, paths: list[str], real_starlette: bool, extra: list[str]) -> Outcome:
    junit = CACHE / "last-run.xml"
    layer = [] if real_starlette else ["-m", "flagstone_compat"]
    command = [
        sys.executable, *layer, "pytest", *paths, "-q", "-p", "no:cacheprovider",
        "--junitxml", str(junit), "-o", "junit_family=xunit1", *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("FLAGSTONE_COMPAT", "PYTHONPATH")}
    print("$ (cd", source, "&&", " ".join(command), ")", flush=True)
    started = time.monotonic()
    subprocess.run(command, cwd=source, env=env, check=False)
    print(f"suite ran in {time.monotonic() - started:.0f} s", flush=True)
    return read_junit(junit)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subset", action="store_true", help="run the CI subset only")
    parser.add_argument("--record", action="store_true", help="rewrite the record of passing tests")
    parser.add_argument(
        "--starlette", action="store_true", help="run on the real Starlette (no layer)"
    )
    parser.add_argument("-n", dest="workers", default=None, help="pytest-xdist workers")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.record and (args.subset or args.starlette or args.pytest_args):
        parser.error(
            "--record needs a whole run on flagstone (no --subset, --starlette or filters)"
        )

    source = fetch(FASTAPI_VERSION)
    # Paths among the pytest arguments replace the default selection.
    chosen = [a for a in args.pytest_args if not a.startswith("-") and a.startswith("tests")]
    extra = [a for a in args.pytest_args if a not in chosen]
    paths = subset_paths() if args.subset else chosen or ["tests"]
    if args.workers:
        extra += ["-n", args.workers]
    outcome = run_suite(source, paths, args.starlette, extra)
    total = len(outcome.passed) + len(outcome.failed) + len(outcome.errors) + len(outcome.skipped)
    where = "Starlette" if args.starlette else "flagstone (flagstone_compat)"
    print(
        f"FastAPI {FASTAPI_VERSION} on {where}: {len(outcome.passed)} passed, "
        f"{len(outcome.failed)} failed, {len(outcome.errors)} errors, "
        f"{len(outcome.skipped)} skipped, of {total}"
    )
    for ident, message in sorted({**outcome.failed, **outcome.errors}.items()):
        print(f"  not passing: {ident}: {message.splitlines()[0] if message else ''}")

    if args.record:
        RECORD.write_text(
            f"# FastAPI {FASTAPI_VERSION}: tests that pass on flagstone through flagstone_compat.\n"
            "# Written by `hatch run downstream:fastapi --record`; one test id a line.\n"
            + "".join(f"{ident}\n" for ident in sorted(outcome.passed))
        )
        print(f"recorded {len(outcome.passed)} passing tests in {RECORD.relative_to(ROOT)}")
        return 0
    if args.starlette:
        return 0
    recorded = read_record(RECORD)
    lost, new = compare(recorded, outcome, paths if args.subset else None, bool(args.pytest_args))
    print(f"record: {len(recorded)} tests expected to pass; {len(new)} pass that are not recorded")
    if lost:
        print(f"REGRESSION: {len(lost)} recorded test(s) no longer pass:")
        for ident in lost:
            print(f"  {ident}")
        return 1
    return 0


def read_record(path: Path) -> set[str]:
    """The test ids a record file lists."""
    return {line for line in path.read_text().splitlines() if line and not line.startswith("#")}


def compare(
    recorded: set[str], outcome: Outcome, subset: list[str] | None, filtered: bool
) -> tuple[list[str], list[str]]:
    """(recorded tests that did not pass, passing tests not recorded).

    With a subset, only recorded tests in its files count; with a pytest
    filter (`-k`), only recorded tests that ran.
    """
    if subset is not None:
        recorded = {ident for ident in recorded if in_subset(ident, subset)}
    ran = _seen(outcome)
    lost = sorted(i for i in recorded - outcome.passed if not filtered or i in ran)
    return lost, sorted(outcome.passed - recorded)


def _seen(outcome: Outcome) -> set[str]:
    return outcome.passed | set(outcome.failed) | set(outcome.errors) | outcome.skipped


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
