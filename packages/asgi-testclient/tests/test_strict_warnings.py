"""Under a strict warnings policy (`-W error`): no stream left unclosed on any path.

anyio memory streams warn (`ResourceWarning`) when collected unclosed; under
`-W error` that fails a framework's test suite.  Each scenario runs, then the
garbage collector runs, and no `ResourceWarning` may have been issued.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from flagstone_testclient import (
    AppTimeoutError,
    ASGIProtocolError,
    AsyncTestClient,
    TestClient,
    WebSocketClosed,
    WebSocketDenialResponse,
)


def ours(record: list[warnings.WarningMessage]) -> list[str]:
    # httpx's own async generators (`BoundAsyncStream.__aiter__`) make trio
    # warn when a response is closed before its end; that is httpx's to fix.
    messages = [str(w.message) for w in record if issubclass(w.category, ResourceWarning)]
    return [text for text in messages if "'httpx." not in text]


def resource_warnings(run: Callable[[], None]) -> list[str]:
    gc.collect()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run()
        gc.collect()
    return ours(record)


async def async_resource_warnings(run: Callable[[], Awaitable[None]]) -> list[str]:
    gc.collect()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        await run()
        gc.collect()
    return ours(record)


async def ws_echo_once(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    if message["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": message["text"]})
        await receive()


async def ws_close_at_once(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.close", "code": 1008})


async def ws_deny(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"no"})


async def ws_crash(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    raise RuntimeError("boom")


async def ws_silent(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await anyio.sleep_forever()


async def ws_bad_message(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.send", "text": "before accept"})


async def http_stream(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    try:
        while True:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
    except OSError:
        pass


async def http_crash(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        raise RuntimeError("boom")


def ws_session(app: Any, expected: type[BaseException] | None, **options: Any) -> Any:
    def scenario(client: TestClient) -> None:
        if expected is None:
            with client.websocket_connect("/") as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "hi"
            return
        with pytest.raises(expected), client.websocket_connect("/") as ws:
            ws.receive_text()

    return scenario


def http_left_open(client: TestClient) -> None:
    response = client.send(client.build_request("GET", "/"), stream=True)
    assert next(response.iter_raw()) == b"x"


def http_raises(client: TestClient) -> None:
    with pytest.raises(RuntimeError):
        client.get("/")


SYNC_SCENARIOS = [
    pytest.param(ws_echo_once, ws_session(ws_echo_once, None), id="ws-normal"),
    pytest.param(ws_close_at_once, ws_session(ws_close_at_once, WebSocketClosed), id="ws-closed"),
    pytest.param(ws_deny, ws_session(ws_deny, WebSocketDenialResponse), id="ws-denied"),
    pytest.param(ws_crash, ws_session(ws_crash, RuntimeError), id="ws-crash"),
    pytest.param(ws_silent, ws_session(ws_silent, AppTimeoutError), id="ws-timeout"),
    pytest.param(ws_bad_message, ws_session(ws_bad_message, ASGIProtocolError), id="ws-protocol"),
    pytest.param(http_stream, lambda client: http_left_open(client), id="http-stream-left-open"),
    pytest.param(http_crash, lambda client: http_raises(client), id="http-crash"),
]  # fmt: skip


@pytest.mark.parametrize("inside_with", [True, False], ids=["in-with", "no-with"])
@pytest.mark.parametrize(("app", "scenario"), SYNC_SCENARIOS)
def test_sync_client_closes_every_stream(
    make_client: Callable[..., TestClient],
    app: Any,
    scenario: Callable[[TestClient], None],
    inside_with: bool,
) -> None:
    def run() -> None:
        client = make_client(app, websocket_timeout=0.2, timeout=0.5)
        if inside_with:
            with client:
                scenario(client)
        else:
            scenario(client)
        client.close()

    assert resource_warnings(run) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("app", "expected"),
    [(ws_echo_once, None), (ws_close_at_once, WebSocketClosed), (ws_deny, WebSocketDenialResponse),
     (ws_crash, RuntimeError), (ws_silent, AppTimeoutError), (ws_bad_message, ASGIProtocolError)],
    ids=["ws-normal", "ws-closed", "ws-denied", "ws-crash", "ws-timeout", "ws-protocol"],
)  # fmt: skip
async def test_async_websocket_closes_every_stream(
    app: Any, expected: type[BaseException] | None
) -> None:
    async def run() -> None:
        client = AsyncTestClient(app, websocket_timeout=0.2)
        if expected is None:
            async with client.websocket_connect("/") as ws:
                await ws.send_text("hi")
                assert await ws.receive_text() == "hi"
            return
        with pytest.raises(expected):
            async with client.websocket_connect("/") as ws:
                await ws.receive_text()

    assert await async_resource_warnings(run) == []


@pytest.mark.anyio
async def test_async_http_closes_every_stream() -> None:
    async def run() -> None:
        async with AsyncTestClient(http_stream, timeout=0.5) as client:
            response = await client.send(client.build_request("GET", "/"), stream=True)
            async with contextlib.aclosing(response.aiter_raw()) as chunks:
                assert await chunks.__anext__() == b"x"
        with pytest.raises(RuntimeError):
            await AsyncTestClient(http_crash).get("/")

    assert await async_resource_warnings(run) == []


@pytest.mark.anyio
async def test_async_session_never_entered_leaves_nothing_open() -> None:
    async def run() -> None:
        session = AsyncTestClient(ws_echo_once).websocket_connect("/")
        with pytest.raises(RuntimeError, match=r"async with client\.websocket_connect"):
            await session.send_text("hi")

    assert await async_resource_warnings(run) == []


def test_sync_session_never_entered_leaves_nothing_open(
    make_client: Callable[..., TestClient],
) -> None:
    def run() -> None:
        session = make_client(ws_echo_once).websocket_connect("/")
        with pytest.raises(RuntimeError, match=r"with client\.websocket_connect"):
            session.send_text("hi")

    assert resource_warnings(run) == []
