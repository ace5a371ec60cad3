"""The scenarios as raw ASGI apps: no framework at all, the floor.

Each app does the least work that still gives the same answer as the
framework apps (same status, body and content-type), so "toolkit / raw"
says how much a framework costs over the protocol itself.  They are not
hardened (no limits, no error handling): only the benchmark's exact request
is expected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import zlib
from collections.abc import Callable
from email.utils import formatdate
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from bench_scenarios import (
    BACKGROUND_RUNS,
    CORS_ORIGIN,
    FASTAPI_HELLO,
    FASTAPI_SCENARIOS,
    GZIP_STREAM_CHUNK,
    GZIP_STREAM_CHUNKS,
    GZIP_TEXT,
    JSON_PAYLOAD,
    MIDDLEWARE_SCENARIOS,
    SECRET_KEY,
    STATIC_FILE,
    STREAM_CHUNK,
    STREAM_CHUNKS,
    PassThrough,
    Scenario,
    expected_route_body,
    fastapi_item_answer,
    json_body,
    static_directory,
)

from flagstone_contract import ASGIApp, Receive, Scope, Send

__all__ = ["build", "read_request", "variant"]

TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
JSON = [(b"content-type", b"application/json")]


def variant() -> str:
    """How the raw apps are built (shown in the report)."""
    return "hand-written ASGI callables"


async def _respond(
    send: Send, body: bytes, headers: list[tuple[bytes, bytes]], status: int = 200
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """Plain text."""
    await _respond(send, b"Hello, world!", TEXT)


async def json_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A JSON document."""
    await _respond(send, json_body(JSON_PAYLOAD), JSON)


async def params(scope: Scope, receive: Receive, send: Send) -> None:
    """Path parameter + query parameters echoed as JSON."""
    user_id = int(scope["path"].rsplit("/", 1)[1])
    query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    payload = {"user_id": user_id, "q": query["q"], "page": int(query["page"])}
    await _respond(send, json_body(payload), JSON)


def routes(count: int) -> ASGIApp:
    """`count` parametrized routes; the raw floor is a dict lookup on the segment."""
    table = {f"resource{index}": index for index in range(count)}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        _, _, _, resource, item = scope["path"].split("/")
        body = expected_route_body(table[resource], int(item)).encode()
        await _respond(send, body, TEXT)

    return app


async def form(scope: Scope, receive: Receive, send: Send) -> None:
    """An urlencoded form echoed as JSON."""
    fields = dict(parse_qsl((await _read_body(receive)).decode("latin-1")))
    await _respond(send, json_body(fields), JSON)


_FILENAME = re.compile(rb'filename="([^"]*)"')


async def multipart(scope: Scope, receive: Receive, send: Send) -> None:
    """A multipart upload: answer `<filename>:<size>` of the file part.

    The floor: no copy of the file data beyond joining the body, just the
    offsets of the file part's headers and of the closing boundary (found
    from the end, where it is).  Good for the benchmark's request only.
    """
    content_type = dict(scope["headers"])[b"content-type"]
    boundary = b"--" + content_type.split(b"boundary=", 1)[1]
    body = await _read_body(receive)
    found = _FILENAME.search(body, 0, 4096)
    answer = b""
    if found:
        data_start = body.index(b"\r\n\r\n", found.end()) + 4
        data_end = body.rindex(b"\r\n" + boundary)
        answer = found.group(1) + b":" + str(data_end - data_start).encode()
    await _respond(send, answer, TEXT)


def _sign(payload: bytes) -> bytes:
    return hmac.new(SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest().encode()


async def session(scope: Scope, receive: Receive, send: Send) -> None:
    """Read and write a signed cookie session: base64 JSON + HMAC-SHA256."""
    data: dict[str, int] = {}
    cookie_header = dict(scope["headers"]).get(b"cookie")
    if cookie_header:
        morsel = SimpleCookie(cookie_header.decode("latin-1")).get("session")
        if morsel is not None:
            payload, _, signature = morsel.value.encode().rpartition(b".")
            if hmac.compare_digest(_sign(payload), signature):
                data = json.loads(base64.b64decode(payload))
    data["count"] = data.get("count", 0) + 1
    payload = base64.b64encode(json.dumps(data).encode())
    cookie = b"session=" + payload + b"." + _sign(payload)
    cookie += b"; path=/; Max-Age=1209600; httponly; samesite=lax"
    await _respond(send, str(data["count"]).encode(), [*TEXT, (b"set-cookie", cookie)])


async def background(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond, then run the task (like Starlette: inside the same ASGI call)."""
    await _respond(send, b"queued", TEXT)
    await BACKGROUND_RUNS.bump()


async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
    """1 MiB in 64 KiB chunks, then the closing empty body message."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    for _ in range(STREAM_CHUNKS):
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, echo every text message, stop at the disconnect."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", "text": message["text"]})


def middleware_5() -> ASGIApp:
    """Hello behind five pass-through middlewares."""
    app: ASGIApp = hello
    for _ in range(5):
        app = PassThrough(app)
    return app


def static_file(not_modified: bool) -> ASGIApp:
    """The static-* floor: stat and read the file on each request (no path checks)."""
    path = str(static_directory() / STATIC_FILE)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        stat_result = os.stat(path)
        last_modified = formatdate(stat_result.st_mtime, usegmt=True).encode()
        validators = [(b"last-modified", last_modified)]
        if not_modified:
            since = dict(scope["headers"]).get(b"if-modified-since")
            if since == last_modified:
                await send({"type": "http.response.start", "status": 304, "headers": validators})
                await send({"type": "http.response.body", "body": b""})
                return
        # Blocking on purpose: the floor skips the worker-thread hop (1 KiB, page cache).
        with open(path, "rb") as handle:  # noqa: ASYNC230
            body = handle.read()
        await _respond(send, body, [*TEXT, *validators])

    return app


_BUILDERS: dict[str, Callable[[], ASGIApp]] = {
    "hello": lambda: hello,
    "json": lambda: json_app,
    "params": lambda: params,
    "form": lambda: form,
    "multipart": lambda: multipart,
    "session": lambda: session,
    "background": lambda: background,
    "streaming": lambda: streaming,
    "websocket": lambda: websocket,
    "middleware-5": middleware_5,
    "static-small": lambda: static_file(False),
    "static-304": lambda: static_file(True),
}


# --- middleware scenarios (issue 15): the least work giving the same answer ------------

_PREFLIGHT_HEADERS = [
    (b"vary", b"Origin"),
    (b"access-control-allow-origin", CORS_ORIGIN.encode()),
    (b"access-control-allow-methods", b"GET, POST"),
    (b"access-control-allow-headers", b"X-Token"),
    (b"access-control-max-age", b"600"),
    *TEXT,
]


async def cors_preflight(scope: Scope, receive: Receive, send: Send) -> None:
    """Check the three preflight headers by hand and answer OK."""
    headers = dict(scope["headers"])
    ok = (
        headers.get(b"origin") == CORS_ORIGIN.encode()
        and headers.get(b"access-control-request-method") in (b"GET", b"POST")
        and headers.get(b"access-control-request-headers", b"").lower() == b"x-token"
    )
    await _respond(send, b"OK" if ok else b"Disallowed", _PREFLIGHT_HEADERS, 200 if ok else 400)


async def cors_simple(scope: Scope, receive: Receive, send: Send) -> None:
    """Hello, with the allowed origin echoed."""
    origin = dict(scope["headers"]).get(b"origin", b"")
    cors = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
    await _respond(send, b"Hello, world!", [*TEXT, *cors])


async def gzip_1k(scope: Scope, receive: Receive, send: Send) -> None:
    """The 1 KiB text, gzipped in one go."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = compressor.compress(GZIP_TEXT.encode()) + compressor.flush()
    await _respond(
        send, body, [*TEXT, (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    )


async def gzip_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """The streamed chunks, each gzipped and sync-flushed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    headers = [*TEXT, (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(GZIP_STREAM_CHUNKS):
        body = compressor.compress(GZIP_STREAM_CHUNK) + compressor.flush(zlib.Z_SYNC_FLUSH)
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": compressor.flush()})


_MIDDLEWARE_BUILDERS: dict[str, Callable[[], ASGIApp]] = {
    "cors-preflight": lambda: cors_preflight,
    "cors-simple": lambda: cors_simple,
    "gzip-1k": lambda: gzip_1k,
    "gzip-stream": lambda: gzip_stream,
    # The floor of "one middleware around hello" is hello itself.
    "base-middleware": lambda: hello,
}


# --- FastAPI scenarios (issue 24): the same exchange with no framework ------------------


async def fastapi_hello(scope: Scope, receive: Receive, send: Send) -> None:
    """FastAPI's first example, by hand."""
    await _respond(send, json_body(FASTAPI_HELLO), JSON)


async def fastapi_item(scope: Scope, receive: Receive, send: Send) -> None:
    """Parse the posted item, answer it with its total quantity (no validation: the floor)."""
    item = json.loads(await _read_body(receive))
    await _respond(send, json_body(fastapi_item_answer(item)), JSON)


_FASTAPI_BUILDERS: dict[str, Callable[[], ASGIApp]] = {
    "fastapi-hello": lambda: fastapi_hello,
    "fastapi-json": lambda: fastapi_item,
}


def build(scenario: Scenario) -> ASGIApp:
    """The raw ASGI app for `scenario`."""
    if scenario.name in FASTAPI_SCENARIOS:
        return _FASTAPI_BUILDERS[scenario.name]()
    if scenario.name in MIDDLEWARE_SCENARIOS:
        return _MIDDLEWARE_BUILDERS[scenario.name]()
    if scenario.routes:
        return routes(scenario.routes)
    return _BUILDERS[scenario.name]()


def read_request() -> Callable[[Scope], tuple[str, str, object]]:
    """The micro-benchmark's floor: pick a header, a query param and a path param by hand."""

    def read(scope: Scope) -> tuple[str, str, object]:
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        return headers["user-agent"], query["q"], scope["path_params"]["user_id"]

    return read
