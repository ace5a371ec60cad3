"""The public-API check: what breaks, where the baseline comes from, what declares a break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
REAL_ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import check_api  # noqa: E402
from _workspace import packages  # noqa: E402

SESSIONS = "packages/asgi-sessions"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """flagstone-sessions, whole, in a scratch repository whose first commit is its release."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "API Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "api@test.invalid")
    root = tmp_path / "repo"
    shutil.copytree(
        REAL_ROOT / SESSIONS, root / SESSIONS, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", f"flagstone-sessions: release {sessions(root).version}")
    return root


def sessions(root: Path):  # type: ignore[no-untyped-def]
    (pkg,) = packages(root)
    return pkg


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / SESSIONS / rel
    assert old in path.read_text(), (rel, old)
    path.write_text(path.read_text().replace(old, new, 1))
    git(root, "commit", "-qam", "a change")


def declare(root: Path, note: str) -> None:
    edit(root, "CHANGELOG.md", "## [Unreleased]\n", f"## [Unreleased]\n\n### Breaking\n- {note}\n")


def problems(root: Path) -> list[str]:
    return check_api.check(sessions(root), root)[0]


def test_the_real_tree_has_no_undeclared_break() -> None:
    assert check_api.main([]) == 0


def test_no_change_no_problem(repo: Path) -> None:
    found, summary = check_api.check(sessions(repo), repo)
    assert found == []
    assert ": 0 breaking" in summary


def test_a_removed_parameter_is_a_break(repo: Path) -> None:
    edit(
        repo,
        "src/flagstone_sessions/_middleware.py",
        '        session_cookie: str = "session",\n',
        "",
    )
    found = problems(repo)
    assert found, found
    assert all("SessionMiddleware.__init__(" in p for p in found)
    assert any("session_cookie): Parameter was removed" in p for p in found)
    assert "not named under `### Breaking`" in found[0]


def test_a_name_dropped_from_all_is_a_break_even_if_still_imported(repo: Path) -> None:
    edit(repo, "src/flagstone_sessions/__init__.py", '    "MemoryStore",\n', "")
    assert problems(repo) == [
        "flagstone-sessions: MemoryStore: Public object was removed — not named under "
        "`### Breaking` in [Unreleased] of packages/asgi-sessions/CHANGELOG.md"
    ]


def test_a_break_named_under_breaking_passes(repo: Path) -> None:
    edit(repo, "src/flagstone_sessions/__init__.py", '    "MemoryStore",\n', "")
    declare(repo, "`MemoryStore` is no longer public.")
    found, summary = check_api.check(sessions(repo), repo)
    assert found == []
    assert "1 breaking (1 declared" in summary


def test_naming_another_name_does_not_declare_it(repo: Path) -> None:
    edit(repo, "src/flagstone_sessions/__init__.py", '    "MemoryStore",\n', "")
    declare(repo, "`MemoryStoreFactory` is new.")  # a longer name is not this one
    assert len(problems(repo)) == 1


def test_an_added_name_or_optional_parameter_is_no_break(repo: Path) -> None:
    edit(
        repo,
        "src/flagstone_sessions/_middleware.py",
        "        sliding_expiry: bool = False,\n",
        "        sliding_expiry: bool = False,\n        extra_option: int = 1,\n",
    )
    assert problems(repo) == []


def test_the_tag_is_the_baseline_when_there_is_one(repo: Path) -> None:
    pkg = sessions(repo)
    release_commit = git(repo, "rev-parse", "HEAD").strip()
    assert check_api.baseline(pkg, repo) == release_commit
    git(repo, "tag", f"flagstone-sessions-v{pkg.version}")
    assert check_api.baseline(pkg, repo) == f"flagstone-sessions-v{pkg.version}"


def test_a_released_version_missing_from_history_fails_saying_how_to_fix(repo: Path) -> None:
    git(repo, "commit", "-q", "--amend", "-m", "no release subject")
    found = problems(repo)
    assert len(found) == 1
    assert "was released (its CHANGELOG dates it)" in found[0]
    assert "git fetch --unshallow --tags" in found[0]


def test_a_never_released_package_is_skipped(repo: Path) -> None:
    pkg = sessions(repo)
    log = repo / SESSIONS / "CHANGELOG.md"
    log.write_text(f"# Changelog\n\n## [Unreleased]\n\n## [{pkg.version}] — unreleased\n")
    git(repo, "commit", "-q", "--amend", "-am", "a first version, not released")
    found, summary = check_api.check(pkg, repo)
    assert found == []
    assert "not released yet" in summary


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("0.3.0", "0.3.1", False),
        ("0.3.0", "0.4.0", True),
        ("0.3.0", "1.0.0", True),
        ("1.2.0", "1.3.0", False),
        ("1.2.0", "2.0.0", True),
    ],
)
def test_which_versions_may_break(old: str, new: str, allowed: bool) -> None:
    assert check_api.allows_breaking(old, new) is allowed
