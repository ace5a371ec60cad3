"""Which public names the site's API reference renders, read the way mkdocstrings reads them.

Each package has one page, `docs/api/<short>.md`, whose `::: identifier`
directives mkdocstrings expands from the sources (mkdocs.yml names every
package's `src/` folder).  A directive on a module renders its public members
(its `__all__`) less the `filters` of mkdocs.yml; one on any other object
renders that object.  `missing(root)` lists every name of a package's
`__all__` that its page does not render; the meta package's re-exports are
rendered on the page of the package they come from.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import griffe
from _workspace import META, ROOT, Package, packages

DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.M)
FILTERS = re.compile(r"^\s+filters: \[(.*)\]\s*$", re.M)


def page(pkg: Package, root: Path = ROOT) -> Path:
    """The package's API reference page."""
    return root / "docs" / "api" / f"{pkg.short}.md"


def filters(root: Path = ROOT) -> list[tuple[re.Pattern[str], bool]]:
    """mkdocs.yml's member filters: (pattern, keep when it matches)."""
    found = FILTERS.search((root / "mkdocs.yml").read_text())
    if found is None:
        return []
    raw = [item.strip().strip("\"'") for item in found.group(1).split(",")]
    return [(re.compile(r.removeprefix("!")), not r.startswith("!")) for r in raw if r]


def kept(name: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    return all(bool(pattern.search(name)) == keep for pattern, keep in rules)


@functools.cache
def _loader(root: Path) -> griffe.GriffeLoader:
    """One loader per workspace: each module is read from its sources once."""
    return griffe.GriffeLoader(search_paths=[str(p.folder / "src") for p in packages(root)])


@functools.cache
def _module(root: Path, name: str) -> griffe.Object | griffe.Alias:
    return _loader(root).load(name)


def rendered(pkg: Package, root: Path = ROOT) -> set[str]:
    """Dotted paths (`flagstone_sessions.Session`) the package's page renders."""
    if not page(pkg, root).is_file():
        return set()
    rules = filters(root)
    names: set[str] = set()
    for ident in DIRECTIVE.findall(page(pkg, root).read_text()):
        module_name, _, rest = ident.partition(".")
        module = _module(root, module_name)
        obj = module[rest] if rest else module
        names.add(ident)
        if obj.is_module:
            names.update(
                f"{ident}.{name}"
                for name, member in obj.members.items()
                if member.is_public and kept(name, rules)
            )
    return names


def exports(pkg: Package, root: Path = ROOT) -> list[str]:
    """The package's `__all__`, read statically (griffe follows `__all__ += [...]`)."""
    module = _module(root, pkg.import_name)
    return [str(name) for name in module.exports or []]


def missing(root: Path = ROOT) -> list[str]:
    """Every public name of every package that the API reference does not render."""
    problems = []
    all_rendered = {pkg.import_name: rendered(pkg, root) for pkg in packages(root)}
    homes = {
        name: pkg.import_name
        for pkg in packages(root)
        if pkg.import_name != META
        for name in exports(pkg, root)
    }
    for pkg in packages(root):
        where = page(pkg, root).relative_to(root).as_posix()
        for name in exports(pkg, root):
            dotted = f"{pkg.import_name}.{name}"
            if dotted in all_rendered[pkg.import_name]:
                continue
            home = homes.get(name) if pkg.import_name == META else None
            if home is not None and f"{home}.{name}" in all_rendered[home]:
                continue
            problems.append(f"{dotted}: in __all__ but not rendered by {where}")
    return problems
