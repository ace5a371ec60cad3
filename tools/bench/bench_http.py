"""HTTP mode: each toolkit under uvicorn on 127.0.0.1, loaded by a bounded client.

One uvicorn subprocess per toolkit (bench_serve.py) serves every selected
scenario, each on its own free loopback port.  Only one toolkit is under
load at any moment; toolkits are interleaved round by round in a rotated
order.  The load is bounded: a fixed number of requests over a fixed number
of keep-alive connections (the built-in asyncio client), or a fixed
duration (`--client wrk`), and every run sits under a timeout, so a server
that stops answering fails the cell instead of hanging the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_inprocess import Outcome, compare

# tools/http1.py is the one small HTTP/1.1 client of the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_report import Row
from bench_scenarios import Scenario
from http1 import Reply, encode_request, read_reply, request_once

__all__ = ["run_http"]

HERE = Path(__file__).resolve().parent
STARTUP_TIMEOUT = 60.0  # seconds for a toolkit's servers to listen
LOAD_TIMEOUT = 120.0  # seconds for one bounded load run; past it the cell fails


# --- requests and replies (the client itself is tools/http1.py) -------------------------


def request_bytes(scenario: Scenario, port: int, cookie: str | None) -> bytes:
    """The scenario's request, serialized once and written again and again."""
    request = scenario.request
    target = request.path + (f"?{request.query}" if request.query else "")
    headers = [("user-agent", "flagstone-bench/0.1"), ("accept", "*/*"), *request.headers]
    if cookie:
        headers.append(("cookie", cookie))
    return encode_request(request.method, target, headers, request.body, f"127.0.0.1:{port}")


def _outcome(reply: Reply) -> Outcome:
    return Outcome(status=reply.status, headers=dict(reply.headers), body=reply.body)


async def read_response(reader: asyncio.StreamReader) -> Outcome:
    """Read one response as an `Outcome` (compared across toolkits)."""
    return _outcome(await read_reply(reader))


async def one_request(port: int, payload: bytes) -> Outcome:
    """One request on a fresh connection (warm-up check, session cookie)."""
    return _outcome(await request_once(port, payload))


async def http_load(
    port: int, payload: bytes, total: int, connections: int, status: int = 200
) -> tuple[float, int, int]:
    """Send `total` requests over `connections` keep-alive connections.

    Returns (seconds, requests sent, answers with a status other than `status`).
    Connections are opened before the clock starts: the benchmark measures
    requests, not TCP handshakes.
    """
    pairs = [
        await asyncio.open_connection("127.0.0.1", port) for _ in range(min(connections, total))
    ]
    remaining = total
    wrong = 0
    big = len(payload) > 64 * 1024

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal remaining, wrong
        while remaining > 0:
            remaining -= 1
            writer.write(payload)
            if big:  # let the 1 MiB upload drain instead of buffering it all
                await writer.drain()
            outcome = await read_response(reader)
            if outcome.status != status:
                wrong += 1
            if outcome.headers.get("connection", "").lower() == "close":
                raise RuntimeError(
                    f"the server closed the keep-alive connection (status {outcome.status})"
                )

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker(reader, writer) for reader, writer in pairs))
        return time.perf_counter() - start, total, wrong
    finally:
        for _, writer in pairs:
            writer.close()


async def ws_session(port: int, messages: Sequence[str]) -> list[str]:
    """One websocket connection: send each message, wait for its echo."""
    from websockets.asyncio.client import connect

    echoed = []
    # No permessage-deflate: compression would dominate and is the server's
    # (uvicorn's) work, not the toolkit's.
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None) as ws:
        for text in messages:
            await ws.send(text)
            answer = await ws.recv()
            echoed.append(answer if isinstance(answer, str) else answer.decode())
    return echoed


async def ws_load(
    port: int, messages: Sequence[str], total: int, connections: int
) -> tuple[float, int, int]:
    """`total` echo sessions, `connections` at a time; (seconds, sessions, bad echoes)."""
    remaining = total
    wrong = 0
    expected = list(messages)

    async def worker() -> None:
        nonlocal remaining, wrong
        while remaining > 0:
            remaining -= 1
            if await ws_session(port, messages) != expected:
                wrong += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(connections, total))))
    return time.perf_counter() - start, total, wrong


# --- wrk ---------------------------------------------------------------------------------


def wrk_load(
    scenario: Scenario,
    port: int,
    cookie: str | None,
    connections: int,
    duration: float,
    workdir: Path,
) -> tuple[float, int, int]:
    """One time-bounded wrk run; (seconds, requests, non-2xx answers)."""
    request = scenario.request
    lua = [f'wrk.method = "{request.method}"']
    for name, value in request.headers:
        lua.append(f'wrk.headers["{name}"] = "{value}"')
    if cookie:
        lua.append(f'wrk.headers["cookie"] = "{cookie}"')
    if request.body:
        body_file = workdir / f"{scenario.name}.body"
        body_file.write_bytes(request.body)
        lua.append(
            f'local f = assert(io.open("{body_file}", "rb")); wrk.body = f:read("*a"); f:close()'
        )
    script = workdir / f"{scenario.name}-{port}.lua"
    script.write_text("\n".join(lua) + "\n")
    target = f"http://127.0.0.1:{port}{request.path}" + (
        f"?{request.query}" if request.query else ""
    )
    # One wrk thread: the server gets the other core of a 2-core machine.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "-s", str(script), target]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", done.stdout)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output: {done.stdout!r}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", done.stdout
    )
    wrong = int(non_2xx.group(1)) if non_2xx else 0
    wrong += sum(int(n) for n in errors.groups()) if errors else 0
    return float(total.group(2)) * scale, int(total.group(1)), wrong


# --- servers -------------------------------------------------------------------------------


@dataclass
class _Servers:
    """One toolkit's uvicorn subprocess and its scenario ports."""

    process: subprocess.Popen[str]
    ports: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _start(toolkit: str, names: Sequence[str], http: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "bench_serve.py"), toolkit, ",".join(names), http],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_ready(process: subprocess.Popen[str]) -> _Servers:
    import json

    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line:
        _stop(process)
        raise RuntimeError(
            f"the uvicorn servers did not report ready within {STARTUP_TIMEOUT:.0f} s (exit code {process.poll()})"
        )
    report: dict[str, dict[str, Any]] = json.loads(line)
    return _Servers(process, dict(report["ports"]), dict(report["errors"]))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()  # the server process exits at EOF on stdin
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()  # our own child, by its handle
        process.wait()


# --- the runner ------------------------------------------------------------------------------


@dataclass
class _Target:
    port: int
    cookie: str | None
    outcome: Outcome


async def _prepare(scenario: Scenario, port: int) -> _Target:
    """Session cookie if needed, then one checked request (or one echo session)."""
    if scenario.kind == "websocket":
        texts = await ws_session(port, scenario.ws_messages)
        return _Target(port, None, Outcome(status=101, ws_texts=texts))
    cookie = None
    if scenario.needs_session_cookie:
        first = await one_request(port, request_bytes(scenario, port, None))
        set_cookie = first.headers.get("set-cookie")
        if first.status != 200 or not set_cookie or first.body != b"1":
            raise RuntimeError(
                f"the cookie-less first request answered {first.status} {first.body[:60]!r} without a usable set-cookie"
            )
        cookie = set_cookie.split(";", 1)[0]
    outcome = await one_request(port, request_bytes(scenario, port, cookie))
    return _Target(port, cookie, outcome)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no complete answer within {LOAD_TIMEOUT:g} s"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


class _Runner:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir

    async def load(self, scenario: Scenario, target: _Target, total: int) -> tuple[float, int, int]:
        if scenario.kind == "websocket":
            return await ws_load(target.port, scenario.ws_messages, total, self.args.connections)
        if self.args.client == "wrk":
            if scenario.status != 200:
                raise RuntimeError(
                    f"wrk counts the expected {scenario.status} as an error; use --client python"
                )
            return await asyncio.to_thread(
                wrk_load,
                scenario,
                target.port,
                target.cookie,
                self.args.connections,
                self.args.duration,
                self.workdir,
            )
        payload = request_bytes(scenario, target.port, target.cookie)
        return await http_load(target.port, payload, total, self.args.connections, scenario.status)

    async def scenario(self, scenario: Scenario, servers: dict[str, _Servers]) -> Row:
        row = Row(scenario)
        targets: dict[str, _Target] = {}
        for name, group in servers.items():
            if scenario.name in group.errors:
                row.cells[name] = group.errors[scenario.name]
                continue
            try:
                async with asyncio.timeout(LOAD_TIMEOUT):
                    targets[name] = await _prepare(scenario, group.ports[scenario.name])
            except Exception as exc:
                row.cells[name] = f"FAIL (warm-up: {_describe(exc)})"
        self.check(scenario, targets, row)
        total = max(1, self.args.http_requests // scenario.weight)
        seconds: dict[str, list[float]] = {name: [] for name in targets}
        counts: dict[str, list[int]] = {name: [] for name in targets}
        for name, target in list(targets.items()):  # untimed warm-up load
            try:
                async with asyncio.timeout(LOAD_TIMEOUT):
                    if scenario.kind == "websocket":
                        await ws_load(target.port, scenario.ws_messages, min(total, 4), 2)
                    else:
                        payload = request_bytes(scenario, target.port, target.cookie)
                        await http_load(
                            target.port,
                            payload,
                            min(total, 50),
                            self.args.connections,
                            scenario.status,
                        )
            except Exception as exc:
                row.cells[name] = f"FAIL (warm-up load: {_describe(exc)})"
                del targets[name]
        for round_index in range(self.args.http_rounds):
            names = list(targets)
            shift = round_index % max(1, len(names))
            for name in names[shift:] + names[:shift]:
                if name not in targets:
                    continue
                try:
                    async with asyncio.timeout(LOAD_TIMEOUT):
                        elapsed, sent, wrong = await self.load(scenario, targets[name], total)
                except Exception as exc:
                    row.cells[name] = f"FAIL (during load: {_describe(exc)})"
                    del targets[name]
                    continue
                if wrong:
                    row.cells[name] = f"FAIL ({wrong}/{sent} wrong answers)"
                    del targets[name]
                    continue
                seconds[name].append(elapsed)
                counts[name].append(sent)
        for name in targets:
            row.record(name, counts[name], seconds[name])
        return row

    @staticmethod
    def check(scenario: Scenario, targets: dict[str, _Target], row: Row) -> None:
        """The in-process rule: raw/Starlette disagreeing fails all, flagstone only itself."""
        reference_name = next((n for n in ("raw", "starlette") if n in targets), None)
        if reference_name is None:
            return
        reference = targets[reference_name].outcome
        for name in [n for n in targets if n != reference_name]:
            problems = compare(scenario, reference, targets[name].outcome)
            if not problems:
                continue
            message = f"FAIL (differs from {reference_name}: {'; '.join(problems)})"
            victims = list(targets) if name == "starlette" else [name]
            for victim in victims:
                row.cells[victim] = message
                del targets[victim]
            if name == "starlette":
                return


def _loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    # The client is Python too: uvloop keeps its share of the CPU small.
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def run_http(
    scenarios: Sequence[Scenario],
    toolkits: Sequence[str],
    args: argparse.Namespace,
    progress: Callable[[str], None],
    http: str = "httptools",
) -> list[Row]:
    """Every selected scenario over HTTP under uvicorn with the `http` parser; one Row each."""
    if args.client == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--client wrk: `wrk` is not on PATH (Debian/Ubuntu: apt-get install wrk)")
    names = [scenario.name for scenario in scenarios]
    progress(f"http: starting uvicorn ({http}) for {', '.join(toolkits)}")
    processes = {toolkit: _start(toolkit, names, http) for toolkit in toolkits}
    servers: dict[str, _Servers] = {}
    try:
        for toolkit, process in processes.items():
            servers[toolkit] = _wait_ready(process)
        with (
            tempfile.TemporaryDirectory(prefix="flagstone-bench-") as workdir,
            _loop_runner() as runner,
        ):
            bench = _Runner(args, Path(workdir))
            rows = []
            for scenario in scenarios:
                progress(f"http ({http}): {scenario.name}")
                rows.append(_run(runner, bench.scenario(scenario, servers)))
            return rows
    finally:
        for process in processes.values():
            _stop(process)


def _run(runner: asyncio.Runner, coroutine: Coroutine[Any, Any, Row]) -> Row:
    return runner.run(coroutine)
