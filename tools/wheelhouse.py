"""Build every package's sdist and wheel into one folder: a local wheelhouse.

`hatch run release:wheelhouse [--outdir dist]`; then, in any virtualenv,
`pip install --find-links dist flagstone-sessions` installs that one piece
with only the siblings it declares (flagstone-contract) taken from dist/ and
its third-party dependencies from the index.  The packages are found under
packages/, none is listed here.  Earlier builds of our packages in the folder
are removed first, so it holds exactly one version of each.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, Package, packages


def artifact_prefix(pkg: Package) -> str:
    """The file-name prefix of a package's wheel and sdist (`flagstone_sessions-`)."""
    return pkg.dist.replace("-", "_") + "-"


def build_all(outdir: Path, pkgs: list[Package] | None = None) -> list[Path]:
    """Build each package into `outdir`; the artifacts made.  Raises on a failed build."""
    pkgs = packages() if pkgs is None else pkgs
    outdir.mkdir(parents=True, exist_ok=True)
    for pkg in pkgs:
        for old in outdir.glob(artifact_prefix(pkg) + "*"):
            old.unlink()
    for pkg in pkgs:
        # uv builds the sdist, then the wheel from the sdist (what an index
        # user's pip would do with the sdist), each in an isolated environment.
        command = [sys.executable, "-m", "uv", "build", "--quiet", "--sdist", "--wheel"]
        command += ["--out-dir", str(outdir)]
        built = subprocess.run(
            [*command, str(pkg.folder)], capture_output=True, text=True, check=False
        )
        if built.returncode != 0:
            raise RuntimeError(
                f"build of {pkg.dist} failed:\n{built.stdout[-2000:]}{built.stderr[-2000:]}"
            )
    return sorted(outdir.iterdir())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        made = build_all(args.outdir)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    for path in made:
        print(path.relative_to(args.outdir.parent) if path.is_relative_to(ROOT) else path)
    wheels = sum(1 for p in made if p.suffix == ".whl")
    print(f"wheelhouse: {wheels} wheels in {args.outdir}; install one piece with")
    print(f"  pip install --find-links {args.outdir} flagstone-sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
