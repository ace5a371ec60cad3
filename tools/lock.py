"""Refresh constraints.txt: the exact third-party versions every environment installs.

Every hatch environment installs under `UV_CONSTRAINT=constraints.txt` (root
pyproject.toml), so CI tests the versions this file names, not whatever was
released last night.  This collects every third-party requirement of every
package (extras included) and of the root environments, and resolves them
once for every Python CI tests (`uv pip compile --universal`).
Run: `hatch run lock:refresh`, run the tests, commit constraints.txt.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import PYTHONS, ROOT, packages

LOCK = ROOT / "constraints.txt"
# On-demand environments whose tools need not be pinned for CI.
UNLOCKED_ENVS = {"fuzz", "newest", "lock"}


def requirements(root: Path = ROOT) -> list[str]:
    """Every third-party requirement of the packages and of the locked environments."""
    ours = {pkg.dist for pkg in packages(root)}
    found: set[str] = set()
    for pkg in packages(root):
        project = pkg.pyproject["project"]
        found.update(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            found.update(extra)
    envs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["envs"]
    for name, env in envs.items():
        if name not in UNLOCKED_ENVS:
            found.update(env.get("dependencies", []))
            found.update(env.get("extra-dependencies", []))

    def is_ours(requirement: str) -> bool:
        name = requirement.split(";")[0].split("[")[0]
        for sep in "<>=!~ ":
            name = name.split(sep)[0]
        return name.strip() in ours

    return sorted(r for r in found if not is_ours(r))


def compile_lock(output: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text("\n".join(requirements()) + "\n")
        command = [
            sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--universal",
            "--python-version", PYTHONS[0], "--custom-compile-command", "hatch run lock:refresh",
            "--no-annotate", "--output-file", str(output), str(source),
        ]  # fmt: skip
        return subprocess.run(command, cwd=ROOT, check=False).returncode


def main() -> int:
    code = compile_lock(LOCK)
    if code == 0:
        pinned = sum(1 for line in LOCK.read_text().splitlines() if "==" in line)
        print(f"wrote {LOCK.relative_to(ROOT)}: {pinned} pinned versions")
    return code


if __name__ == "__main__":
    sys.exit(main())
