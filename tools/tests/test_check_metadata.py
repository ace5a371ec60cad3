"""The metadata check passes on the real tree and reports each kind of drift."""

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import check_metadata  # noqa: E402
from _workspace import packages  # noqa: E402

# Versions as the tree has them now, so a release does not break the table.
VERSIONS = {p.dist: p.version for p in packages(TOOLS.parent)}
SESSIONS = VERSIONS["flagstone-sessions"]
_MAJOR, _MINOR = (int(part) for part in VERSIONS["flagstone-contract"].split(".")[:2])
CONTRACT_TOO_NEW = f"{_MAJOR}.{_MINOR + 1}"
# The sessions package's pin on the contract as the tree has it now.
SESSIONS_PIN = next(
    dep
    for dep in next(p for p in packages(TOOLS.parent) if p.dist == "flagstone-sessions").pyproject[
        "project"
    ]["dependencies"]
    if dep.startswith("flagstone-contract")
)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_the_real_tree_has_no_problem() -> None:
    assert check_metadata.problems(TOOLS.parent) == []


@pytest.mark.parametrize(
    ("rel", "old", "new", "reason"),
    [
        pytest.param("asgi-sessions/pyproject.toml", 'dynamic = ["version"]', 'version = "0.1.0"',
                     "version must be dynamic", id="static-version"),
        pytest.param("asgi-sessions/LICENSE", "MIT License", "Apache License",
                     "different from the root LICENSE", id="license-copy-drifts"),
        pytest.param("asgi-sessions/pyproject.toml", '"Programming Language :: Python :: 3.13",\n', "",
                     "Python classifiers", id="untested-python-missing"),
        pytest.param("asgi-sessions/pyproject.toml", '"Programming Language :: Python :: 3.13",',
                     '"Programming Language :: Python :: 3.13",\n  "Programming Language :: Python :: 3.10",',
                     "Python classifiers", id="untested-python-declared"),
        pytest.param("asgi-sessions/pyproject.toml", "Issues = ", "Bugs = ",
                     "Issues must point", id="url-missing"),
        pytest.param("meta/pyproject.toml", f'"flagstone-sessions=={SESSIONS}"',
                     f'"flagstone-sessions>={SESSIONS},<1"', "pins flagstone-sessions exactly",
                     id="meta-pins-a-range"),
        pytest.param("asgi-sessions/pyproject.toml", f'"{SESSIONS_PIN}"',
                     '"flagstone-contract==0.1.0"', "needs a compatible range",
                     id="concern-pins-exactly"),
        pytest.param("asgi-sessions/pyproject.toml", f'"{SESSIONS_PIN}"',
                     f'"flagstone-contract>={CONTRACT_TOO_NEW},<1"', "does not admit",
                     id="pin-excludes-the-sibling"),
        pytest.param("asgi-sessions/README.md", "# flagstone-sessions",
                     "# flagstone-sessions\nSee [the docs](../../docs/x.md).",
                     "README links to '../../docs/x.md'", id="relative-readme-link"),
    ],
)  # fmt: skip
def test_each_drift_is_reported(workspace: Path, rel: str, old: str, new: str, reason: str) -> None:
    root = workspace
    edit(root / "packages" / rel, old, new)
    found = check_metadata.problems(root)
    assert any(reason in problem for problem in found), found
