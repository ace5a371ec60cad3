"""Installs flagstone_compat at interpreter start when FLAGSTONE_COMPAT=1.

`python -m flagstone_compat <command>` puts this folder first on PYTHONPATH
and sets FLAGSTONE_COMPAT=1, so that processes the command starts (server
workers, reloaders, pytest-xdist workers) serve Starlette from flagstone
too, without logging again.  Any other `sitecustomize` on the path still runs, after this one.
"""

import importlib.machinery
import importlib.util
import os
import sys

if os.environ.get("FLAGSTONE_COMPAT") == "1":
    from flagstone_compat import _hook

    # The command that set FLAGSTONE_COMPAT already said Starlette is shadowed.
    _hook._install(announce=False)


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_chain()
