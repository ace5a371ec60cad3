"""Facts about the workspace shared by the checks in tools/: which packages exist."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = "flagstone_contract"
META = "flagstone"
# Packages above the meta package: they may import it (and every public
# module), nothing imports them, and the meta package does not re-export them.
ABOVE_META = frozenset({"flagstone_compat"})

# The Python versions every package is tested on (.ci/run) and declares in its
# classifiers: the one list both are checked against.
PYTHONS = ("3.11", "3.12", "3.13")

# Where the project lives: package READMEs link here (absolute, so the links
# work on a package index page) and `[project.urls]` points here.
PROJECT_URL = "https://github.com/flagstone-toolkit/flagstone"

VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)


@dataclass(frozen=True)
class Package:
    """One distribution in packages/: its folder, distribution and import names."""

    folder: Path
    dist: str
    import_name: str

    @property
    def short(self) -> str:
        """The hatch environment suffix: `iso-<short>` (folder name without `asgi-`)."""
        return self.folder.name.removeprefix("asgi-")

    @property
    def is_concern(self) -> bool:
        return self.import_name not in (CONTRACT, META, *ABOVE_META)

    @property
    def init_file(self) -> Path:
        """The `__init__.py` that holds `__version__`, the package's single version source."""
        return self.folder / "src" / self.import_name / "__init__.py"

    @property
    def version(self) -> str:
        found = VERSION_LINE.search(self.init_file.read_text())
        if found is None:
            raise ValueError(f'{self.init_file}: no `__version__ = "X.Y.Z"` line')
        return found.group(1)

    @property
    def pyproject(self) -> dict[str, Any]:
        return tomllib.loads((self.folder / "pyproject.toml").read_text())


def version_key(version: str) -> tuple[int, ...]:
    """`"1.10.2"` -> `(1, 10, 2)`: release versions compare as numbers."""
    return tuple(int(part) for part in version.split("."))


def admits(specifier: str, version: str) -> bool:
    """Whether a specifier of the forms sibling pins use (`>=a,<b`, `==a`, `~=a`) admits `version`."""
    have = version_key(version)
    for clause in filter(None, specifier.replace(" ", "").split(",")):
        found = re.fullmatch(r"(==|>=|<=|<|>|!=|~=)([\d.]+)", clause)
        if found is None:
            raise ValueError(f"cannot read version specifier {clause!r}")
        op, bound = found.groups()
        want = version_key(bound)
        ok = {
            "==": have == want,
            ">=": have >= want,
            "<=": have <= want,
            "<": have < want,
            ">": have > want,
            "!=": have != want,
            "~=": have >= want and have[: len(want) - 1] == want[:-1],
        }[op]
        if not ok:
            return False
    return True


def packages(root: Path = ROOT) -> list[Package]:
    """Every package under `root/packages`, read from its pyproject.toml."""
    found = []
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        dist = data["project"]["name"]
        found.append(Package(pyproject.parent, dist, dist.replace("-", "_")))
    return found


def report(problems: Sequence[object], summary: str) -> int:
    """Print each problem, then `summary`; the exit status of a check (1 on a problem)."""
    for problem in problems:
        print(problem)
    print(summary)
    return 1 if problems else 0


def hatch_command() -> list[str]:
    """How to call hatch from a script that a hatch environment runs.

    Inside an environment hatch itself is not importable.  The README installs
    it into `.venv/`, which need not be on PATH; a hatch on PATH, or one this
    interpreter can import, also does.
    """
    import importlib.util
    import shutil
    import sys

    if importlib.util.find_spec("hatch") is not None:
        return [sys.executable, "-m", "hatch"]
    found = shutil.which("hatch")
    if found is not None:
        return [found]
    local = ROOT / ".venv" / "bin" / "hatch"
    if local.exists():
        return [str(local)]
    raise SystemExit(
        'hatch not found: python3 -m venv .venv && .venv/bin/pip install "hatch>=1.18.2"'
    )
