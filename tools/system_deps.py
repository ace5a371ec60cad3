"""Install the system services the test suite starts for real, when missing.

The sessions and broadcast tests run a real `redis-server` on 127.0.0.1,
the broadcast tests a real PostgreSQL (`initdb` + `postgres`), and the
demo's browser test drives Debian's `chromium`.  Neither comes from PyPI, so the
README's test command calls this first: as root (CI, containers) or with
password-less sudo it installs what is missing with apt-get, waiting for the
package manager's lock when another apt or dpkg holds it; otherwise it
prints the one command to run.  It never fails the run itself.

Tests call `require(binary)`: with the program missing they are skipped with
that one command when this machine cannot install it (not root, no apt-get),
and fail when it could have (then this script should have installed it, and
a skip would hide that).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

# binary -> Debian package
NEEDED = {"redis-server": "redis-server", "chromium": "chromium", "initdb": "postgresql"}
# Debian keeps PostgreSQL's server programs off PATH, one folder per version.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# How long to wait for another apt/dpkg to release its lock (unattended
# upgrades on a fresh machine can hold it for minutes).
LOCK_WAIT = 600.0
LOCK_MESSAGES = ("Could not get lock", "Unable to acquire the dpkg frontend lock", "is locked")


def find_binary(binary: str) -> str | None:
    """The path of `binary`: on PATH, or in Debian's PostgreSQL folder (newest version)."""
    found = shutil.which(binary)
    if found is not None:
        return found
    folders = sorted(glob.glob(POSTGRES_BIN_GLOB), key=_version_of_folder, reverse=True)
    for folder in folders:
        found = shutil.which(binary, path=folder)
        if found is not None:
            return found
    return None


def _version_of_folder(folder: str) -> tuple[int, ...]:
    version = folder.rstrip("/").split("/")[-2]
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def missing_packages() -> list[str]:
    return [pkg for binary, pkg in NEEDED.items() if find_binary(binary) is None]


def sudo_prefix() -> list[str] | None:
    """[] as root, ["sudo", "-n"] with password-less sudo, None when we may not install."""
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0
    ):
        return ["sudo", "-n"]
    return None


def can_install() -> bool:
    return shutil.which("apt-get") is not None and sudo_prefix() is not None


def install_command(packages: Sequence[str]) -> str:
    """The exact command a person runs to install `packages`."""
    names = " ".join(packages)
    if shutil.which("apt-get") is None:
        return f"install {names} with this system's package manager (no apt-get here)"
    prefix = "" if os.geteuid() == 0 else "sudo "
    return f"{prefix}apt-get install -y {names}"


def run_waiting_for_lock(
    command: Sequence[str], wait: float = LOCK_WAIT, env: dict[str, str] | None = None
) -> int:
    """Run an apt-get command; while it fails on the package manager's lock, retry.

    apt-get's own `DPkg::Lock::Timeout` covers dpkg's lock but not the lists
    lock `apt-get update` takes, so the retry covers both.
    """
    deadline = time.monotonic() + wait
    told = False
    while True:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        output = result.stdout + result.stderr
        locked = result.returncode != 0 and any(m in output for m in LOCK_MESSAGES)
        if not locked or time.monotonic() > deadline:
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            return result.returncode
        if not told:
            print(f"system_deps: another package manager holds the lock; waiting up to {wait:g} s")
            told = True
        time.sleep(2)  # polling another process's lock, not synchronising a test


def apt_install(packages: list[str]) -> bool:
    prefix = sudo_prefix()
    if prefix is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", f"DPkg::Lock::Timeout={int(LOCK_WAIT)}"]
    if run_waiting_for_lock([*prefix, "apt-get", *lock, "update", "-qq"], env=env) != 0:
        return False
    install = [*prefix, "apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends"]
    return run_waiting_for_lock([*install, *packages], env=env) == 0


def require(binary: str) -> None:
    """In a test: skip when `binary` is missing and cannot be installed here; fail if it could."""
    import pytest

    if find_binary(binary) is not None:
        return
    command = install_command([NEEDED.get(binary, binary)])
    if can_install():
        pytest.fail(
            f"{binary} is missing, though this machine could install it: "
            f"run `python3 tools/system_deps.py` (the README test command does) or `{command}`",
            pytrace=False,
        )
    pytest.skip(f"{binary} is not installed: run `{command}`")


def main() -> int:
    missing = missing_packages()
    if not missing:
        return 0
    if shutil.which("apt-get") and apt_install(missing):
        print(f"system_deps: installed {' '.join(missing)}")
        return 0
    print(
        f"system_deps: could not install {' '.join(missing)}; the tests that need them "
        f"will be skipped. Install with: {install_command(missing)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
