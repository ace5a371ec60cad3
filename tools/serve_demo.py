"""Serve the demo app with uvicorn on 127.0.0.1:8000 (the README's first command).

`python tools/serve_demo.py [--port N] [--workers N] [--audit-log PATH]` (the
port defaults to FLAGSTONE_DEMO_PORT, else 8000; the audit log to
FLAGSTONE_DEMO_AUDIT_LOG, else `audit.log` in a new `flagstone-demo-*`
directory under the temp dir, one per run, printed at start); the demo lives
in packages/meta/examples/flagstone_demo.  With several workers, set
FLAGSTONE_DEMO_SECRET (and FLAGSTONE_DEMO_REDIS_URL for shared store
sessions) so every worker signs and reads the same sessions.

The server lives no longer than the command that started it.  `hatch run
demo:serve` runs this through a shell, and a SIGTERM or SIGINT sent to hatch's
pid ends hatch alone: this process would be re-parented to init and go on
serving.  So it watches every ancestor and shuts uvicorn down gracefully (the
SIGTERM uvicorn handles) as soon as any of them exits.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import tempfile
import threading
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "packages" / "meta" / "examples"


def ancestors() -> list[int]:
    """The pids from our parent up to, not including, init (from /proc)."""
    found: list[int] = []
    pid = os.getppid()
    while pid > 1:
        found.append(pid)
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Fields after the command name, which is in parentheses and may hold
        # spaces: state, then the parent pid.
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def stop_when_an_ancestor_exits() -> None:
    """SIGTERM ourselves (uvicorn's graceful shutdown) when any ancestor process exits."""
    if not hasattr(os, "pidfd_open"):  # not Linux: nothing to watch with
        return
    poller = select.poll()
    try:
        for pid in ancestors():
            # A pidfd becomes readable when its process exits: no polling loop.
            poller.register(os.pidfd_open(pid), select.POLLIN)
    except ProcessLookupError:  # one already exited between the two reads
        os.kill(os.getpid(), signal.SIGTERM)
        return
    except (OSError, ValueError):  # no /proc, or a pidfd refused: run unwatched
        return

    def watch() -> None:
        poller.poll()
        print("serve_demo: the command that started the demo has exited; stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ancestor-watch", daemon=True).start()


def choose_audit_log(given: str | None) -> Path:
    """The run's audit log, exported in FLAGSTONE_DEMO_AUDIT_LOG so every worker writes there."""
    configured = given or os.environ.get("FLAGSTONE_DEMO_AUDIT_LOG")
    if configured:
        path = Path(configured).resolve()
    else:
        # A private directory per run (mkdtemp: mode 0700), never a fixed
        # shared name in /tmp that another user could own or link first.
        path = Path(tempfile.mkdtemp(prefix="flagstone-demo-")) / "audit.log"
    os.environ["FLAGSTONE_DEMO_AUDIT_LOG"] = str(path)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("FLAGSTONE_DEMO_PORT", 8000))
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--audit-log", help="audit log file (default: a new temp dir per run)")
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print("uvicorn is missing: run this through `python -m hatch run demo:serve`.")
        return 1
    audit_log = choose_audit_log(args.audit_log)
    print(f"Flagstone demo on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    print(f"Audit log: {audit_log}", flush=True)
    stop_when_an_ancestor_exits()
    uvicorn.run(
        "flagstone_demo.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        app_dir=str(EXAMPLES),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
