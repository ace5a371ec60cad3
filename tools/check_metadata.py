"""Metadata check: every package says what a package index shows, the same way.

For each package found under packages/ (nothing is listed by hand):
- the version has one source, `__version__` in `src/<import>/__init__.py`,
  which hatchling reads (`dynamic = ["version"]`, `[tool.hatch.version]`);
- `LICENSE` is the root LICENSE, shipped through `license-files`;
- authors, keywords, the `[project.urls]` keys, and one classifier for each
  Python version CI tests (`PYTHONS`), no more;
- sibling pins follow docs/releasing.md: the meta package pins exact
  versions (`==`), the others a range that admits the sibling's version;
- the README has no relative link (it is the package index page).
Run: `python tools/check_metadata.py`; exit status 1 on a problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import META, PROJECT_URL, PYTHONS, ROOT, Package, admits, packages

URL_KEYS = ("Homepage", "Documentation", "Changelog", "Source", "Issues")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)]+)\)")


def split_requirement(text: str) -> tuple[str, str, str]:
    """`name[extra]>=1,<2` -> (name, "[extra]", ">=1,<2")."""
    found = REQUIREMENT.match(text)
    if found is None:
        raise ValueError(f"cannot read requirement {text!r}")
    return found.group(1), found.group(2) or "", found.group(3).replace(" ", "")


def sibling_requirements(pkg: Package) -> list[tuple[str, str, str]]:
    """Every requirement of `pkg` (extras included) that names a flagstone package."""
    project = pkg.pyproject["project"]
    texts = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts += extra
    names = {p.dist for p in packages(pkg.folder.parent.parent)}
    return [req for req in map(split_requirement, texts) if req[0] in names]


def problems(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    all_pkgs = packages(root)
    versions = {p.dist: p.version for p in all_pkgs}
    license_text = (root / "LICENSE").read_text()
    for pkg in all_pkgs:
        name = pkg.dist
        data = pkg.pyproject
        project = data["project"]
        if "version" in project or "version" not in project.get("dynamic", []):
            found.append(f"{name}: version must be dynamic (read from __version__)")
        rel_init = pkg.init_file.relative_to(pkg.folder).as_posix()
        if data.get("tool", {}).get("hatch", {}).get("version", {}).get("path") != rel_init:
            found.append(f'{name}: [tool.hatch.version] path must be "{rel_init}"')
        license_file = pkg.folder / "LICENSE"
        if not license_file.exists() or license_file.read_text() != license_text:
            found.append(f"{name}: LICENSE missing or different from the root LICENSE")
        if project.get("license-files") != ["LICENSE"]:
            found.append(f'{name}: license-files must be ["LICENSE"]')
        for key in ("authors", "keywords"):
            if not project.get(key):
                found.append(f"{name}: no {key}")
        urls = project.get("urls", {})
        for key in URL_KEYS:
            if not str(urls.get(key, "")).startswith(PROJECT_URL):
                found.append(f"{name}: [project.urls] {key} must point into {PROJECT_URL}")
        declared = sorted(
            c.rsplit(" :: ", 1)[1]
            for c in project.get("classifiers", [])
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        )
        if declared != sorted(PYTHONS):
            found.append(f"{name}: Python classifiers {declared} must be exactly {list(PYTHONS)}")
        for dep, _extras, spec in sibling_requirements(pkg):
            if pkg.import_name == META and not re.fullmatch(r"==[\d.]+", spec):
                found.append(f"{name}: the meta package pins {dep} exactly (==), not {spec!r}")
            elif pkg.import_name != META and not (">=" in spec and "<" in spec):
                found.append(f"{name}: {dep} needs a compatible range (>=X,<Y), not {spec!r}")
            if not admits(spec, versions[dep]):
                found.append(f"{name}: {dep}{spec} does not admit {dep} {versions[dep]}")
        for link in RELATIVE_LINK.findall((pkg.folder / "README.md").read_text()):
            found.append(f"{name}: README links to {link!r}; use an absolute URL")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(problem)
    print(f"metadata: {len(packages())} packages, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
