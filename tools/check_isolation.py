"""Isolation check: each package's tests pass with only its declared dependencies.

Each package has a hatch environment `iso-<name>` (root pyproject.toml) that
installs that package, the siblings it declares (resolved through the
workspace) and the test runner, nothing else.  This runs every one of them,
after first checking that no undeclared flagstone package slipped into the
environment, and prints one line per package.
Run: `python tools/check_isolation.py [name ...]`; exit status 1 on a failure.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, Package, packages

PROBE = """
import importlib.util, sys
allowed = set(sys.argv[1].split(","))
names = sys.argv[2].split(",")
extra = [n for n in names if n not in allowed and importlib.util.find_spec(n)]
print(",".join(extra))
"""


def declared_siblings(pkg: Package, all_pkgs: list[Package]) -> set[str]:
    """The flagstone import names `pkg` declares directly in `[project] dependencies`."""
    import tomllib

    data = tomllib.loads((pkg.folder / "pyproject.toml").read_text())
    deps = " ".join(data["project"].get("dependencies", []))
    declared = {p.import_name for p in all_pkgs if p.dist + ">" in deps.replace(" ", "")}
    declared |= {p.import_name for p in all_pkgs if p.dist + "[" in deps}
    return declared


def allowed_imports(pkg: Package, all_pkgs: list[Package]) -> set[str]:
    """The flagstone import names an isolated env for `pkg` may contain.

    Declared siblings and, transitively, theirs: staticfiles declares
    requests, which declares config, so config is legitimately installed.
    """
    if pkg.import_name == "flagstone":
        return {p.import_name for p in all_pkgs}
    by_name = {p.import_name: p for p in all_pkgs}
    allowed = {pkg.import_name}
    pending = [pkg]
    while pending:
        for name in declared_siblings(pending.pop(), all_pkgs) - allowed:
            allowed.add(name)
            pending.append(by_name[name])
    return allowed


def hatch_command() -> list[str]:
    """How to call hatch from here: this interpreter's, else the one on PATH.

    Inside a hatch environment (`hatch run tools:isolation`) hatch itself is
    not importable, but the hatch that started us is on PATH.
    """
    if importlib.util.find_spec("hatch") is not None:
        return [sys.executable, "-m", "hatch"]
    found = shutil.which("hatch")
    if found is None:
        raise SystemExit("check_isolation needs hatch: python -m pip install 'hatch>=1.18.2'")
    return [found]


def run(pkg: Package, all_pkgs: list[Package]) -> tuple[bool, str]:
    env = f"iso-{pkg.short}"
    hatch = hatch_command()
    allowed = ",".join(sorted(allowed_imports(pkg, all_pkgs)))
    names = ",".join(p.import_name for p in all_pkgs)
    probe = subprocess.run(
        [*hatch, "run", f"{env}:python", "-c", PROBE, allowed, names],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        return False, f"could not create {env}: {probe.stderr.strip()[-500:]}"
    extra = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else ""
    if extra:
        return False, f"{env} contains undeclared flagstone packages: {extra}"
    tests = subprocess.run(
        [*hatch, "run", f"{env}:run", "-q", "-p", "no:randomly"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [line for line in tests.stdout.strip().splitlines() if line.strip()]
    summary = lines[-1] if lines else tests.stderr.strip()[-300:]
    if tests.returncode != 0:
        return False, summary + "\n" + tests.stdout[-3000:]
    return True, summary


def main(argv: list[str]) -> int:
    all_pkgs = packages()
    chosen = [p for p in all_pkgs if not argv or p.short in argv]
    failed = 0
    for pkg in chosen:
        start = time.monotonic()
        ok, summary = run(pkg, all_pkgs)
        failed += not ok
        status = "ok  " if ok else "FAIL"
        print(f"{status} iso-{pkg.short:<11} {time.monotonic() - start:6.1f}s  {summary}")
    print(f"isolation: {len(chosen) - failed}/{len(chosen)} packages pass alone")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
