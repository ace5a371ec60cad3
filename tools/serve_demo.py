"""Serve the demo app with uvicorn on 127.0.0.1:8000 (the README's first command)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    try:
        import uvicorn
    except ImportError:
        print("uvicorn is missing: run this through `python -m hatch run demo:serve`.")
        return 1
    port = int(argv[0]) if argv else 8000
    try:
        from flagstone_demo.app import app
    except ImportError as exc:
        print(f"The demo app is not available yet ({exc}); it lands with the meta package issue.")
        return 1
    uvicorn.run(app, host="127.0.0.1", port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
