"""Each package's public API against its last release: no name breaks by accident.

`hatch run tools:api [package ...]` compares every package (or those named)
with its last release, with griffe: a public name removed from `__all__`, a
parameter removed, moved, made required or of another kind, a changed default
or return type, a removed base class... is a *breaking change*.  A breaking
change passes only when the package's changelog says so: its
`## [Unreleased]` section has a `### Breaking` subsection naming the public
name in backticks (`` `SessionMiddleware` ``, `` `Router.add_route` ``), and
then the release tool (tools/release.py, which runs this check) allows only a
major release (a minor one while the package is 0.x: docs/releasing.md).

The last release is the package's current `__version__` (the release tool
writes it); its baseline, in this order:

1. the tag `<distribution>-v<version>` (tools/release.py makes it);
2. the release commit `<distribution>: release <version>` (tools/release.py
   makes it too), found in the history when the tags were not fetched or
   pushed: a plain `git clone` of this repository is enough;
3. none: a package whose changelog dates no section `[<version>]` was never
   released, and there is nothing to compare (said, not an error); one whose
   changelog dates it but whose history lacks both (a shallow clone) fails,
   saying to run `git fetch --unshallow --tags`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import griffe
from _workspace import ROOT, Package, packages

ANSI = re.compile(r"\x1b\[[0-9;]*m")
UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n(.*?)(?=^## |\Z)", re.M | re.S | re.I)
BREAKING = re.compile(r"^### Breaking[^\n]*\n(.*?)(?=^### |\Z)", re.M | re.S | re.I)


class NoBaseline(Exception):
    """A released version whose baseline is not in this clone; the message says what to do."""


@dataclass(frozen=True)
class Break:
    """One breaking change: the public name it touches, and what changed."""

    name: str  # top-level public name, e.g. "SessionMiddleware"
    what: str  # one line, e.g. "SessionMiddleware.__init__(max_age): Parameter was removed"


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def released(pkg: Package, version: str) -> bool:
    """Whether the package's changelog dates a section for `version`."""
    text = (pkg.folder / "CHANGELOG.md").read_text()
    return re.search(rf"^## \[{re.escape(version)}\] — \d{{4}}-\d\d-\d\d", text, re.M) is not None


def baseline(pkg: Package, root: Path = ROOT) -> str | None:
    """The git reference of the package's last release, or None if it was never released."""
    version = pkg.version
    tag = f"{pkg.dist}-v{version}"
    if git(root, "rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}").returncode == 0:
        return tag
    subject = f"^{re.escape(pkg.dist)}: release {re.escape(version)}$"
    found = git(root, "log", "-1", "--format=%H", "-E", f"--grep={subject}", "HEAD")
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    if not released(pkg, version):
        return None
    shallow = git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    raise NoBaseline(
        f"{pkg.dist} {version} was released (its CHANGELOG dates it) but neither the tag {tag} "
        f'nor the commit "{pkg.dist}: release {version}" is in this clone'
        + (" (a shallow clone)" if shallow else "")
        + ": run `git fetch --unshallow --tags` (or clone without --depth) and retry"
    )


def _public_names(module: griffe.Object | griffe.Alias) -> dict[str, str]:
    """Each exported name's target path (the private module's object) -> the public name."""
    found: dict[str, str] = {}
    for name in module.exports or []:
        member = module.members.get(str(name))
        if member is None:
            continue
        path = member.target_path if isinstance(member, griffe.Alias) else member.path
        found[path] = str(name)
    return found


def _public_name(path: str, names: dict[str, str], package: str) -> tuple[str, str]:
    """(top-level public name, public dotted path) of an object path griffe reports."""
    for target in sorted(names, key=len, reverse=True):
        if path == target or path.startswith(target + "."):
            name = names[target]
            return name, name + path[len(target) :]
    parts = [p for p in path.split(".")[1:] if not (p.startswith("_") and not p.startswith("__"))]
    dotted = ".".join(parts) or package
    return parts[0] if parts else package, dotted


def breaking_changes(pkg: Package, ref: str, root: Path = ROOT) -> list[Break]:
    """The package's breaking changes from `ref` to the working tree."""
    src = (pkg.folder / "src").relative_to(root).as_posix()
    old = griffe.load_git(
        pkg.import_name,
        ref=ref,
        repo=root,
        search_paths=[src],
        modules_collection=griffe.ModulesCollection(),
    )
    new = griffe.load(
        pkg.import_name,
        search_paths=[str(root / src)],
        modules_collection=griffe.ModulesCollection(),
    )
    found: list[Break] = []
    # griffe compares the members that exist; a name dropped from __all__
    # but still imported is removed from the public API all the same.
    old_exports = [str(n) for n in old.exports or []]
    new_exports = {str(n) for n in new.exports or []}
    for name in old_exports:
        if name not in new_exports:
            found.append(Break(name, f"{name}: Public object was removed"))
    names = _public_names(new) | _public_names(old)
    for breakage in griffe.find_breaking_changes(old, new):
        name, dotted = _public_name(breakage.obj.path, names, pkg.import_name)
        if name not in new_exports:
            continue  # reported above
        line = ANSI.sub("", breakage.explain(griffe.ExplanationStyle.ONE_LINE)).strip()
        # "file.py:99: SessionMiddleware.__init__(max_age): Parameter was removed"
        detail = line.split(": ", 1)[1] if ": " in line else line
        found.append(
            Break(name, detail if dotted.split(".")[0] in detail else f"{dotted}: {detail}")
        )
    return found


def declared(pkg: Package) -> str:
    """The `### Breaking` text of the package's `## [Unreleased]` section ("" if none)."""
    unreleased = UNRELEASED.search((pkg.folder / "CHANGELOG.md").read_text())
    if unreleased is None:
        return ""
    breaking = BREAKING.search(unreleased.group(1))
    return breaking.group(1) if breaking else ""


def undeclared(pkg: Package, changes: list[Break]) -> list[Break]:
    """The changes the changelog's `### Breaking` subsection does not name."""
    text = declared(pkg)
    return [c for c in changes if not re.search(rf"`{re.escape(c.name)}\b", text)]


def allows_breaking(old: str, new: str) -> bool:
    """Whether going from `old` to `new` may break the API (docs/releasing.md)."""
    o, n = (tuple(int(p) for p in v.split(".")) for v in (old, new))
    if o[0] == 0:
        return n[:2] > o[:2]  # 0.x: a minor (or major) release
    return n[0] > o[0]


def check(pkg: Package, root: Path = ROOT) -> tuple[list[str], str]:
    """(problems, summary line) for one package."""
    try:
        ref = baseline(pkg, root)
    except NoBaseline as error:
        return [f"{pkg.dist}: {error}"], f"{pkg.dist}: no baseline"
    if ref is None:
        return [], f"{pkg.dist} {pkg.version}: not released yet, nothing to compare"
    changes = breaking_changes(pkg, ref, root)
    problems = [
        f"{pkg.dist}: {c.what} — not named under `### Breaking` in [Unreleased] of "
        f"{(pkg.folder / 'CHANGELOG.md').relative_to(root).as_posix()}"
        for c in undeclared(pkg, changes)
    ]
    kept = len(changes) - len(problems)
    summary = f"{pkg.dist} against {pkg.version} ({ref[:40]}): {len(changes)} breaking"
    if kept:
        summary += (
            f" ({kept} declared: the next release must be a major one, or a minor one in 0.x)"
        )
    return problems, summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", help="distribution, folder or short names")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chosen = [
        p
        for p in packages(args.root)
        if not args.packages or {p.dist, p.import_name, p.folder.name, p.short} & set(args.packages)
    ]
    if args.packages and not chosen:
        print(f"no package named {' '.join(args.packages)}", file=sys.stderr)
        return 2
    problems: list[str] = []
    for pkg in chosen:
        found, summary = check(pkg, args.root)
        print(summary)
        problems += found
    for problem in problems:
        print(problem)
    if problems:
        print(f"public API check failed: {len(problems)} problem(s) above (tools/check_api.py)")
        return 1
    print(f"public API: {len(chosen)} packages, no undeclared breaking change")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
