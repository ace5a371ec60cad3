"""A third-party framework app (Starlette, a test-only dependency) driven by the client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest

from flagstone_testclient import (
    AsyncTestClient,
    TestClient,
    WebSocketClosed,
    WebSocketDenialResponse,
)

starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402


def build_app(log: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        log.append("startup")
        yield {"greeting": "hello"}
        log.append("shutdown")

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    async def upload(request: Request) -> JSONResponse:
        chunks = [chunk async for chunk in request.stream() if chunk]
        return JSONResponse({"chunks": len(chunks), "size": sum(map(len, chunks))})

    async def events(request: Request) -> StreamingResponse:
        async def generate() -> AsyncIterator[str]:
            n = 0
            try:
                while True:
                    yield f"data: {n}\n\n"
                    n += 1
            finally:
                log.append("generator closed")

        return StreamingResponse(generate(), media_type="text/event-stream")

    async def echo(websocket: WebSocket) -> None:
        if websocket.query_params.get("deny"):
            await websocket.send_denial_response(PlainTextResponse("nope", status_code=403))
            return
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{websocket.state.greeting}, {text}")
        await websocket.close(code=4000)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/upload", upload, methods=["POST"]),
            Route("/events", events),
            WebSocketRoute("/ws", echo),
        ],
        lifespan=lifespan,
    )


def test_lifespan_state_reaches_requests(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    with make_client(build_app(log)) as client:
        assert client.get("/").text == "hello"
        assert client.get("/missing").status_code == 404
    assert log == ["startup", "shutdown"]


def test_streamed_upload_arrives_in_chunks(make_client: Callable[..., TestClient]) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 1000

    with make_client(build_app([])) as client:
        assert client.post("/upload", content=body()).json() == {"chunks": 5, "size": 5000}


def test_endless_streaming_response_read_partly(make_client: Callable[..., TestClient]) -> None:
    with make_client(build_app([])) as client, client.stream("GET", "/events") as response:
        lines = []
        for line in response.iter_lines():
            if line:
                lines.append(line)
            if len(lines) == 3:
                break
    assert lines == ["data: 0", "data: 1", "data: 2"]


def test_websocket_and_denial(make_client: Callable[..., TestClient]) -> None:
    with make_client(build_app([])) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("world")
            assert ws.receive_text() == "hello, world"
            with pytest.raises(WebSocketClosed) as info:
                ws.receive_text()
            assert info.value.code == 4000
        with (
            pytest.raises(WebSocketDenialResponse) as denial,
            client.websocket_connect("/ws?deny=1"),
        ):
            pass
        assert (denial.value.status_code, denial.value.text) == (403, "nope")


@pytest.mark.anyio
async def test_async_client_with_starlette() -> None:
    log: list[str] = []
    async with AsyncTestClient(build_app(log)) as client:
        assert (await client.get("/")).text == "hello"
        async with client.stream("GET", "/events") as response:
            async for line in response.aiter_lines():
                assert line == "data: 0"
                break
        async with client.websocket_connect("/ws") as ws:
            await ws.send_text("async")
            assert await ws.receive_text() == "hello, async"
        with anyio.fail_after(5):
            assert (await client.get("/")).status_code == 200
    assert log[0] == "startup"
    assert log[-1] == "shutdown"
