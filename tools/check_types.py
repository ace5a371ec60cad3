"""Type check: `mypy --strict` over every package's source and over tools/.

Each package is checked as an installed package (`-p name`, the workspace
installs them editable), so cross-package types are seen the way users see
them.  Run: `python tools/check_types.py`; exit status 1 on an error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, packages


def main() -> int:
    args = [sys.executable, "-m", "mypy", "--strict"]
    for pkg in packages():
        args += ["-p", pkg.import_name]
    code = subprocess.run(args, cwd=ROOT, check=False).returncode
    # tools/ is a set of scripts, not a package: each folder is checked on its
    # own, so two folders may both have a `run.py`.
    folders = [ROOT / "tools", *sorted(p for p in (ROOT / "tools").iterdir() if p.is_dir())]
    for folder in folders:
        if folder.name in ("tests", "__pycache__"):
            continue
        files = sorted(str(p.relative_to(ROOT)) for p in folder.glob("*.py"))
        if files:
            # Subfolders import the shared helpers of tools/ (serving, http1).
            env = {**os.environ, "MYPYPATH": str(ROOT / "tools")}
            code |= subprocess.run(
                [sys.executable, "-m", "mypy", "--strict", *files], cwd=ROOT, env=env, check=False
            ).returncode
    # The contract's README examples are typed documentation: each block is
    # checked as its own module, so an example that stops type-checking fails.
    code |= _check_readme_examples(ROOT / "packages" / "asgi-contract" / "README.md")
    # The demo and the mini framework are documentation that runs: they are
    # held to the same bar.
    code |= subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "-p", "flagstone_demo", "-p", "minifw"],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT / "packages" / "meta" / "examples")},
        check=False,
    ).returncode
    return 1 if code else 0


def _check_readme_examples(readme: Path) -> int:
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for number, block in enumerate(blocks):
            path = Path(folder) / f"readme_example_{number}.py"
            path.write_text(block)
            files.append(str(path))
        if not files:
            return 0
        print(f"{readme.relative_to(ROOT)}: {len(files)} example(s)")
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", *files], cwd=ROOT, check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
