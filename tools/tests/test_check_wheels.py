"""What the wheels check expects each README install line to bring (the install itself runs in CI)."""

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

from _workspace import packages  # noqa: E402
from check_wheels import expected_siblings, readme_install  # noqa: E402


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("flagstone-contract", {"flagstone-contract"}),
        ("flagstone-sessions", {"flagstone-sessions", "flagstone-contract"}),
        ("flagstone-routing", {"flagstone-routing", "flagstone-contract"}),
        # requests declares config (the home of Secret): siblings come transitively.
        ("flagstone-routing[requests]",
         {"flagstone-routing", "flagstone-requests", "flagstone-contract", "flagstone-config"}),
        # The meta package brings every package but those above it (compat).
        ("flagstone", {p.dist for p in packages() if p.dist != "flagstone-compat"}),
        ("flagstone-compat", {p.dist for p in packages()}),
    ],
)  # fmt: skip
def test_expected_siblings_follow_the_declared_dependencies(
    requirement: str, expected: set[str]
) -> None:
    assert expected_siblings(requirement, packages()) == expected


def test_every_readme_has_an_install_line_for_its_own_package() -> None:
    for pkg in packages():
        requirement = readme_install(pkg)
        assert requirement.split("[")[0] == pkg.dist, (pkg.dist, requirement)
