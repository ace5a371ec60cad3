"""What each benchmark scenario sends and what every toolkit must answer.

The three app modules (`apps_raw`, `apps_starlette`, `apps_flagstone`) build
one ASGI app per scenario from the definitions here, so the request bytes,
the payloads and the expected answers are written down exactly once.  The
runners (`bench_inprocess`, `bench_http`) turn a `Scenario` into ASGI scopes
and messages or into bytes on a socket.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

from flagstone_contract import ASGIApp, Receive, Scope, Send

__all__ = [
    "BACKGROUND_RUNS",
    "CORS_ORIGIN",
    "FASTAPI_HELLO",
    "FASTAPI_SCENARIOS",
    "GZIP_TEXT",
    "GZIP_STREAM_CHUNK",
    "GZIP_STREAM_CHUNKS",
    "MIDDLEWARE_SCENARIOS",
    "BOUNDARY",
    "FORM_FIELDS",
    "JSON_PAYLOAD",
    "MICRO_SCENARIO",
    "ROUTE_COUNTS",
    "SCENARIOS",
    "SECRET_KEY",
    "STATIC_BYTES",
    "STATIC_FILE",
    "STATIC_MTIME",
    "STREAM_CHUNK",
    "STREAM_CHUNKS",
    "UPLOAD_BYTES",
    "WS_MESSAGES",
    "BackgroundCounter",
    "HttpRequest",
    "PassThrough",
    "Scenario",
    "expected_route_body",
    "fastapi_item_answer",
    "json_body",
    "route_path",
    "scenario_names",
    "static_directory",
]

# --- payloads shared by every toolkit -------------------------------------------

JSON_PAYLOAD: dict[str, object] = {
    "id": 12345,
    "name": "flagstone",
    "active": True,
    "score": 98.5,
    "tags": ["asgi", "toolkit", "benchmark"],
    "owner": {"id": 7, "login": "lead", "roles": ["admin", "dev"]},
    "items": [{"sku": f"item-{i}", "qty": i} for i in range(10)],
}

FORM_FIELDS: dict[str, str] = {f"field{i}": f"value {i} & more" for i in range(10)}

BOUNDARY = "----flagstone-bench-boundary-7MA4YWxkTrZu0gW"
UPLOAD_BYTES = 1024 * 1024  # the 1 MiB file of the multipart scenario
STREAM_CHUNK = b"s" * (64 * 1024)
STREAM_CHUNKS = 16  # 16 x 64 KiB = 1 MiB streamed
SECRET_KEY = "bench-secret-key-not-for-production"
ROUTE_COUNTS = (10, 100, 1000)
WS_MESSAGES = tuple(f"message {i}" for i in range(100))

# The static-* scenarios: one 1 KiB text file with a fixed mtime, so every
# toolkit (and every server process) computes the same Last-Modified and ETag.
STATIC_FILE = "small.txt"
STATIC_BYTES = (b"flagstone static file " * 64)[:1024]
STATIC_MTIME = 1_700_000_000


def static_directory() -> Path:
    """The folder the static-* apps serve, created (idempotently) in the temp dir.

    A fixed path rather than a fresh temporary one: the HTTP mode builds the
    apps in server subprocesses, which must all serve the same file.
    """
    folder = Path(tempfile.gettempdir()) / "flagstone-bench-static"
    path = folder / STATIC_FILE
    if not path.is_file() or path.read_bytes() != STATIC_BYTES:
        folder.mkdir(exist_ok=True)
        path.write_bytes(STATIC_BYTES)
    if os.stat(path).st_mtime != STATIC_MTIME:
        os.utime(path, (STATIC_MTIME, STATIC_MTIME))
    return folder


def route_path(index: int) -> str:
    """The path template of route `index` in the routes-N scenarios."""
    # Every route has a path parameter: a framework cannot answer it from a
    # static-path dict, so this is the case where a linear scan costs most.
    return f"/api/v1/resource{index}/{{item_id:int}}"


def expected_route_body(index: int, item_id: int) -> str:
    """What route `index` answers in the routes-N scenarios."""
    return f"resource {index} item {item_id}"


def _multipart_body() -> bytes:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="description"\r\n\r\n'
        "a one mebibyte upload\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="upload.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    # Not a repeated single byte: a parser that searches for the boundary
    # must look at realistic data, not a run it can skip.
    data = (bytes(range(256)) * (UPLOAD_BYTES // 256))[:UPLOAD_BYTES]
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


# --- shared helpers the apps use ------------------------------------------------------


class BackgroundCounter:
    """Counts background-task runs, so the warm-up check can see the task ran."""

    def __init__(self) -> None:
        self.value = 0

    async def bump(self) -> None:
        """The background task of the `background` scenario (async: no thread hop)."""
        self.value += 1


BACKGROUND_RUNS = BackgroundCounter()


class PassThrough:
    """A pure ASGI middleware that does nothing: the `middleware-5` scenario's layer.

    The same class is used by all three toolkits, so the scenario measures
    each toolkit's middleware-stack overhead, not five different middlewares.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward the connection unchanged."""
        await self.app(scope, receive, send)


# --- scenario definitions ----------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request, as method, target, extra headers and body."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Scenario:
    """A benchmark scenario: one request and how to judge its answer."""

    name: str
    description: str
    request: HttpRequest = field(default_factory=HttpRequest)
    kind: Literal["http", "websocket", "micro"] = "http"
    # Header values that must be equal across toolkits ...
    compare_headers: tuple[str, ...] = ("content-type",)
    # ... and headers that must merely be present (their values legitimately
    # differ, e.g. a signed cookie carries a timestamp).
    require_headers: tuple[str, ...] = ()
    # A heavy request gets fewer repetitions per batch: requests // weight.
    weight: int = 1
    # The session scenario needs a cookie from a first, cookie-less request.
    needs_session_cookie: bool = False
    # Compare response bodies as JSON values rather than bytes (key order and
    # whitespace are not what this benchmark is about).
    json_body: bool = False
    ws_messages: tuple[str, ...] = ()
    routes: int = 0
    # The status every answer must have (304 for the conditional GET).
    status: int = 200
    # A framework built on the toolkit ("fastapi"): the starlette and
    # flagstone columns run that framework on each toolkit, each in its own
    # child process (the compatibility layer must be installed before the
    # framework imports Starlette, so the two cannot share a process).
    framework: str | None = None

    @property
    def unit(self) -> str:
        """What one counted operation is."""
        return {"http": "req/s", "websocket": "conn/s", "micro": "ops/s"}[self.kind]


def _scenarios() -> Iterator[Scenario]:
    yield Scenario("hello", "GET / answering a short plain-text body")
    yield Scenario(
        "json",
        "GET /json answering a ~500-byte JSON document",
        HttpRequest(path="/json"),
        json_body=True,
    )
    yield Scenario(
        "params",
        "GET /users/{user_id:int}?q=...&page=... echoing both as JSON",
        HttpRequest(path="/users/42", query="q=flag+stone&page=3"),
        json_body=True,
    )
    for count in ROUTE_COUNTS:
        yield Scenario(
            f"routes-{count}",
            f"{count} parametrized routes, the last one hit",
            HttpRequest(path=f"/api/v1/resource{count - 1}/7"),
            routes=count,
            # A linear-scan router pays ~1 us per route: keep routes-1000
            # from dominating the run time of a default run.
            weight=4 if count >= 1000 else 1,
        )
    yield Scenario(
        "form",
        "POST an urlencoded form of 10 fields, echoed as JSON",
        HttpRequest(
            method="POST",
            path="/form",
            headers=(("content-type", "application/x-www-form-urlencoded"),),
            body=urlencode(FORM_FIELDS).encode(),
        ),
        json_body=True,
    )
    yield Scenario(
        "multipart",
        "POST a 1 MiB file + 1 field as multipart/form-data",
        HttpRequest(
            method="POST",
            path="/upload",
            headers=(("content-type", f"multipart/form-data; boundary={BOUNDARY}"),),
            body=_multipart_body(),
        ),
        weight=20,
    )
    yield Scenario(
        "session",
        "read and write a signed cookie session (count += 1)",
        HttpRequest(path="/session"),
        require_headers=("set-cookie",),
        needs_session_cookie=True,
    )
    yield Scenario(
        "background",
        "plain-text response + one background task run after it",
        HttpRequest(path="/background"),
    )
    yield Scenario(
        "streaming",
        "1 MiB streaming response in 64 KiB chunks",
        HttpRequest(path="/stream"),
        weight=10,
    )
    yield Scenario(
        "websocket",
        "websocket echo of 100 text messages (one op = one connection)",
        HttpRequest(path="/ws"),
        kind="websocket",
        compare_headers=(),
        weight=20,
        ws_messages=WS_MESSAGES,
    )
    yield Scenario("middleware-5", "GET / behind 5 pass-through ASGI middlewares")
    yield Scenario(
        "static-small",
        "GET a 1 KiB file through StaticFiles mounted at /static",
        HttpRequest(path=f"/static/{STATIC_FILE}"),
        compare_headers=("content-type", "content-length", "last-modified"),
    )
    yield Scenario(
        "static-304",
        "conditional GET of that file (If-Modified-Since = its Last-Modified) -> 304",
        HttpRequest(
            path=f"/static/{STATIC_FILE}",
            headers=(("if-modified-since", formatdate(STATIC_MTIME, usegmt=True)),),
        ),
        # Starlette's 304 keeps only a few validators: the status is the answer.
        compare_headers=(),
        status=304,
    )


# --- middleware scenarios (flagstone-middleware; issue 15) -----------------------------
# One middleware in front of a tiny endpoint, configured the same way for
# Starlette's middleware and flagstone's.

CORS_ORIGIN = "https://app.example.org"
# ~1 KiB of text that compresses like a real page (not one repeated byte).
GZIP_TEXT = ("".join(f"<li>item {i}: flagstone</li>" for i in range(40)))[:1024]
GZIP_STREAM_CHUNK = (GZIP_TEXT * 4).encode()  # 4 KiB per chunk
GZIP_STREAM_CHUNKS = 16


def _middleware_scenarios() -> Iterator[Scenario]:
    yield Scenario(
        "cors-preflight",
        "CORS preflight (OPTIONS) answered by CORSMiddleware",
        HttpRequest(
            method="OPTIONS",
            path="/",
            headers=(
                ("origin", CORS_ORIGIN),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "X-Token"),
            ),
        ),
        compare_headers=("content-type", "access-control-allow-origin"),
    )
    yield Scenario(
        "cors-simple",
        "GET / with an allowed Origin through CORSMiddleware",
        HttpRequest(headers=(("origin", CORS_ORIGIN),)),
        compare_headers=("content-type", "access-control-allow-origin"),
    )
    yield Scenario(
        "gzip-1k",
        "GET /gzip: a 1 KiB text body gzipped by GZipMiddleware",
        # The in-process scope always says gzip; over HTTP, say it here.
        HttpRequest(path="/gzip", headers=(("accept-encoding", "gzip"),)),
        compare_headers=("content-type", "content-encoding"),
    )
    yield Scenario(
        "gzip-stream",
        "GET /gzip-stream: 16 x 4 KiB streamed, gzipped chunk by chunk",
        HttpRequest(path="/gzip-stream", headers=(("accept-encoding", "gzip"),)),
        compare_headers=("content-type", "content-encoding"),
        weight=4,
    )
    yield Scenario(
        "base-middleware",
        "GET / through one BaseHTTPMiddleware (dispatch returns call_next)",
    )


MIDDLEWARE_SCENARIOS: dict[str, Scenario] = {s.name: s for s in _middleware_scenarios()}

SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _scenarios()}
SCENARIOS.update(MIDDLEWARE_SCENARIOS)

MICRO_SCENARIO = Scenario(
    "request-micro",
    "build a Request and read a header, a query param and a path param",
    HttpRequest(path="/users/42", query="q=flag+stone&page=3"),
    kind="micro",
    compare_headers=(),
)


def json_body(payload: object) -> bytes:
    """JSON bytes the way the raw apps write them (compact, like Starlette's default)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- FastAPI on Starlette vs FastAPI on flagstone (issue 24) -----------------------------
# The same FastAPI app, unchanged, once on Starlette and once on flagstone
# through flagstone-compat; the raw column answers the same exchange by hand.

FASTAPI_HELLO: dict[str, object] = {"message": "Hello World"}


def fastapi_item_answer(item: dict[str, object]) -> dict[str, object]:
    """What `fastapi-json` answers for a posted item: the item plus its total quantity."""
    lines = item["items"]
    assert isinstance(lines, list)
    return {**item, "total_qty": sum(int(line["qty"]) for line in lines)}


def _fastapi_scenarios() -> Iterator[Scenario]:
    yield Scenario(
        "fastapi-hello",
        'FastAPI: GET / returning {"message": "Hello World"} (its first example)',
        json_body=True,
        framework="fastapi",
    )
    yield Scenario(
        "fastapi-json",
        "FastAPI: POST /items, a ~500-byte JSON body validated into a pydantic model, answered with a pydantic response model",
        HttpRequest(
            method="POST",
            path="/items",
            headers=(("content-type", "application/json"),),
            body=json_body(JSON_PAYLOAD),
        ),
        json_body=True,
        framework="fastapi",
    )


FASTAPI_SCENARIOS: dict[str, Scenario] = {s.name: s for s in _fastapi_scenarios()}


def scenario_names() -> list[str]:
    """Every scenario name, the request micro-benchmark, then the FastAPI ones last."""
    return [*SCENARIOS, MICRO_SCENARIO.name, *FASTAPI_SCENARIOS]
