"""Shared by the tools' tests: a copy of the workspace's metadata to change freely."""

import shutil
from pathlib import Path

import pytest

REAL_ROOT = Path(__file__).resolve().parents[2]


def copy_workspace(root: Path) -> Path:
    """The real LICENSE and every package's metadata files and `__init__.py` under `root`."""
    shutil.copy(REAL_ROOT / "LICENSE", root / "LICENSE")
    shutil.copy(REAL_ROOT / "pyproject.toml", root / "pyproject.toml")
    for pyproject in (REAL_ROOT / "packages").glob("*/pyproject.toml"):
        folder = pyproject.parent
        target = root / "packages" / folder.name
        names = ["pyproject.toml", "LICENSE", "README.md", "CHANGELOG.md"]
        for source in [*(folder / n for n in names), *folder.glob("src/*/__init__.py")]:
            copy = target / source.relative_to(folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, copy)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path)
