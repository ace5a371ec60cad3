"""Every test against the newest release of every third-party dependency.

CI installs the versions constraints.txt pins, so a release upstream cannot
turn main red overnight; this shows what such a release would do before the
lock is refreshed.  Run it on a schedule (or before `hatch run lock:refresh`):
`hatch run newest:run [pytest args]`.  The `newest` environment has no
constraints file; this upgrades every requirement `tools/lock.py` collects to
its newest release, prints what differs from the lock, then runs the whole
suite, end-to-end tests included.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT
from lock import LOCK, requirements

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)", re.M)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str]) -> int:
    upgrade = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--upgrade"]
    if subprocess.run([*upgrade, "--python", sys.executable, *requirements()]).returncode:
        return 1
    locked = {normal(n): v for n, v in PIN.findall(LOCK.read_text())}
    ahead = []
    for dist in metadata.distributions():
        name = normal(dist.metadata["Name"])
        if name in locked and locked[name] != dist.version:
            ahead.append(f"  {name}: locked {locked[name]}, newest {dist.version}")
    print("newer than constraints.txt:" if ahead else "constraints.txt pins the newest versions")
    print("\n".join(sorted(ahead)))
    subprocess.run([sys.executable, "tools/system_deps.py"], cwd=ROOT, check=False)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "packages", "tools/tests", *argv], cwd=ROOT
    ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
