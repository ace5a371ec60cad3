"""system_deps waits out the package manager's lock, and says what to run when it cannot install.

The lock is exercised with a stand-in for apt-get that answers with apt's
own lock message a few times: holding the real dpkg lock in a test would
stall every other apt on the machine.
"""

import os
import stat
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import system_deps  # noqa: E402

LOCKED = "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)"


def stand_in(tmp_path: Path, locked_runs: int, final_status: int = 0) -> list[str]:
    """A command that fails `locked_runs` times with apt's lock message, then exits `final_status`."""
    counter = tmp_path / "runs"
    script = tmp_path / "apt-get"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{counter}" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "{counter}"\n'
        f'if [ "$n" -le {locked_runs} ]; then echo "{LOCKED}" >&2; exit 100; fi\n'
        f"echo done; exit {final_status}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return [str(script)]


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_a_held_lock_is_waited_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert system_deps.run_waiting_for_lock(stand_in(tmp_path, locked_runs=2), wait=60) == 0
    assert runs(tmp_path) == 3
    out = capsys.readouterr().out
    assert out.count("holds the lock; waiting") == 1
    assert out.endswith("done\n")


def test_the_wait_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert system_deps.run_waiting_for_lock(stand_in(tmp_path, locked_runs=5), wait=0) == 100
    assert runs(tmp_path) == 1
    assert LOCKED in capsys.readouterr().err


def test_other_failures_are_not_retried(tmp_path: Path) -> None:
    assert system_deps.run_waiting_for_lock(stand_in(tmp_path, 0, final_status=1), wait=60) == 1
    assert runs(tmp_path) == 1


def test_without_apt_a_missing_program_is_skipped_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no sudo, no such program
    with pytest.raises(
        pytest.skip.Exception, match="no-such-server is not installed: run `install"
    ):
        system_deps.require("no-such-server")


@pytest.mark.skipif(os.geteuid() != 0, reason="the root branch needs root")
def test_a_machine_that_could_install_fails_instead_of_skipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apt = stand_in(tmp_path, 0)[0]
    monkeypatch.setenv("PATH", str(Path(apt).parent))  # an apt-get, as root: installable
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y no-such-server"):
        system_deps.require("no-such-server")
