"""Release one package: bump its version, update its siblings' pins, date its changelog, tag, build.

`hatch run release:package <package> <major|minor|patch|X.Y.Z> [--dry-run]`
where <package> is a distribution (`flagstone-sessions`), an import name or a
folder name (`asgi-sessions`, `sessions`).  It:

1. writes the new version into `__version__` (src/<import>/__init__.py, the
   single source hatchling reads);
2. updates every sibling that depends on it (docs/releasing.md): the meta
   package pins it exactly (`==new`); a concern package's range is left alone
   while it admits the new version, else becomes `>=new,<next major`; each
   changed sibling gets a changelog line under `[Unreleased]` (and must then
   be released itself, which this says);
3. refuses a release that breaks the public API (tools/check_api.py: a
   name removed or changed incompatibly since the last release) unless the
   changelog names each break under `### Breaking` and the version is a major
   one (a minor one while the package is 0.x);
4. moves the package's `## [Unreleased]` section under `## [new] — date`
   (a first release may instead date an existing `## [new] — unreleased`);
5. commits those files and tags the commit `<distribution>-v<new>`;
6. builds the sdist and wheel into dist/ (`hatch publish` or `twine upload`
   publishes them; not done here).

`--dry-run` changes nothing: it prints each file's diff, the commit, the tag
and the build it would make.  `--no-build` stops after the tag.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_api
from _workspace import META, ROOT, VERSION_LINE, Package, admits, packages, version_key
from wheelhouse import build_all


class ReleaseError(Exception):
    """The release cannot be made as asked; the message says why."""


@dataclass
class Plan:
    """Everything one release changes, computed before anything is written."""

    package: Package
    old: str
    new: str
    edits: dict[Path, tuple[str, str]]  # path -> (before, after)
    notes: list[str]

    @property
    def tag(self) -> str:
        return f"{self.package.dist}-v{self.new}"


def find_package(name: str, root: Path) -> Package:
    for pkg in packages(root):
        if name in (pkg.dist, pkg.import_name, pkg.folder.name, pkg.short):
            return pkg
    known = ", ".join(p.dist for p in packages(root))
    raise ReleaseError(f"no package {name!r}; known: {known}")


def next_version(current: str, bump: str) -> str:
    parts = [int(p) for p in current.split(".")]
    if bump == "major":
        return f"{parts[0] + 1}.0.0"
    if bump == "minor":
        return f"{parts[0]}.{parts[1] + 1}.0"
    if bump == "patch":
        return f"{parts[0]}.{parts[1]}.{parts[2] + 1}"
    if not re.fullmatch(r"\d+\.\d+\.\d+", bump):
        raise ReleaseError(f"version must be major, minor, patch or X.Y.Z, not {bump!r}")
    return bump


def repin(pyproject: str, dist: str, new: str, exact: bool) -> str:
    """`pyproject` with every requirement on `dist` pinned for version `new`."""

    def replace(match: re.Match[str]) -> str:
        name, extras, spec, marker = match.groups()
        if exact:
            spec = f"=={new}"
        elif not admits(spec, new):
            spec = f">={new},<{version_key(new)[0] + 1}"
        return f'"{name}{extras or ""}{spec}{marker or ""}"'

    # The name must end where the requirement's name ends: releasing
    # `flagstone` must not touch `"flagstone-background>=0.2"`.
    pattern = rf'"({re.escape(dist)})(?![A-Za-z0-9._-])(\[[^\]]*\])?([^";]*)(;[^"]*)?"'
    return re.sub(pattern, replace, pyproject)


UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n", re.M | re.I)


def next_heading(text: str, start: int) -> int:
    """Where the next `## ` heading at or after `start` begins (the end of a section)."""
    found = re.compile(r"^## ", re.M).search(text, start)
    return found.start() if found else len(text)


def dated_changelog(text: str, new: str, date: str) -> str:
    """Move `[Unreleased]` under `[new] — date`, leaving an empty `[Unreleased]` above it."""
    heading = f"## [{new}] — {date}\n"
    body = ""
    found = UNRELEASED.search(text)
    if found:
        stop = next_heading(text, found.end())
        body = text[found.end() : stop].strip("\n")
        text = text[: found.start()] + text[stop:]
    first = re.search(rf"^## \[{re.escape(new)}\] — unreleased[^\n]*\n", text, re.M | re.I)
    if first:
        # The first release of the version the package already carries: the
        # [Unreleased] entries join that section.
        at = first.start()
        text = text[:at] + heading + ("\n" + body + "\n" if body else "") + text[first.end() :]
    elif body:
        at = next_heading(text, 0)
        text = text[:at] + heading + "\n" + body + "\n\n" + text[at:]
    else:
        raise ReleaseError(
            "the changelog has no [Unreleased] entries to release: "
            "say what changed under `## [Unreleased]` first"
        )
    return text[:at] + "## [Unreleased]\n\n" + text[at:]


def note_in_changelog(text: str, line: str) -> str:
    """`text` with `line` under `## [Unreleased]` / `### Changed` (both made if missing)."""
    found = UNRELEASED.search(text)
    if found is None:
        at = next_heading(text, 0)
        text = text[:at] + "## [Unreleased]\n\n" + text[at:]
        found = UNRELEASED.search(text)
        assert found is not None
    stop = next_heading(text, found.end())
    section = text[found.end() : stop]
    changed = re.search(r"^### Changed\n", section, re.M)
    if changed:
        section = section[: changed.end()] + f"- {line}\n" + section[changed.end() :]
    else:
        section = "\n### Changed\n" + f"- {line}\n" + section.lstrip("\n")
        section = section if section.endswith("\n\n") else section.rstrip("\n") + "\n\n"
    return text[: found.end()] + section + text[stop:]


def plan_release(name: str, bump: str, date: str, root: Path = ROOT) -> Plan:
    pkg = find_package(name, root)
    old = pkg.version
    new = next_version(old, bump)
    edits: dict[Path, tuple[str, str]] = {}
    notes: list[str] = []

    def edit(path: Path, after: str) -> None:
        before = edits[path][0] if path in edits else path.read_text()
        if after != before:
            edits[path] = (before, after)

    def current(path: Path) -> str:
        return edits[path][1] if path in edits else path.read_text()

    if version_key(new) < version_key(old) or (new == old and not _first_release(pkg, new)):
        raise ReleaseError(f"{pkg.dist} is at {old}; {new} is not a newer version")
    notes += api_breaks(pkg, old, new, root)
    init = pkg.init_file
    edit(init, VERSION_LINE.sub(f'__version__ = "{new}"', init.read_text(), count=1))
    changelog = pkg.folder / "CHANGELOG.md"
    edit(changelog, dated_changelog(changelog.read_text(), new, date))
    for sibling in packages(root):
        if sibling.dist == pkg.dist:
            continue
        pyproject = sibling.folder / "pyproject.toml"
        exact = sibling.import_name == META
        after = repin(current(pyproject), pkg.dist, new, exact)
        if after != current(pyproject):
            edit(pyproject, after)
            sib_log = sibling.folder / "CHANGELOG.md"
            edit(sib_log, note_in_changelog(current(sib_log), f"Requires {pkg.dist} {new}."))
            notes.append(f"{sibling.dist}: pin on {pkg.dist} updated; release it too")
        elif pkg.dist in current(pyproject):
            notes.append(f"{sibling.dist}: its range on {pkg.dist} already admits {new}")
    return Plan(pkg, old, new, edits, notes)


def api_breaks(pkg: Package, old: str, new: str, root: Path) -> list[str]:
    """Notes on the public API's breaking changes since `old`; refuses what the policy forbids."""
    try:
        ref = check_api.baseline(pkg, root)
    except check_api.NoBaseline as error:
        raise ReleaseError(str(error)) from None
    if ref is None:
        return []  # never released: nothing to compare
    changes = check_api.breaking_changes(pkg, ref, root)
    missing = check_api.undeclared(pkg, changes)
    if missing:
        listed = "\n".join(f"  {c.what}" for c in missing)
        raise ReleaseError(
            f"breaking changes since {old} that the changelog does not name under "
            f"`### Breaking` in [Unreleased]:\n{listed}"
        )
    declared = bool(check_api.declared(pkg).strip())
    if (changes or declared) and not check_api.allows_breaking(old, new):
        needed = "a minor or major" if version_key(old)[0] == 0 else "a major"
        raise ReleaseError(
            f"the changelog declares breaking changes (`### Breaking`): {old} -> {new} "
            f"must be {needed} release"
        )
    return [f"breaking: {c.what} (declared)" for c in changes]


def _first_release(pkg: Package, version: str) -> bool:
    text = (pkg.folder / "CHANGELOG.md").read_text()
    return re.search(rf"^## \[{re.escape(version)}\] — unreleased", text, re.M | re.I) is not None


def git(*args: str, root: Path) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def describe(plan: Plan, root: Path) -> str:
    lines = [f"release {plan.package.dist}: {plan.old} -> {plan.new}"]
    for path, (before, after) in plan.edits.items():
        rel = path.relative_to(root).as_posix()
        lines += difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"a/{rel}", f"b/{rel}", lineterm=""
        )
    lines += [f"note: {note}" for note in plan.notes]
    lines.append(f'commit: "{plan.package.dist}: release {plan.new}"')
    lines.append(f"tag: {plan.tag}")
    return "\n".join(lines)


def apply(plan: Plan, root: Path, build: bool) -> None:
    if git("status", "--porcelain", root=root).strip():
        raise ReleaseError("the working tree has uncommitted changes; commit or stash them first")
    if git("tag", "--list", plan.tag, root=root).strip():
        raise ReleaseError(f"tag {plan.tag} exists already")
    for path, (_before, after) in plan.edits.items():
        path.write_text(after)
    git("add", *(str(p) for p in plan.edits), root=root)
    git("commit", "-q", "-m", f"{plan.package.dist}: release {plan.new}", root=root)
    git("tag", "-a", plan.tag, "-m", f"{plan.package.dist} {plan.new}", root=root)
    if build:
        try:
            build_all(root / "dist", [plan.package])
        except RuntimeError as error:
            raise ReleaseError(f"{error}\n(the commit and tag are made)") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("version", help="major, minor, patch or X.Y.Z")
    parser.add_argument("--dry-run", action="store_true", help="print what would change")
    parser.add_argument("--no-build", action="store_true", help="stop after the tag")
    parser.add_argument("--date", default=dt.datetime.now(dt.UTC).date().isoformat())
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        plan = plan_release(args.package, args.version, args.date, args.root)
        print(describe(plan, args.root))
        if args.dry_run:
            print(f"build: sdist and wheel of {plan.package.dist} {plan.new} into dist/")
            print("dry run: nothing changed")
            return 0
        apply(plan, args.root, build=not args.no_build)
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    built = "" if args.no_build else "; built into dist/ (publish: hatch publish dist/<files>)"
    print(f"released {plan.package.dist} {plan.new}, tagged {plan.tag}{built}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
