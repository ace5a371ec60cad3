"""The release tool: dry run, the real thing in a scratch git repository, and its refusals."""

import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import release  # noqa: E402
from _workspace import packages  # noqa: E402


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The release commits and tags: give git an identity whatever the machine has.
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Release Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "release@test.invalid")
    # The tests must not depend on what the real changelogs hold today (right
    # after a release their [Unreleased] sections are empty; before one they
    # may declare breaking changes): give every package one plain change.
    for log in workspace.glob("packages/*/CHANGELOG.md"):
        text = log.read_text()
        head, _, rest = text.partition("## [Unreleased]\n")
        _, found, tail = rest.partition("\n## [")
        older = f"\n## [{tail}" if found else ""
        log.write_text(f"{head}## [Unreleased]\n\n- A change.\n{older}")
    git(workspace, "init", "-q")
    git(workspace, "add", ".")
    git(workspace, "commit", "-qm", "start")
    # Every package's current version is its last release (the API check's baseline).
    for pkg in packages(workspace):
        git(workspace, "tag", f"{pkg.dist}-v{pkg.version}")
    return workspace


def add_unreleased_entry(root: Path, folder: str) -> None:
    log = root / "packages" / folder / "CHANGELOG.md"
    log.write_text(
        log.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n- A change.\n", 1)
    )
    git(root, "commit", "-qam", "a change")


def versions(root: Path) -> dict[str, str]:
    return {p.dist: p.version for p in packages(root)}


def run(root: Path, *args: str) -> int:
    return release.main([*args, "--root", str(root), "--date", "2031-02-03"])


def test_a_dry_run_shows_every_change_and_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = versions(repo)
    assert run(repo, "flagstone-sessions", "minor", "--dry-run") == 0
    out = capsys.readouterr().out
    old = before["flagstone-sessions"]
    major, minor, _ = (int(p) for p in old.split("."))
    new = f"{major}.{minor + 1}.0"
    assert f"release flagstone-sessions: {old} -> {new}" in out
    assert f'+__version__ = "{new}"' in out
    assert f'+  "flagstone-sessions=={new}",' in out  # the meta package's exact pin
    assert f"+## [{new}] — 2031-02-03" in out
    assert f"tag: flagstone-sessions-v{new}" in out
    assert versions(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    assert "flagstone-sessions-v1.0.0" not in git(repo, "tag").split()


def test_a_release_commits_tags_and_keeps_the_workspace_consistent(repo: Path) -> None:
    assert run(repo, "sessions", "1.0.0", "--no-build") == 0
    assert versions(repo)["flagstone-sessions"] == "1.0.0"
    assert "flagstone-sessions-v1.0.0" in git(repo, "tag").split()
    assert git(repo, "log", "-1", "--format=%s").strip() == "flagstone-sessions: release 1.0.0"
    assert git(repo, "status", "--porcelain") == ""
    changelog = (repo / "packages/asgi-sessions/CHANGELOG.md").read_text()
    assert changelog.index("## [Unreleased]") < changelog.index("## [1.0.0] — 2031-02-03")
    meta = (repo / "packages/meta/pyproject.toml").read_text()
    assert '"flagstone-sessions==1.0.0"' in meta
    assert "Requires flagstone-sessions 1.0.0." in (repo / "packages/meta/CHANGELOG.md").read_text()
    # The metadata check still passes: pins follow the policy and admit the version.
    import check_metadata

    assert check_metadata.problems(repo) == []


def test_a_concern_range_moves_only_when_it_no_longer_admits(repo: Path) -> None:
    before = (repo / "packages/asgi-sessions/pyproject.toml").read_text()
    assert run(repo, "contract", "patch", "--no-build") == 0
    sessions = (repo / "packages/asgi-sessions/pyproject.toml").read_text()
    assert sessions == before  # a patch release stays inside the range
    add_unreleased_entry(repo, "asgi-contract")
    assert run(repo, "contract", "major", "--no-build") == 0
    sessions = (repo / "packages/asgi-sessions/pyproject.toml").read_text()
    assert '"flagstone-contract>=1.0.0,<2"' in sessions


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        pytest.param(
            ("flagstone-nothing", "patch"), "no package 'flagstone-nothing'", id="unknown"
        ),
        pytest.param(("sessions", "0.0.1"), "not a newer version", id="older"),
        pytest.param(("sessions", "next"), "major, minor, patch or X.Y.Z", id="bad-bump"),
    ],
)
def test_refusals_say_why(
    repo: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, str], reason: str
) -> None:
    assert run(repo, *args, "--no-build") == 1
    assert reason in capsys.readouterr().err


def test_a_dirty_tree_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "stray.txt").write_text("uncommitted")
    assert run(repo, "sessions", "patch", "--no-build") == 1
    assert "uncommitted changes" in capsys.readouterr().err


def test_nothing_unreleased_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, "sessions", "patch", "--no-build") == 0
    assert run(repo, "sessions", "patch", "--no-build") == 1
    assert "no [Unreleased] entries" in capsys.readouterr().err


def test_the_first_release_dates_the_version_already_carried(repo: Path) -> None:
    current = versions(repo)["flagstone-background"]
    log = repo / "packages/asgi-background/CHANGELOG.md"
    # A package whose first version was written down but never released.
    log.write_text(f"# Changelog\n\n## [Unreleased]\n\n## [{current}] — unreleased\n\n- First.\n")
    git(repo, "commit", "-qam", "a first version, not released")
    git(repo, "tag", "-d", f"flagstone-background-v{current}")
    assert run(repo, "background", current, "--no-build") == 0
    text = log.read_text()
    assert f"## [{current}] — 2031-02-03" in text
    assert "— unreleased" not in text
    assert text.index("## [Unreleased]") < text.index(f"## [{current}]")


def drop_memory_store(repo: Path, breaking_note: str | None) -> None:
    """Remove `MemoryStore` from flagstone-sessions' public API (and maybe say so)."""
    init = repo / "packages/asgi-sessions/src/flagstone_sessions/__init__.py"
    assert '    "MemoryStore",\n' in init.read_text()
    init.write_text(init.read_text().replace('    "MemoryStore",\n', ""))
    if breaking_note is not None:
        log = repo / "packages/asgi-sessions/CHANGELOG.md"
        log.write_text(
            log.read_text().replace(
                "## [Unreleased]\n", f"## [Unreleased]\n\n### Breaking\n- {breaking_note}\n", 1
            )
        )
    git(repo, "commit", "-qam", "drop MemoryStore")


def test_an_undeclared_api_break_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop_memory_store(repo, breaking_note=None)
    assert run(repo, "sessions", "minor", "--no-build") == 1
    err = capsys.readouterr().err
    assert "does not name under `### Breaking`" in err
    assert "MemoryStore: Public object was removed" in err


def test_a_declared_api_break_needs_a_minor_release_in_0x(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = versions(repo)["flagstone-sessions"]
    assert old.startswith("0.")
    drop_memory_store(repo, breaking_note="`MemoryStore` is gone: use `RedisStore`.")
    assert run(repo, "sessions", "patch", "--no-build") == 1
    assert "must be a minor or major release" in capsys.readouterr().err
    assert versions(repo)["flagstone-sessions"] == old
    assert run(repo, "sessions", "minor", "--no-build") == 0
    assert "breaking: MemoryStore: Public object was removed (declared)" in capsys.readouterr().out


def test_repin_touches_only_the_named_distribution() -> None:
    # `flagstone` is a prefix of every sibling's name; releasing the meta
    # package must leave `flagstone-background` alone.
    pyproject = '"flagstone==0.1.0", "flagstone-background>=0.2,<1", "flagstone[x]==0.1.0; python_version>\'3\'"'
    assert release.repin(pyproject, "flagstone", "0.2.0", exact=True) == (
        '"flagstone==0.2.0", "flagstone-background>=0.2,<1", "flagstone[x]==0.2.0; python_version>\'3\'"'
    )
