"""Install the system services the test suite starts for real, when missing.

The sessions tests run a real `redis-server` on 127.0.0.1 and the demo's
browser test drives Debian's `chromium`.  Neither comes from PyPI, so the
README's test command calls this first: as root (CI, containers) it installs
what is missing with apt-get; otherwise it prints the one command to run.
It never fails the run itself: the tests that need a missing service fail
with their own message saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

NEEDED = {"redis-server": "redis-server", "chromium": "chromium"}


def missing_packages() -> list[str]:
    return [pkg for binary, pkg in NEEDED.items() if shutil.which(binary) is None]


def apt_install(packages: list[str]) -> bool:
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return False
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, check=False)
    if update.returncode != 0:
        return False
    install = [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    return subprocess.run(install, env=env, check=False).returncode == 0


def main() -> int:
    missing = missing_packages()
    if not missing:
        return 0
    if shutil.which("apt-get") and apt_install(missing):
        print(f"system_deps: installed {' '.join(missing)}")
        return 0
    print(
        "system_deps: could not install "
        + " ".join(missing)
        + "; tests that need them will fail. Install with: "
        + f"sudo apt-get install {' '.join(missing)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
