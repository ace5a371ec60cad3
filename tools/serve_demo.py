"""Serve the demo app with uvicorn on 127.0.0.1:8000 (the README's first command).

`python tools/serve_demo.py [--port N] [--workers N]`; the demo lives in
packages/meta/examples/flagstone_demo.  With several workers, set
FLAGSTONE_DEMO_SECRET (and FLAGSTONE_DEMO_REDIS_URL for shared store
sessions) so every worker signs and reads the same sessions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "packages" / "meta" / "examples"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print("uvicorn is missing: run this through `python -m hatch run demo:serve`.")
        return 1
    print(f"Flagstone demo on http://{args.host}:{args.port}/ (Ctrl+C to stop)")
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
