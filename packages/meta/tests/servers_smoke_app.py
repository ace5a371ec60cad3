"""A smoke-test ASGI app built with flagstone, served by real servers in test_servers.py.

Every route exercises one thing a server and the toolkit must agree on:
plain text, JSON, path and query parameters, request bodies, multipart,
a streamed 1 MiB body, server-sent events, HEAD, 404/405, a 500 from an
exception, a WebSocket echo with a close code, a WebSocket denial, lifespan
state, and a `FileResponse` (sent with `http.response.pathsend` when the
server offers it).  `GET /info` reports what the server told the app (ASGI
versions, extensions) and counters the tests poll: how many pathsend messages
went out and how many endless streams ended after a client went away.

The file served at /file is `SERVERS_SMOKE_FILE` (set by the tests), else this
module.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from flagstone import (
    App,
    EventSourceResponse,
    FileResponse,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Receive,
    Request,
    Response,
    Route,
    Scope,
    Send,
    ServerSentEvent,
    StreamingResponse,
    WebSocket,
    WebSocketDisconnect,
    WebSocketRoute,
)

STREAM_CHUNK = 64 * 1024
STREAM_CHUNKS = 16  # 1 MiB in all
SMOKE_FILE = Path(os.environ.get("SERVERS_SMOKE_FILE") or __file__)

# Per-process counters (a server runs one process here); read through /info.
counters: dict[str, int] = {"pathsend": 0, "endless_started": 0, "endless_ended": 0}
last_scope: dict[str, Any] = {}


class CountPathsend:
    """Counts `http.response.pathsend` messages the app sends (raw ASGI middleware)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/info":
            last_scope.update(
                asgi=dict(scope.get("asgi") or {}),
                extensions=sorted(scope.get("extensions") or {}),
                http_version=scope.get("http_version"),
            )

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.pathsend":
                counters["pathsend"] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello, world")


async def json_route(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "unicode": "flagstone ✓"})


async def item(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "item_id": request.path_params["item_id"],
            "q": request.query_params.getlist("q"),
            "limit": request.query_params.get("limit"),
        }
    )


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(
        body, media_type=request.headers.get("content-type", "application/octet-stream")
    )


async def upload(request: Request) -> JSONResponse:
    async with request.form(max_files=2, max_part_size=4 * 1024 * 1024) as form:
        file = form.get("file")
        if file is None or isinstance(file, str):
            return JSONResponse({"error": "no file"}, status_code=400)
        data = await file.read()
        return JSONResponse(
            {
                "filename": file.filename,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "note": form.get("note"),
            }
        )


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(STREAM_CHUNKS):
            yield bytes([index]) * STREAM_CHUNK

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def sse(request: Request) -> EventSourceResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        for number in range(3):
            yield ServerSentEvent(data={"n": number}, id=str(number), event="tick")

    return EventSourceResponse(events(), ping_interval=None)


async def endless(request: Request) -> StreamingResponse:
    """Streams until the client goes away; counts starts and ends for /info."""

    async def forever() -> AsyncIterator[bytes]:
        counters["endless_started"] += 1
        try:
            while True:
                yield b"tick\n"
                await anyio.sleep(0.01)
        finally:
            counters["endless_ended"] += 1

    return StreamingResponse(forever(), media_type="text/plain")


async def boom(request: Request) -> Response:
    raise RuntimeError("boom on purpose")


async def state(request: Request) -> JSONResponse:
    return JSONResponse({"started": request.state.started, "name": request.state.name})


async def file(request: Request) -> FileResponse:
    return FileResponse(SMOKE_FILE, media_type="application/octet-stream")


async def info(request: Request) -> JSONResponse:
    return JSONResponse({"counters": counters, "scope": last_scope, "pid": os.getpid()})


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close":
                await websocket.close(code=4001, reason="bye")
                return
            if message.get("text") is not None:
                await websocket.send_text("echo:" + message["text"])
            else:
                await websocket.send_bytes(b"echo:" + message["bytes"])
    except WebSocketDisconnect:
        pass


async def ws_deny(websocket: WebSocket) -> None:
    # Closing before accept: the server must refuse the handshake (403).
    await websocket.close(code=1008)


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    yield {"started": True, "name": "smoke"}


app = App(
    routes=[
        Route("/", hello),
        Route("/json", json_route),
        Route("/items/{item_id:int}", item),
        Route("/echo", echo, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/stream", stream),
        Route("/sse", sse),
        Route("/endless", endless),
        Route("/boom", boom),
        Route("/state", state),
        Route("/file", file),
        Route("/info", info),
        WebSocketRoute("/ws/echo", ws_echo),
        WebSocketRoute("/ws/deny", ws_deny),
    ],
    middleware=[Middleware(CountPathsend)],
    lifespan=lifespan,
)
