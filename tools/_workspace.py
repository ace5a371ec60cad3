"""Facts about the workspace shared by the checks in tools/: which packages exist."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = "flagstone_contract"
META = "flagstone"


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
        return self.import_name not in (CONTRACT, META)


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
