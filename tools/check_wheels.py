"""Wheel check: every package builds (sdist and wheel) and the wheels install.

Builds each package with hatchling into a temporary folder, creates a clean
virtual environment, installs every wheel there (siblings resolve from the
built wheels, third-party dependencies from the index) and imports each
package from the installed wheel, not from the source tree.
Run: `python tools/check_wheels.py`; exit status 1 on a failure.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, packages


def sh(*cmd: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=False
    )


def main() -> int:
    pkgs = packages()
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        for pkg in pkgs:
            built = sh(
                sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, pkg.folder
            )
            if built.returncode != 0:
                print(f"FAIL build {pkg.dist}:\n{built.stdout[-2000:]}{built.stderr[-2000:]}")
                return 1
            print(f"ok   build {pkg.dist}")
        wheels = sorted(dist.glob("*.whl"))
        sdists = sorted(dist.glob("*.tar.gz"))
        if len(wheels) != len(pkgs) or len(sdists) != len(pkgs):
            print(f"FAIL expected {len(pkgs)} wheels and sdists, got {len(wheels)}, {len(sdists)}")
            return 1
        venv = Path(tmp) / "venv"
        made = sh(sys.executable, "-m", "venv", venv)
        if made.returncode != 0:
            print(f"FAIL venv: {made.stderr}")
            return 1
        python = venv / "bin" / "python"
        extras = [
            "flagstone-sessions[redis]",
            "flagstone-routing[requests]",
            "flagstone-middleware[requests]",
        ]
        install = sh(python, "-m", "pip", "install", "-q", "--find-links", dist, *wheels, *extras)
        if install.returncode != 0:
            print(f"FAIL install:\n{install.stdout[-2000:]}{install.stderr[-2000:]}")
            return 1
        names = [p.import_name for p in pkgs]
        probe = (
            "import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    m = importlib.import_module(name)\n"
            "    assert 'site-packages' in m.__file__, m.__file__\n"
            "    assert isinstance(m.__all__, list), name\n"
            "print('imported', len(sys.argv))\n"
        )
        imported = sh(python, "-c", probe, cwd=Path(tmp))
        if imported.returncode != 0:
            print(f"FAIL import from wheels:\n{imported.stderr[-2000:]}")
            return 1
    print(f"wheels: {len(pkgs)} packages built (sdist + wheel), installed and imported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
