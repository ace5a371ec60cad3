"""In-process mode: call each toolkit's ASGI app directly, no server, no socket.

Each request gets a fresh shallow copy of a prebuilt scope (apps write into
the scope: `path_params`, `route`, a cached body under `flagstone.body`; a
reused scope would let the second request skip work the first one did) and
a fresh `Exchange` whose receive/send are as cheap as they can be while
still behaving like a server.  Toolkits are interleaved round by round, in
a rotated order, so a slow spell on the shared machine hits all of them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench_report import Row, Toolkit
from bench_scenarios import BACKGROUND_RUNS, MICRO_SCENARIO, Scenario

from flagstone_contract import ASGIApp, Message, Scope

__all__ = [
    "BuildFailed",
    "Contender",
    "Exchange",
    "Outcome",
    "Reported",
    "Unavailable",
    "check_answers",
    "compare",
    "measure",
    "run_inprocess",
    "scope_for",
]

# A server delivers a request body in pieces; 64 KiB is what uvicorn's
# httptools protocol typically hands over per message for a large body.
BODY_CHUNK = 64 * 1024
# An app that stops answering (waits forever on receive, say) fails its cell
# after this many seconds instead of hanging the whole benchmark.
RUN_TIMEOUT = 120.0


def scope_for(scenario: Scenario, cookie: str | None = None) -> dict[str, Any]:
    """The ASGI scope a server would build for the scenario's request."""
    request = scenario.request
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"flagstone-bench/0.1"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
    ]
    headers += [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers
    ]
    if request.body:
        headers.append((b"content-length", str(len(request.body)).encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": "websocket" if scenario.kind == "websocket" else "http",
        # What uvicorn 0.54 (httptools) announces, so each framework takes the
        # code path it takes in production (Starlette, for one, listens for
        # a disconnect while streaming below spec 2.4).
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws" if scenario.kind == "websocket" else "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    if scenario.kind == "websocket":
        scope["subprotocols"] = []
        scope["extensions"] = {"websocket.http.response": {}}
    else:
        scope["method"] = request.method
    return scope


def incoming_for(scenario: Scenario) -> list[Message]:
    """What receive() hands out, in order, before it waits for the response."""
    if scenario.kind == "websocket":
        messages: list[Message] = [{"type": "websocket.connect"}]
        messages += [{"type": "websocket.receive", "text": text} for text in scenario.ws_messages]
        return [*messages, {"type": "websocket.disconnect", "code": 1000}]
    body = scenario.request.body
    pieces = [body[i : i + BODY_CHUNK] for i in range(0, len(body), BODY_CHUNK)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


class Exchange:
    """One connection's receive and send, as cheap as possible but server-shaped."""

    __slots__ = ("_incoming", "_index", "_waiter", "done", "record", "sent", "status", "ws_sends")

    def __init__(self, incoming: list[Message], record: bool = False) -> None:
        self._incoming = incoming
        self._index = 0
        self._waiter: asyncio.Future[None] | None = None
        self.done = False
        self.record = record
        self.sent: list[Message] = []
        self.status = 0
        self.ws_sends = 0

    async def receive(self) -> Message:
        """The next request message; past the body, wait like a server would."""
        if self._index < len(self._incoming):
            self._index += 1
            return self._incoming[self._index - 1]
        # Past the request body a real server blocks until the response is
        # complete (or the client goes away).  Returning http.disconnect at
        # once would tell a framework that listens for disconnects while
        # streaming to abort the response.
        if self._incoming[-1]["type"] == "websocket.disconnect":
            # Returning the disconnect again would let an app that ignores it
            # spin without ever suspending, where no timeout can stop it.
            raise RuntimeError("receive() called again after websocket.disconnect")
        if not self.done:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        """Take a response message; wake a waiting receive once the response is complete."""
        if self.record:
            self.sent.append(message)
        kind = message["type"]
        if kind == "http.response.body":
            if not message.get("more_body", False):
                self.done = True
                if self._waiter is not None and not self._waiter.done():
                    self._waiter.set_result(None)
        elif kind == "http.response.start":
            self.status = message["status"]
        elif kind == "websocket.send":
            self.ws_sends += 1
        elif kind == "websocket.accept":
            self.status = 101


@dataclass
class Outcome:
    """What a toolkit answered to one request, for the cross-toolkit check."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    ws_texts: list[str] = field(default_factory=list)


async def exchange_once(app: ASGIApp, scope: dict[str, Any], incoming: list[Message]) -> Outcome:
    """Run one request and record the whole answer."""
    exchange = Exchange(incoming, record=True)
    await app(dict(scope), exchange.receive, exchange.send)
    outcome = Outcome(status=exchange.status)
    for message in exchange.sent:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                outcome.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            outcome.body += message.get("body", b"")
        elif message["type"] == "websocket.send":
            outcome.ws_texts.append(message.get("text") or "")
    return outcome


def _normal_content_type(value: str | None) -> str | None:
    return None if value is None else value.replace(" ", "").lower()


def compare(scenario: Scenario, reference: Outcome, other: Outcome) -> list[str]:
    """How `other` differs from `reference` (empty when they agree)."""
    problems = []
    if other.status != reference.status:
        problems.append(f"status {other.status} != {reference.status}")
    if scenario.json_body:
        try:
            same = json.loads(other.body) == json.loads(reference.body)
        except ValueError:
            same = False
    else:
        same = other.body == reference.body
    if not same:
        problems.append(
            f"body {other.body[:80]!r} != {reference.body[:80]!r} ({len(other.body)} vs {len(reference.body)} bytes)"
        )
    for name in scenario.compare_headers:
        mine, theirs = other.headers.get(name), reference.headers.get(name)
        if name == "content-type":
            mine, theirs = _normal_content_type(mine), _normal_content_type(theirs)
        if mine != theirs:
            problems.append(f"{name} {mine!r} != {theirs!r}")
    problems += [
        f"no {name} header" for name in scenario.require_headers if name not in other.headers
    ]
    if other.ws_texts != reference.ws_texts:
        problems.append(
            f"websocket echoed {len(other.ws_texts)} messages, expected {len(reference.ws_texts)}"
        )
    return problems


@dataclass
class _Prepared:
    """One toolkit's app plus the request it is benchmarked with."""

    app: ASGIApp
    scope: dict[str, Any]
    incoming: list[Message]
    outcome: Outcome


async def _prepare(scenario: Scenario, app: ASGIApp) -> _Prepared:
    """Warm-up: the session cookie, then one recorded request (checked later)."""
    incoming = incoming_for(scenario)
    cookie = None
    if scenario.needs_session_cookie:
        first = await exchange_once(app, scope_for(scenario), incoming)
        set_cookie = first.headers.get("set-cookie")
        if first.status != 200 or not set_cookie or first.body != b"1":
            raise RuntimeError(
                f"the cookie-less first request answered {first.status} {first.body[:60]!r} without a usable set-cookie"
            )
        cookie = set_cookie.split(";", 1)[0]
    scope = scope_for(scenario, cookie)
    before = BACKGROUND_RUNS.value
    outcome = await exchange_once(app, scope, incoming)
    if scenario.name == "background" and BACKGROUND_RUNS.value != before + 1:
        raise RuntimeError("the background task did not run during the request")
    return _Prepared(app, scope, incoming, outcome)


async def _batch(prepared: _Prepared, count: int, expected_status: int) -> tuple[float, int]:
    """Time `count` requests; return the seconds and how many got a wrong status."""
    app, scope, incoming = prepared.app, prepared.scope, prepared.incoming
    wrong = 0
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        exchange = Exchange(incoming)
        await app(dict(scope), exchange.receive, exchange.send)
        if exchange.status != expected_status:
            wrong += 1
    return time.perf_counter() - start, wrong


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Reported):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"no complete answer within {RUN_TIMEOUT:g} s"
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


class Reported(Exception):
    """An error already described where it happened (a child process): shown as it is."""


class Unavailable(Exception):
    """The toolkit cannot build the scenario (a name or package missing): `n/a`, not a failure."""


class BuildFailed(Exception):
    """Building the scenario's app raised; the message says how."""


class Contender(Protocol):
    """One toolkit's side of a scenario: one checked warm-up, then timed batches.

    The toolkit runs in this process (`_Local`) or in a child process
    (bench_fastapi's workers, for a framework that must be imported on one
    toolkit only); the rounds, the checks and the figures are the same.
    """

    async def prepare(self) -> Outcome:
        """Build the app and answer the warm-up request(s); the answer is checked.

        Raises Unavailable (shown as `n/a`), BuildFailed, or whatever the
        warm-up raised.
        """
        ...

    async def batch(self, count: int, expected_status: int) -> tuple[float, int]:
        """Time `count` requests: the seconds, and how many got another status."""
        ...


class _Local:
    """A toolkit module called in this process."""

    def __init__(self, scenario: Scenario, toolkit: Toolkit) -> None:
        self.scenario = scenario
        self.toolkit = toolkit
        self.prepared: _Prepared | None = None

    async def prepare(self) -> Outcome:
        try:
            app = self.toolkit.build(self.scenario)
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        except Exception as exc:
            raise BuildFailed(_describe(exc)) from exc
        self.prepared = await _prepare(self.scenario, app)
        return self.prepared.outcome

    async def batch(self, count: int, expected_status: int) -> tuple[float, int]:
        assert self.prepared is not None, "prepare() first"
        return await _batch(self.prepared, count, expected_status)


async def _run_scenario(
    scenario: Scenario, toolkits: dict[str, Toolkit], rounds: int, requests: int
) -> Row:
    row = Row(scenario)
    contenders: dict[str, Contender] = {
        name: _Local(scenario, toolkit) for name, toolkit in toolkits.items()
    }
    await measure(scenario, contenders, row, rounds, requests)
    return row


async def measure(
    scenario: Scenario,
    contenders: dict[str, Contender],
    row: Row,
    rounds: int,
    requests: int,
) -> None:
    """Warm up and check every contender, then time them in interleaved rounds into `row`.

    Each round runs every contender's batch back to back, one at a time, in
    an order rotated every round, so a slow spell on the shared machine
    hits all of them.
    """
    live: dict[str, Contender] = {}
    outcomes: dict[str, Outcome] = {}
    for name, contender in contenders.items():
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                outcomes[name] = await contender.prepare()
        except Unavailable as exc:
            row.cells[name] = f"n/a ({exc})"
            continue
        except BuildFailed as exc:
            row.cells[name] = f"FAIL (build: {exc})"
            continue
        except Exception as exc:
            row.cells[name] = f"FAIL (warm-up: {_describe(exc)})"
            continue
        live[name] = contender
    for name in check_answers(scenario, outcomes, row):
        del live[name]
    count = max(1, requests // scenario.weight)
    expected = 101 if scenario.kind == "websocket" else scenario.status
    timings: dict[str, list[float]] = {name: [] for name in live}
    for name in list(live):  # untimed warm batch: caches, lazily built stacks, the allocator
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                await live[name].batch(min(count, 20), expected)
        except Exception as exc:
            row.cells[name] = f"FAIL (warm-up batch: {_describe(exc)})"
            del live[name]
    for round_index in range(rounds):
        names = list(live)
        shift = round_index % max(1, len(names))
        for name in names[shift:] + names[:shift]:
            try:
                async with asyncio.timeout(RUN_TIMEOUT):
                    elapsed, wrong = await live[name].batch(count, expected)
            except Exception as exc:
                row.cells[name] = f"FAIL (during run: {_describe(exc)})"
                del live[name]
                continue
            if wrong:
                row.cells[name] = (
                    f"FAIL ({wrong}/{count} requests got another status than {expected})"
                )
                del live[name]
                continue
            timings[name].append(elapsed)
    for name in live:
        row.record(name, [count] * len(timings[name]), timings[name])


def check_answers(scenario: Scenario, outcomes: dict[str, Outcome], row: Row) -> list[str]:
    """Same status, body and key headers everywhere, else the scenario fails loudly.

    Returns the toolkits that failed (their cells say why).  The reference
    is the raw app (Starlette when raw is not selected).  A raw/Starlette
    disagreement is a bug in this harness and fails every column; a
    flagstone disagreement fails the flagstone column only, so the
    baseline is still measured.
    """
    reference_name = next((n for n in ("raw", "starlette") if n in outcomes), None)
    if reference_name is None:
        return []
    reference = outcomes[reference_name]
    if reference.status not in (101, scenario.status):
        for name in outcomes:
            row.cells[name] = f"FAIL ({reference_name} answered {reference.status})"
        return list(outcomes)
    failed: list[str] = []
    for name in [n for n in outcomes if n != reference_name]:
        problems = compare(scenario, reference, outcomes[name])
        if not problems:
            continue
        message = f"FAIL (differs from {reference_name}: {'; '.join(problems)})"
        if name == "starlette":
            for other in outcomes:
                row.cells[other] = message
            return list(outcomes)
        row.cells[name] = message
        failed.append(name)
    return failed


def _run_micro(toolkits: dict[str, Toolkit], rounds: int, requests: int) -> Row:
    """Build a Request and read a header, a query param and a path param; no app."""
    row = Row(MICRO_SCENARIO)
    scope = scope_for(MICRO_SCENARIO)
    scope["path_params"] = {"user_id": 42}
    readers: dict[str, Callable[[Scope], tuple[str, str, object]]] = {}
    answers: dict[str, tuple[str, str, object]] = {}
    for name, toolkit in toolkits.items():
        try:
            readers[name] = toolkit.read_request()
            answers[name] = readers[name](dict(scope))
        except ImportError as exc:
            row.cells[name] = f"n/a ({exc})"
        except Exception as exc:
            row.cells[name] = f"FAIL ({_describe(exc)})"
    expected = ("flagstone-bench/0.1", "flag stone", 42)
    for name, answer in answers.items():
        if answer != expected:
            row.cells[name] = f"FAIL (read {answer!r}, expected {expected!r})"
            del readers[name]
    count = requests * 20  # one op is ~1-5 us: more of them per batch
    timings: dict[str, list[float]] = {name: [] for name in readers}
    for round_index in range(rounds):
        names = list(readers)
        shift = round_index % max(1, len(names))
        for name in names[shift:] + names[:shift]:
            read = readers[name]
            gc.collect()
            start = time.perf_counter()
            for _ in range(count):
                read(dict(scope))
            timings[name].append(time.perf_counter() - start)
    for name in readers:
        row.record(name, [count] * rounds, timings[name])
    return row


def run_inprocess(
    scenarios: Sequence[Scenario],
    toolkits: dict[str, Toolkit],
    rounds: int,
    requests: int,
    progress: Callable[[str], None],
) -> list[Row]:
    """Every selected scenario in-process; one Row each."""
    rows = []
    for scenario in scenarios:
        progress(f"in-process: {scenario.name}")
        if scenario.kind == "micro":
            rows.append(_run_micro(toolkits, rounds, requests))
        else:
            rows.append(asyncio.run(_run_scenario(scenario, toolkits, rounds, requests)))
    return rows
