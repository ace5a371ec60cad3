"""The README's demo command stops when its process gets SIGTERM or SIGINT.

The command is run exactly as the README gives it (`bash -c`, as a shell
runs a pasted line; bash execs its last step, the demo environment's Python,
so the pid is the server's) on a free port (FLAGSTONE_DEMO_PORT).  The
signal goes to that pid only, not to its process group, as `kill PID` sends
it; every process the command started must stop and nothing may still
listen on the port.

`hatch run demo:serve` is checked too, for SIGTERM to hatch's pid: hatch
dies, and the uvicorn process two levels below, re-parented to init, used to
go on serving; now it sees its ancestor exit and shuts down.  (A SIGINT to
hatch's pid alone does nothing: hatch ignores SIGINT while a script runs and
leaves Ctrl+C to the terminal's process group.  Hence the README command.)
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
README = (REPO_ROOT / "README.md").read_text()
README_COMMAND = re.search(r"<!-- demo-command -->\n```\n(.*?)\n```", README).group(1)  # type: ignore[union-attr]
# The README command's own first steps make .venv/bin/hatch.
HATCH_COMMAND = [*README_COMMAND.split(" && ")[:2], ".venv/bin/hatch run demo:serve"]
# The first run may create .venv and the demo environment.
START_DEADLINE = 300.0
STOP_DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process exited while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for(condition: str, check: object, deadline: float) -> None:
    """Poll `check()` until true (waiting for a process to act, not synchronising a test)."""
    end = time.monotonic() + deadline
    while not check():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for: {condition}")
        time.sleep(0.1)


@pytest.fixture
def demo_command(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    command = str(request.param)
    port = free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "FLAGSTONE_DEMO_PORT": str(port), "FLAGSTONE_DEMO_REDIS_URL": ""}
    # Our hatch environment must not leak into the command's own hatch.
    for name in [n for n in env if n.startswith(("HATCH_ENV", "VIRTUAL_ENV"))]:
        del env[name]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=REPO_ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield process, port, log
    finally:
        # Whatever the test found, leave nothing behind.
        for pid in descendants(process.pid) | {process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("demo_command", "signum"),
    [
        pytest.param(README_COMMAND, signal.SIGTERM, id="readme-SIGTERM"),
        pytest.param(README_COMMAND, signal.SIGINT, id="readme-SIGINT"),
        pytest.param(" && ".join(HATCH_COMMAND), signal.SIGTERM, id="hatch-run-SIGTERM"),
    ],
    indirect=["demo_command"],
)
def test_a_signal_to_the_command_stops_the_server(
    demo_command: tuple[subprocess.Popen[bytes], int, Path], signum: signal.Signals
) -> None:
    process, port, log = demo_command

    def serving() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the demo command exited early:\n{log.read_text()}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("the demo to answer", serving, START_DEADLINE)
    started = descendants(process.pid)

    os.kill(process.pid, signum)

    process.wait(timeout=STOP_DEADLINE)
    wait_for(
        "every process the command started to exit",
        lambda: not any(alive(pid) for pid in started),
        STOP_DEADLINE,
    )
    assert not listening(port), f"something still listens on {port}:\n{log.read_text()}"
    assert "Finished server process" in log.read_text()
