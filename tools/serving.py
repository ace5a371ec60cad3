"""Start, wait for and stop the real processes that tests and tools talk to.

One home for what every server-backed test and tool needs: a free port on
127.0.0.1, a subprocess whose output goes to a log, a bounded wait until it
answers (with the log's tail in the error when it does not), a stop that
reaches the whole process group (uvicorn's workers and reloaders too), and
a throwaway `redis-server`.  Tests import it after putting tools/ on
`sys.path` (their conftest does it); tools import it as a sibling module.

Everything here polls with a deadline and never sleeps to synchronise: the
short pauses are polling intervals while a process starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REDIS_INSTALL",
    "Served",
    "ServiceMissing",
    "StartFailed",
    "free_port",
    "http_answers",
    "postgres_server",
    "proc_status_kib",
    "redis_ping",
    "redis_server",
    "start",
    "tcp_listening",
]

# The one line a person without redis-server needs.
REDIS_INSTALL = "apt-get install redis-server  (or: python tools/system_deps.py, as root)"
POSTGRES_INSTALL = "apt-get install postgresql  (or: python tools/system_deps.py, as root)"
_POLL = 0.05  # seconds between readiness checks while a process starts


class StartFailed(RuntimeError):
    """A process exited or did not become ready in time; the message holds its log tail."""


class ServiceMissing(RuntimeError):
    """A system program a test needs (redis-server, ...) is not installed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A started process: its name, port (if any), log file and handle."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """`ws://127.0.0.1:<port>`."""
        return f"ws://127.0.0.1:{self.port}"

    def log_tail(self, size: int = 3000) -> str:
        """The last `size` characters the process wrote."""
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], what: str, deadline: float = 45.0) -> None:
        """Poll `ready()` until it is true; `StartFailed` (with the log) on exit or timeout."""
        stop_at = time.monotonic() + deadline
        while not ready():
            if self.process.poll() is not None:
                raise StartFailed(
                    f"{self.name} exited with {self.process.returncode} before {what}:\n{self.log_tail()}"
                )
            if time.monotonic() > stop_at:
                raise StartFailed(
                    f"{self.name}: not {what} within {deadline:g} s:\n{self.log_tail()}"
                )
            time.sleep(_POLL)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `timeout` seconds."""
        _stop_group(self.process, timeout)


def start(
    name: str,
    command: Sequence[str],
    log: Path,
    *,
    port: int = 0,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Served:
    """Start `command` in its own process group, its output (both streams) in `log`.

    `env` is added to the current environment.  The process group lets
    `Served.stop()` reach children the command starts (uvicorn workers).
    """
    full_env = {**os.environ, **(env or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Served(name, process, log, port)


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=timeout)
    # Workers may outlive a parent that exited on its own: sweep the group.
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def proc_status_kib(pid: int, field: str) -> int:
    """A memory figure of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`, ...); 0 if absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def tcp_listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def http_answers(port: int, path: str = "/") -> bool:
    """True when 127.0.0.1:`port` answers an HTTP/1.1 GET `path` with any status."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode()
            )
            return conn.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def redis_ping(port: int) -> bool:
    """True when a redis-server on 127.0.0.1:`port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(
    log_dir: Path, deadline: float = 15.0, port: int = 0, persist_dir: Path | None = None
) -> Iterator[Served]:
    """A throwaway redis-server on 127.0.0.1, no persistence; stopped on exit.

    On a free port, or on `port` (to restart a server where its clients
    expect it).  With `persist_dir`, it keeps its data there in an
    append-only file synced on every write, so a restart on the same
    directory finds it again (Redis Streams surviving a broker restart).  `Served.url` is http-shaped; the Redis URL is
    `f"redis://127.0.0.1:{served.port}/0"`.  Raises `ServiceMissing`
    (naming the install command) without redis-server.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing(f"redis-server is not installed; install it with: {REDIS_INSTALL}")
    port = port or free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    if persist_dir is not None:
        command += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(persist_dir)]
    log = log_dir / f"redis-{port}-{time.monotonic_ns()}.log"
    served = start("redis-server", command, log, port=port)
    try:
        served.wait_until(lambda: redis_ping(port), "answering PING", deadline)
        yield served
    finally:
        served.stop()


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run `command` as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceMissing("running PostgreSQL as root needs runuser (util-linux)")
    return [runuser, "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(
    log_dir: Path, deadline: float = 30.0, port: int = 0, data_dir: Path | None = None
) -> Iterator[Served]:
    """A throwaway PostgreSQL on 127.0.0.1 (trust login as `postgres`); stopped on exit.

    On a free port or on `port`; fsync off (nothing here must survive a
    crash).  Its cluster lives in a fresh directory removed on exit, or in
    `data_dir` (created by initdb when empty, kept: to stop and restart the
    same cluster).  As root the server runs as the `postgres` user, so the
    cluster is outside pytest's private temporary folders.  The URL is
    `f"postgresql://postgres@127.0.0.1:{served.port}/postgres"`.  Raises
    `ServiceMissing` (naming the install command) without PostgreSQL.
    """
    from system_deps import find_binary

    initdb, postgres = find_binary("initdb"), find_binary("postgres")
    if initdb is None or postgres is None:
        raise ServiceMissing(f"PostgreSQL is not installed; install it with: {POSTGRES_INSTALL}")
    port = port or free_port()
    owned = data_dir is None
    data = Path(tempfile.mkdtemp(prefix="flagstone-postgres-")) if data_dir is None else data_dir
    try:
        data.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        if not (data / "PG_VERSION").exists():
            _initdb(initdb, data)
        command = _as_postgres_user(
            [
                postgres, "-D", str(data), "-p", str(port), "-k", str(data),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            ]
        )  # fmt: skip
        log = log_dir / f"postgres-{port}-{time.monotonic_ns()}.log"
        served = start("postgres", command, log, port=port)
        try:
            served.wait_until(lambda: _postgres_ready(port), "accepting connections", deadline)
            yield served
        finally:
            # SIGTERM would be a "smart" shutdown that waits for every client
            # to leave; SIGINT is the fast one (clients are disconnected).
            if served.process.poll() is None:
                _signal_group(served.process, signal.SIGINT)
                try:
                    served.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            served.stop()
    finally:
        if owned:
            shutil.rmtree(data, ignore_errors=True)


def _postgres_ready(port: int) -> bool:
    # Listening is not enough: while it starts up (or recovers) the server
    # refuses logins.  pg_isready asks the way a client would.
    from system_deps import find_binary

    pg_isready = find_binary("pg_isready")
    if pg_isready is None:
        return tcp_listening(port)
    command = [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "1"]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _initdb(initdb: str, data: Path) -> None:
    command = [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
    result = subprocess.run(_as_postgres_user(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StartFailed(f"initdb failed:\n{result.stdout}{result.stderr}")
