"""Isolation check: each package's tests pass with only its declared dependencies.

Each package has a hatch environment `iso-<name>` (root pyproject.toml) that
installs that package, the siblings it declares (resolved through the
workspace) and the test runner, nothing else; a variant `iso-<name>-<what>`
runs the same package another way (`iso-testclient-httpx`: httpx, no httpx2).
This runs every `iso-*` environment the root pyproject.toml defines, after
first checking that no undeclared flagstone package slipped into it, and
prints one line each.  A package without an `iso-<name>` environment fails.

`--python 3.12` runs them on that Python: hatch takes the interpreter from
HATCH_PYTHON and keeps these environments apart from the default ones (a
data directory per version).  The interpreter is found as hatch finds one
(`python3.12` on PATH), or else in pyenv's versions folder, whose shims
answer only for the selected version.
Run: `python tools/check_isolation.py [--python X.Y] [name ...]`; exit status
1 on a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ABOVE_META, META, ROOT, Package, hatch_command, packages

PROBE = """
import importlib.util, platform, sys
allowed = set(sys.argv[1].split(","))
names = sys.argv[2].split(",")
extra = [n for n in names if n not in allowed and importlib.util.find_spec(n)]
print(platform.python_version(), ",".join(extra))
"""


def declared_siblings(pkg: Package, all_pkgs: list[Package]) -> set[str]:
    """The flagstone import names `pkg` declares directly in `[project] dependencies`."""
    deps = " ".join(pkg.pyproject["project"].get("dependencies", [])).replace(" ", "")
    return {p.import_name for p in all_pkgs if any(p.dist + c in deps for c in "[>=<~")}


def allowed_imports(pkg: Package, all_pkgs: list[Package]) -> set[str]:
    """The flagstone import names an isolated env for `pkg` may contain.

    Declared siblings and, transitively, theirs: staticfiles declares
    requests, which declares config, so config is legitimately installed.
    """
    if pkg.import_name == META:
        return {p.import_name for p in all_pkgs if p.import_name not in ABOVE_META}
    if pkg.import_name in ABOVE_META:
        return {p.import_name for p in all_pkgs}
    by_name = {p.import_name: p for p in all_pkgs}
    allowed = {pkg.import_name}
    pending = [pkg]
    while pending:
        for name in declared_siblings(pending.pop(), all_pkgs) - allowed:
            allowed.add(name)
            pending.append(by_name[name])
    return allowed


def iso_envs(all_pkgs: list[Package]) -> tuple[list[tuple[str, Package]], list[str]]:
    """Every `iso-*` environment with the package it tests, and the packages without one."""
    envs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["envs"]
    names = [name for name in envs if name.startswith("iso-")]
    by_short = {p.short: p for p in all_pkgs}
    found: list[tuple[str, Package]] = []
    for name in names:
        short = name.removeprefix("iso-")
        # The longest package name that `short` is, or starts with plus "-".
        owners = [s for s in by_short if short == s or short.startswith(s + "-")]
        if owners:
            found.append((name, by_short[max(owners, key=len)]))
    missing = [f"iso-{p.short}" for p in all_pkgs if f"iso-{p.short}" not in names]
    return found, missing


def find_python(version: str) -> Path:
    """An interpreter for `version` ("3.12"): on PATH as hatch looks, else pyenv's."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))

    def patch_level(python: Path) -> int:
        patch = python.parent.parent.name.split(".")[2]
        return int(patch) if patch.isdigit() else -1  # 3.13.0a1 and such last

    installed = (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}")
    candidates += sorted(installed, key=patch_level, reverse=True)
    for candidate in candidates:
        answer = subprocess.run(
            [str(candidate), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if answer.returncode == 0 and answer.stdout.startswith(version + "."):
            return candidate
    raise SystemExit(
        f"no Python {version} found (python{version} on PATH, or pyenv's "
        f"{pyenv_root}/versions/{version}.*): install it, e.g. `pyenv install {version}`"
    )


def python_environ(version: str | None) -> dict[str, str]:
    """The environment for hatch: default, or one Python version's own interpreter and envs."""
    env = dict(os.environ)
    if version is None:
        return env
    data = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    env["HATCH_PYTHON"] = str(find_python(version))
    env["HATCH_DATA_DIR"] = str(data / "hatch-matrix" / f"py{version}")
    return env


def run(
    env_name: str, pkg: Package, all_pkgs: list[Package], environ: dict[str, str]
) -> tuple[bool, str]:
    hatch = hatch_command()
    allowed = ",".join(sorted(allowed_imports(pkg, all_pkgs)))
    names = ",".join(p.import_name for p in all_pkgs)
    probe = subprocess.run(
        [*hatch, "run", f"{env_name}:python", "-c", PROBE, allowed, names],
        cwd=ROOT, capture_output=True, text=True, check=False, env=environ,
    )  # fmt: skip
    if probe.returncode != 0:
        return False, f"could not create {env_name}: {probe.stderr.strip()[-500:]}"
    python, _, extra = probe.stdout.strip().splitlines()[-1].partition(" ")
    if extra:
        return False, f"{env_name} contains undeclared flagstone packages: {extra}"
    tests = subprocess.run(
        [*hatch, "run", f"{env_name}:run", "-q", "-p", "no:randomly"],
        cwd=ROOT, capture_output=True, text=True, check=False, env=environ,
    )  # fmt: skip
    lines = [line for line in tests.stdout.strip().splitlines() if line.strip()]
    summary = f"py{python}  " + (lines[-1] if lines else tests.stderr.strip()[-300:])
    if tests.returncode != 0:
        return False, summary + "\n" + tests.stdout[-3000:]
    return True, summary


def main(argv: list[str]) -> int:
    version = None
    if "--python" in argv:
        at = argv.index("--python")
        version = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    all_pkgs = packages()
    envs, missing = iso_envs(all_pkgs)
    for name in missing:
        print(f"FAIL {name:<22} no such environment: add an [tool.hatch.envs.{name}] block")
    chosen = [(n, p) for n, p in envs if not argv or p.short in argv or n in argv]
    environ = python_environ(version)
    failed = len(missing)
    for env_name, pkg in chosen:
        start = time.monotonic()
        ok, summary = run(env_name, pkg, all_pkgs, environ)
        failed += not ok
        status = "ok  " if ok else "FAIL"
        print(f"{status} {env_name:<22} {time.monotonic() - start:6.1f}s  {summary}", flush=True)
    on = f" on Python {version}" if version else ""
    print(f"isolation{on}: {len(chosen) - failed}/{len(chosen)} environments pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
