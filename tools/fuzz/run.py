"""Run one fuzz target for a time budget: `python tools/fuzz/run.py --target multipart --minutes 10`.

On demand, never in CI.  Two engines:

- `atheris` (default when installed): coverage-guided libFuzzer over the
  instrumented flagstone_requests, python_multipart and flagstone_config
  code, with a 1 s per-input CPU limit, a hang guard and an RSS limit; a
  finding leaves a `<target>-crash-*`
  / `<target>-timeout-*` file beside the corpus folder (replay it with
  `--replay FILE`).
- `hypothesis`: random and mutated inputs from `hypothesis.strategies`,
  rounds of examples until the budget is spent; the same per-input limit.

Both print how many inputs ran.  Targets live beside this file as
`fuzz_<name>.py` (see fuzz_common.py for the interface).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
TARGETS = ("multipart", "urlencoded", "cookies", "range", "json", "conditional", "dotenv")
# CPU seconds one input may take.  Measured as process CPU time, not wall
# time: the fuzzer runs `nice`d on a shared machine, where a 1 s wall-clock
# limit fires on scheduling delays.  libFuzzer's own (wall-clock) timeout is
# only a hang guard.
PER_INPUT_SECONDS = 1.0
HANG_SECONDS = 30
RSS_LIMIT_MB = 1024
MAX_LEN = 8192


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(HERE))
    return importlib.import_module(f"fuzz_{name}")


class TooSlow(AssertionError):
    """One input took more CPU time than `PER_INPUT_SECONDS`."""


def timed(check: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """`check`, failing when one input costs more than `PER_INPUT_SECONDS` of CPU."""

    def timed_check(data: bytes) -> None:
        started = time.process_time()
        check(data)
        spent = time.process_time() - started
        if spent > PER_INPUT_SECONDS:
            raise TooSlow(f"{spent:.2f} s of CPU for one input of {len(data)} bytes")

    return timed_check


def run_atheris(name: str, seconds: int, corpus: Path | None) -> None:
    """Coverage-guided: libFuzzer mutates inputs that reach new code."""
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]

    with atheris.instrument_imports(
        include=["flagstone_requests", "python_multipart", "flagstone_config"]
    ):
        target = _load(name)
    corpus_dir = corpus or Path(tempfile.mkdtemp(prefix=f"flagstone-fuzz-{name}-"))
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(target.SEEDS):
        (corpus_dir / f"seed-{i}").write_bytes(seed)
    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-timeout={HANG_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={MAX_LEN}",
        "-print_final_stats=1",
        f"-artifact_prefix={corpus_dir.parent}/{name}-",
        str(corpus_dir),
    ]
    print(f"atheris: target={name} budget={seconds}s corpus={corpus_dir}", flush=True)
    atheris.Setup(args, timed(target.check))
    atheris.Fuzz()


def run_hypothesis(name: str, seconds: int) -> None:
    """Random inputs in rounds of examples until the budget is spent."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    target = _load(name)
    check = timed(target.check)
    seeds = st.sampled_from(target.SEEDS)
    inputs = st.binary(max_size=MAX_LEN) | seeds | st.builds(_splice, seeds, st.binary())
    executed = 0

    @settings(
        max_examples=2000,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(inputs)
    def one(data: bytes) -> None:
        nonlocal executed
        executed += 1
        check(data)

    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        one()
        rounds += 1
    print(f"hypothesis: target={name} inputs executed={executed} rounds={rounds}")


def _splice(seed: bytes, noise: bytes) -> bytes:
    """A seed with `noise` written over it at an offset taken from the noise."""
    if not noise:
        return seed
    at = noise[0] % (len(seed) + 1)
    return seed[:at] + noise[1:] + seed[at + len(noise) :]


def replay(name: str, path: Path) -> None:
    """Run one saved input (a crash file) through the target, uninstrumented."""
    target = _load(name)
    target.check(path.read_bytes())
    print(f"{path}: no finding")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the chosen engine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", required=True, choices=TARGETS)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--engine", choices=("atheris", "hypothesis"), default=_default_engine())
    parser.add_argument("--corpus", type=Path, help="atheris corpus folder (default: a temp dir)")
    parser.add_argument("--replay", type=Path, help="run one saved input and exit")
    args: Any = parser.parse_args(argv)
    if args.replay is not None:
        replay(args.target, args.replay)
        return
    seconds = max(1, int(args.minutes * 60))
    if args.engine == "atheris":
        run_atheris(args.target, seconds, args.corpus)
    else:
        run_hypothesis(args.target, seconds)


def _default_engine() -> str:
    try:
        importlib.import_module("atheris")
    except ImportError:
        return "hypothesis"
    return "atheris"


if __name__ == "__main__":
    main()
