"""FastAPI on Starlette against FastAPI on flagstone, in one run: one child process per column.

FastAPI imports Starlette.  flagstone-compat serves those imports from
flagstone, but only when it is installed before anything imports
Starlette, so FastAPI-on-Starlette and FastAPI-on-flagstone cannot share a
process.  For the scenarios of a framework (`Scenario.framework`, the
`fastapi-*` ones) every column therefore runs in a child of its own:

    raw        python bench_fastapi.py --worker SCENARIO raw
    starlette  python bench_fastapi.py --worker SCENARIO starlette
    flagstone  python -m flagstone_compat python bench_fastapi.py --worker SCENARIO flagstone

the flagstone child started the way a FastAPI user starts an app on
flagstone (`python -m flagstone_compat <command>`), and each child checks
that FastAPI in it runs on the toolkit its column is named after.

In-process mode: the parent drives the children with the in-process
harness's `measure` (bench_inprocess): each child builds the app and
answers the warm-up with the harness's own `_prepare` (same scope, same
server-shaped receive/send) and sends its answer back, where the parent
compares the answers as for every other scenario; then the parent asks
the children for timed batches (`_batch`) one at a time, in an order
rotated every round (A B C, B C A, ...), while the others wait on their
pipe.  Callgrind mode: bench_callgrind starts its child under the same
interpreter command (`python_command`), so the flagstone column counts
FastAPI on flagstone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_inprocess import (  # noqa: E402
    BuildFailed,
    Contender,
    Outcome,
    Reported,
    Unavailable,
    _batch,
    _describe,
    _prepare,
    _Prepared,
    measure,
)
from bench_report import Row  # noqa: E402
from bench_scenarios import FASTAPI_SCENARIOS, Scenario  # noqa: E402

from flagstone_contract import ASGIApp  # noqa: E402

__all__ = [
    "FRAMEWORK_DISTS",
    "app_builder",
    "python_command",
    "run_framework_inprocess",
    "unavailable",
    "variants",
]

# Each command is bounded by the harness's RUN_TIMEOUT (in `measure`); a
# child still running this many seconds after its stdin closed is killed.
CLOSE_TIMEOUT = 10.0
# Named in the FastAPI tables' version line.
FRAMEWORK_DISTS = ("fastapi", "pydantic")
# How the flagstone column's child is started: the layer's own launcher.
COMPAT_LAUNCHER = ("-m", "flagstone_compat", "python")


def python_command(scenario: Scenario, toolkit: str) -> list[str]:
    """The interpreter command of `toolkit`'s child for `scenario` (a script path follows)."""
    if scenario.framework is not None and toolkit == "flagstone":
        return [sys.executable, *COMPAT_LAUNCHER]
    return [sys.executable]


def unavailable(scenario: Scenario, toolkit: str) -> str | None:
    """Why `toolkit`'s child could not build `scenario` (looked up without importing), or None."""
    if toolkit == "raw":
        return None
    needed = [scenario.framework or "fastapi", "pydantic"]
    if toolkit == "flagstone":
        needed.append("flagstone_compat")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    return f"cannot import {', '.join(missing)}" if missing else None


def app_builder(toolkit: str) -> Callable[[Scenario], ASGIApp]:
    """In a child: the function building `toolkit`'s app for a FastAPI scenario.

    Raises ImportError when FastAPI is missing, RuntimeError when the
    process does not run FastAPI on the toolkit the column is named after.
    """
    if toolkit == "raw":
        import apps_raw

        return apps_raw.build
    import apps_fastapi

    apps_fastapi.check_toolkit(toolkit)
    return apps_fastapi.build


def variants(toolkits: Sequence[str]) -> dict[str, str]:
    """What each column of the FastAPI tables runs (from the installed metadata, no import)."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "(not installed)"

    fastapi = f"FastAPI {version('fastapi')}"
    known = {
        "raw": "hand-written ASGI callables: the same exchange, json module, no validation",
        "starlette": f"{fastapi} on Starlette {version('starlette')}",
        "flagstone": f"{fastapi} on flagstone, started as `python -m flagstone_compat python ...` (flagstone-compat {version('flagstone-compat')})",
    }
    return {name: known[name] for name in toolkits}


# --- the child ------------------------------------------------------------------------


def _outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["body"] = outcome.body.decode("latin-1")
    return data


def _outcome_from_json(data: dict[str, Any]) -> Outcome:
    return Outcome(
        status=int(data["status"]),
        headers=dict(data["headers"]),
        body=str(data["body"]).encode("latin-1"),
        ws_texts=list(data["ws_texts"]),
    )


def _worker(scenario_name: str, toolkit: str) -> None:
    """Serve the parent's commands, one JSON line each, until stdin closes."""
    replies = sys.stdout
    # Whatever the app or a library prints stays off the protocol.
    sys.stdout = sys.stderr
    scenario = FASTAPI_SCENARIOS[scenario_name]
    prepared: _Prepared | None = None
    with asyncio.Runner() as runner:
        while line := sys.stdin.readline():
            command = json.loads(line)
            reply: dict[str, Any]
            if command["op"] == "prepare":
                try:
                    app = app_builder(toolkit)(scenario)
                except ImportError as exc:
                    reply = {"unavailable": str(exc)}
                except Exception as exc:
                    reply = {"build": _describe(exc)}
                else:
                    try:
                        prepared = runner.run(_prepare(scenario, app))
                        reply = {"outcome": _outcome_to_json(prepared.outcome)}
                    except Exception as exc:
                        reply = {"error": _describe(exc)}
            elif command["op"] == "batch" and prepared is not None:
                try:
                    elapsed, wrong = runner.run(
                        _batch(prepared, int(command["count"]), int(command["expected"]))
                    )
                    reply = {"elapsed": elapsed, "wrong": wrong}
                except Exception as exc:
                    reply = {"error": _describe(exc)}
            else:
                reply = {"error": f"unexpected command {command!r}"}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()


# --- the parent ---------------------------------------------------------------------------


class _Child:
    """One column of a framework scenario, in its own process (a `Contender`)."""

    def __init__(self, scenario: Scenario, toolkit: str) -> None:
        self.scenario = scenario
        self.toolkit = toolkit
        self.process: asyncio.subprocess.Process | None = None
        # The child's stderr, read back when it fails; closed by close().
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) or "nothing on stderr"

    async def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        process = self.process
        assert process is not None, "prepare() first"
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(command).encode() + b"\n")
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            code = await process.wait()
            raise Reported(f"the {self.toolkit} child exited {code}: {self._stderr_tail()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise Reported(str(reply["error"]))
        return reply

    async def prepare(self) -> Outcome:
        reason = unavailable(self.scenario, self.toolkit)
        if reason is not None:
            raise Unavailable(reason)
        self.process = await asyncio.create_subprocess_exec(
            *python_command(self.scenario, self.toolkit),
            str(HERE / "bench_fastapi.py"),
            "--worker",
            self.scenario.name,
            self.toolkit,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.stderr,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        )
        reply = await self._ask({"op": "prepare"})
        if "unavailable" in reply:
            raise Unavailable(str(reply["unavailable"]))
        if "build" in reply:
            raise BuildFailed(str(reply["build"]))
        return _outcome_from_json(reply["outcome"])

    async def batch(self, count: int, expected_status: int) -> tuple[float, int]:
        reply = await self._ask({"op": "batch", "count": count, "expected": expected_status})
        return float(reply["elapsed"]), int(reply["wrong"])

    async def close(self) -> None:
        """Close the child's stdin (it exits); kill it if it does not."""
        process = self.process
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        self.stderr.close()


async def _run_scenario(
    scenario: Scenario, toolkits: Sequence[str], rounds: int, requests: int
) -> Row:
    row = Row(scenario)
    children = {name: _Child(scenario, name) for name in toolkits}
    try:
        contenders: dict[str, Contender] = dict(children)
        await measure(scenario, contenders, row, rounds, requests)
    finally:
        for child in children.values():
            await child.close()
    return row


def run_framework_inprocess(
    scenarios: Sequence[Scenario],
    toolkits: Sequence[str],
    rounds: int,
    requests: int,
    progress: Callable[[str], None],
) -> list[Row]:
    """Every framework scenario in-process, each column in its own child; one Row each."""
    rows = []
    for scenario in scenarios:
        progress(f"in-process (child per column): {scenario.name}")
        rows.append(asyncio.run(_run_scenario(scenario, toolkits, rounds, requests)))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: bench_fastapi.py --worker SCENARIO TOOLKIT (run by run.py)")
