"""Wheelhouse check: every piece installs alone from the wheelhouse, with index-ready metadata.

1. Builds every package (found under packages/) into a temporary wheelhouse,
   as `hatch run release:wheelhouse` does.
2. Reads each wheel's METADATA: the version is `__version__`, LICENSE is in
   the wheel and named by `License-File`, the project URLs are there, and a
   classifier names each Python version CI tests.
3. For each package, in a clean virtualenv of its own, runs the install line
   its README gives first (`pip install flagstone-sessions`, `pip install
   "flagstone-testclient[httpx2]"`) with `--find-links` to the wheelhouse,
   then checks that exactly the flagstone distributions it declares came
   along (no other sibling), that httpx and httpx2 were not both pulled in,
   and that the package imports from site-packages, not the source tree.
Run: `python tools/check_wheels.py [name ...]`; exit status 1 on a failure.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import PYTHONS, ROOT, Package, packages
from check_metadata import URL_KEYS, split_requirement
from wheelhouse import artifact_prefix, build_all

INSTALL_LINE = re.compile(r"^pip install (.+?)(?:\s+#.*)?$", re.M)


def readme_install(pkg: Package) -> str:
    """The requirement of the first `pip install` line in the package's README."""
    found = INSTALL_LINE.search((pkg.folder / "README.md").read_text())
    if found is None:
        raise ValueError(f"{pkg.dist}: README.md has no `pip install` line")
    [requirement] = shlex.split(found.group(1))
    return requirement


def expected_siblings(requirement: str, all_pkgs: list[Package]) -> set[str]:
    """The flagstone distributions installing `requirement` must bring: declared, transitively."""
    by_dist = {p.dist: p for p in all_pkgs}
    found: set[str] = set()
    todo = [requirement]
    while todo:
        name, extras, _spec = split_requirement(todo.pop())
        if name not in by_dist or (name in found and not extras):
            continue
        found.add(name)
        project = by_dist[name].pyproject["project"]
        todo += project.get("dependencies", [])
        for extra in extras.strip("[]").split(","):
            todo += project.get("optional-dependencies", {}).get(extra.strip(), [])
    return found


def metadata_problems(pkg: Package, wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode())
    found = []
    if meta["Version"] != pkg.version:
        found.append(f"Version {meta['Version']} is not __version__ {pkg.version}")
    if "LICENSE" not in meta.get_all("License-File", []):
        found.append("no License-File: LICENSE")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        found.append("LICENSE is not in the wheel")
    urls = {u.split(",")[0] for u in meta.get_all("Project-URL", [])}
    found += [f"no Project-URL {key}" for key in URL_KEYS if key not in urls]
    classifiers = set(meta.get_all("Classifier", []))
    for version in PYTHONS:
        if f"Programming Language :: Python :: {version}" not in classifiers:
            found.append(f"no classifier for Python {version}")
    return [f"{pkg.dist} METADATA: {problem}" for problem in found]


def sh(*cmd: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=False
    )


def install_alone(pkg: Package, all_pkgs: list[Package], wheelhouse: Path, tmp: Path) -> str:
    """Install the README's line into a fresh venv; '' when all is as declared, else why not."""
    requirement = readme_install(pkg)
    venv = tmp / f"venv-{pkg.short}"
    # A bare venv, driven by this environment's pip (`pip --python`): the same
    # install as a venv with its own pip, without bootstrapping pip 7 times.
    made = sh(sys.executable, "-m", "venv", "--without-pip", venv)
    if made.returncode != 0:
        return f"venv: {made.stderr[-500:]}"
    python = venv / "bin" / "python"
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", python]
    pip.append("--disable-pip-version-check")
    install = sh(*pip, "install", "-q", "--find-links", wheelhouse, requirement)
    if install.returncode != 0:
        return f"pip install --find-links {wheelhouse} {requirement}:\n{install.stderr[-2000:]}"
    listed = sh(*pip, "list", "--format=json")
    installed = {d["name"].lower() for d in json.loads(listed.stdout)}
    ours = {p.dist for p in all_pkgs}
    expected = expected_siblings(requirement, all_pkgs)
    if (installed & ours) != expected:
        return f"{requirement} installed {sorted(installed & ours)}, declared {sorted(expected)}"
    if {"httpx", "httpx2"} <= installed:
        return f"{requirement} installed both httpx and httpx2: two HTTP stacks"
    probe = f"import {pkg.import_name} as m; assert 'site-packages' in m.__file__, m.__file__"
    imported = sh(python, "-c", probe, cwd=tmp)
    if imported.returncode != 0:
        return f"import {pkg.import_name}:\n{imported.stderr[-1500:]}"
    return ""


def main(argv: list[str]) -> int:
    all_pkgs = packages()
    chosen = [p for p in all_pkgs if not argv or p.short in argv or p.dist in argv]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheelhouse = tmp / "dist"
        try:
            build_all(wheelhouse, all_pkgs)
        except RuntimeError as error:
            print(f"FAIL {error}")
            return 1
        for pkg in chosen:
            [wheel] = wheelhouse.glob(artifact_prefix(pkg) + "*.whl")
            [_sdist] = wheelhouse.glob(artifact_prefix(pkg) + "*.tar.gz")
            problems = metadata_problems(pkg, wheel)
            if not problems and (why := install_alone(pkg, all_pkgs, wheelhouse, tmp)):
                problems.append(why)
            failed += bool(problems)
            if problems:
                print(f"FAIL {pkg.dist}:\n  " + "\n  ".join(problems), flush=True)
            else:
                print(f"ok   {pkg.dist:<22} {wheel.name}: installs alone", flush=True)
    print(f"wheels: {len(chosen) - failed}/{len(chosen)} packages build, install alone and import")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
