"""Helpers shared by flagstone-compat's tests (imported via conftest's sys.path).

The layer changes what `import starlette` means for a whole process, and
the other packages' tests use the real Starlette in this one: every test
here runs Python in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_python(
    *args: str, cwd: Path | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with `args`; stdout and stderr as text."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FLAGSTONE_COMPAT", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def run_layered_pytest(
    *args: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m flagstone_compat pytest -q -p no:cacheprovider *args` in `cwd`."""
    return run_python(
        "-m", "flagstone_compat", "pytest", "-q", "-p", "no:cacheprovider", *args,
        cwd=cwd, timeout=timeout,
    )  # fmt: skip


def run_code(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` (dedented) in a fresh interpreter."""
    return run_python("-c", textwrap.dedent(code), timeout=timeout)
