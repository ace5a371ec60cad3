"""One toolkit's scenario apps under uvicorn: `python bench_serve.py <toolkit> <scenario,...>`.

Started by bench_http as a subprocess.  Every scenario gets its own uvicorn
server (its own app, so routes-1000 does not slow hello down) on its own
socket, all in this one process and event loop: idle servers cost nothing,
and one process per toolkit starts in a second instead of one per scenario.
The sockets are bound here to port 0 on 127.0.0.1, so the kernel picks free
ports with no race between choosing and binding.

Protocol with the parent: one JSON line on stdout once every server
listens, `{"ports": {scenario: port}, "errors": {scenario: message}}`;
the process exits when its stdin closes (the parent went away or is done).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn
from bench_report import Toolkit
from bench_scenarios import SCENARIOS

__all__ = ["main"]


# uvicorn's two HTTP/1.1 parsers: httptools (its default when installed) and h11.
HTTP_IMPLEMENTATIONS = ("httptools", "h11")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling alone.

    Several servers share this process; each would otherwise install its
    own SIGINT/SIGTERM handlers.  The parent stops us by closing stdin, and
    a plain SIGTERM still ends the process the default way.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # loopback only: the benchmark never listens outside
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # Blocking read in a thread: returns at EOF, i.e. when the parent closes
    # our stdin or dies, so a crashed harness never leaves servers behind.
    sys.stdin.read()
    loop.call_soon_threadsafe(stop.set)


async def _serve(toolkit: Toolkit, names: list[str], http: str) -> None:
    servers: list[_QuietServer] = []
    tasks: list[asyncio.Task[None]] = []
    ports: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name in names:
        try:
            app = toolkit.build(SCENARIOS[name])
        except ImportError as exc:
            errors[name] = f"n/a ({exc})"
            continue
        except Exception as exc:
            errors[name] = f"FAIL (build: {type(exc).__name__}: {exc})"
            continue
        sock = _listening_socket()
        # No access log: writing one line per request would be most of what
        # the server does in the small scenarios, and the same for everyone.
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="auto", http=http
        )
        server = _QuietServer(config)
        servers.append(server)
        tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        ports[name] = sock.getsockname()[1]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.01)
    for name, server in zip(list(ports), servers, strict=True):
        if not server.started:
            errors[name] = "FAIL (uvicorn did not start: see the server's stderr)"
            del ports[name]
    print(json.dumps({"ports": ports, "errors": errors}), flush=True)
    stop = asyncio.Event()
    threading.Thread(
        target=_watch_stdin, args=(asyncio.get_running_loop(), stop), daemon=True
    ).start()
    await stop.wait()
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str]) -> int:
    """Serve the named scenarios of one toolkit until stdin closes."""
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] not in HTTP_IMPLEMENTATIONS):
        print(
            "usage: bench_serve.py <raw|starlette|flagstone> <scenario,scenario,...> [httptools|h11]",
            file=sys.stderr,
        )
        return 2
    toolkit: Toolkit = importlib.import_module(f"apps_{argv[0]}")
    names = [name for name in argv[1].split(",") if name]
    http = argv[2] if len(argv) == 3 else "httptools"
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(toolkit, names, http))
    else:
        # uvicorn's own default loop when uvloop is installed ("auto").
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve(toolkit, names, http))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
