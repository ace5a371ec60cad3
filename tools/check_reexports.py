"""Re-export check: `flagstone` exports every public name of every package.

For each package's `__all__`, the meta package must export the same name
bound to the *identical* object (not a copy or a wrapper), and list it in its
own `__all__`.  Two packages exporting the same name for different objects
is reported too: the flat namespace could only hold one of them.
Run: `python tools/check_reexports.py`; exit status 1 on a problem.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ABOVE_META, META, packages, report


def problems() -> list[str]:
    """Every missing, unlisted, non-identical or colliding re-export."""
    meta = importlib.import_module(META)
    meta_all = set(getattr(meta, "__all__", ()))
    found: list[str] = []
    owners: dict[str, tuple[str, object]] = {}
    for pkg in packages():
        if pkg.import_name == META or pkg.import_name in ABOVE_META:
            continue
        module = importlib.import_module(pkg.import_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if name in owners and owners[name][1] is not obj:
                found.append(f"{name}: exported by both {owners[name][0]} and {pkg.import_name}")
            owners.setdefault(name, (pkg.import_name, obj))
            if not hasattr(meta, name):
                found.append(f"{name} (from {pkg.import_name}): missing from {META}")
            elif getattr(meta, name) is not obj:
                found.append(f"{name} (from {pkg.import_name}): {META}.{name} is another object")
            elif name not in meta_all:
                found.append(f"{name} (from {pkg.import_name}): not in {META}.__all__")
    return found


def main() -> int:
    found = problems()
    return report(found, f"reexports: {len(found)} problem(s)")


if __name__ == "__main__":
    sys.exit(main())
