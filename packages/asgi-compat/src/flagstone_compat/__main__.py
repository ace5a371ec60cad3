"""`python -m flagstone_compat <command> [args...]`: run a command with Starlette served by flagstone.

`<command>` is a console script of this environment (`uvicorn`, `pytest`,
`gunicorn`...), a Python file, or `python` followed by Python's own
arguments (`-m module`, `-c code`, `file.py`).  Processes it starts inherit
the layer (FLAGSTONE_COMPAT=1 and a `sitecustomize` on PYTHONPATH).
"""

from __future__ import annotations

import importlib.metadata
import os
import runpy
import sys
from collections.abc import Sequence

from ._hook import install

USAGE = """usage: python -m flagstone_compat <command> [args...]

Runs <command> with `import starlette` served by flagstone, in this process and
in the processes it starts.  <command> is a console script of this environment
(uvicorn, pytest, gunicorn, ...), a Python file, or `python` and its arguments.

examples:
  python -m flagstone_compat uvicorn main:app --workers 2
  python -m flagstone_compat pytest tests/
  python -m flagstone_compat python -m mypackage
"""


def _export_to_children() -> None:
    boot = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if boot not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([boot, *paths])
    os.environ["FLAGSTONE_COMPAT"] = "1"


def _run_python(args: Sequence[str]) -> int:
    if not args:
        print(
            "flagstone_compat: an interactive interpreter is not supported; "
            "give `-m module`, `-c code` or a file",
            file=sys.stderr,
        )
        return 2
    if args[0] == "-m" and len(args) > 1:
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif args[0] == "-c" and len(args) > 1:
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = list(args)
        runpy.run_path(args[0], run_name="__main__")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in `argv` (default: `sys.argv[1:]`); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    _export_to_children()
    install()
    command, rest = args[0], args[1:]
    if command in ("python", "python3") or os.path.basename(command).startswith("python"):
        return _run_python(rest)
    if command.endswith(".py") or os.path.isfile(command):
        return _run_python([command, *rest])
    scripts = importlib.metadata.entry_points(group="console_scripts", name=command)
    if not scripts:
        print(
            f"flagstone_compat: no console script named {command!r} in this environment "
            f"({sys.prefix}); install the package that provides it, or give a Python file "
            "or `python -m module`",
            file=sys.stderr,
        )
        return 2
    entry = next(iter(scripts))
    sys.argv = [command, *rest]
    result = entry.load()()
    return result if isinstance(result, int) else (0 if result is None else 1)


if __name__ == "__main__":
    sys.exit(main())
