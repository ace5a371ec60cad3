"""Run hatch with these arguments, from inside a hatch environment's script.

`hatch run test:all` ends with `python tools/run_hatch.py run e2e:run`: the
end-to-end tests live in their own environment, and the hatch that started
the script is not importable from the environment it runs in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, hatch_command


def main(argv: list[str]) -> None:
    command = [*hatch_command(), *argv]
    os.chdir(ROOT)
    # exec: signals (Ctrl+C) reach hatch directly and its status is ours.
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
