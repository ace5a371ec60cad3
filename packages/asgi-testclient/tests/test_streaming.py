"""Streaming responses, endless streams, and client disconnects the app can observe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from flagstone_testclient import AppTimeoutError, AsyncTestClient, TestClient


def endless_sse(log: list[str]) -> Any:
    """Sends one event after another until the client goes away."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        n = 0
        try:
            while True:
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"data: {n}\n\n".encode(),
                        "more_body": True,
                    }
                )
                log.append(f"sent {n}")
                n += 1
        except OSError:
            # ASGI spec >= 2.4: send() after a disconnect raises OSError.
            log.append("disconnected")

    return app


def watching_app(log: list[str]) -> Any:
    """Streams while a second task watches receive() for http.disconnect."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the (empty) request body
        stop = anyio.Event()

        async def watch() -> None:
            message = await receive()
            log.append(message["type"])
            stop.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await stop.wait()
            log.append("cleanup ran")

    return app


def test_stream_reads_chunk_by_chunk_with_backpressure(
    make_client: Callable[..., TestClient],
) -> None:
    log: list[str] = []
    with make_client(endless_sse(log)).stream("GET", "/events") as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        assert next(chunks) == b"data: 0\n\n"
        assert next(chunks) == b"data: 1\n\n"
        # Zero-capacity hand-over: the app cannot run ahead of the reader.
        assert len([line for line in log if line.startswith("sent")]) <= 2
    assert log[-1] == "disconnected"


def test_endless_sse_read_partly_then_closed(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    lines = []
    with make_client(endless_sse(log)).stream("GET", "/events") as response:
        for line in response.iter_lines():
            if line:
                lines.append(line)
            if len(lines) == 3:
                break
    assert lines == ["data: 0", "data: 1", "data: 2"]
    assert log[-1] == "disconnected"


def test_disconnect_is_observed_through_receive(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    with make_client(watching_app(log)).stream("GET", "/") as response:
        assert next(response.iter_raw()) == b"first"
    assert log == ["http.disconnect", "cleanup ran"]


def test_get_on_an_endless_stream_times_out_with_a_hint(
    make_client: Callable[..., TestClient],
) -> None:
    log: list[str] = []
    with pytest.raises(AppTimeoutError, match=r"end of the response body .*client\.stream") as info:
        make_client(endless_sse(log), timeout=0.2).get("/events")
    assert "GET /events" in str(info.value)
    assert "last message the app sent" in str(info.value)
    assert log[-1] == "disconnected"  # the app was told, not left running


def test_stream_times_out_when_the_next_chunk_never_comes(
    make_client: Callable[..., TestClient],
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await anyio.sleep_forever()

    with (
        make_client(app, timeout=0.1).stream("GET", "/") as response,
        pytest.raises(AppTimeoutError, match=r"next response body chunk .*1 chunks, 3 bytes"),
    ):
        for _ in response.iter_raw():
            pass


def test_errors_caused_by_the_disconnect_are_not_re_raised(
    make_client: Callable[..., TestClient],
) -> None:
    class ClientGone(Exception):
        pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except OSError as exc:
            raise ClientGone() from exc  # what Starlette's StreamingResponse does

    with make_client(app).stream("GET", "/") as response:
        assert next(response.iter_raw()) == b"x"
    # leaving the block did not raise ClientGone


def test_unrelated_errors_after_a_disconnect_are_re_raised(
    make_client: Callable[..., TestClient],
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except OSError:
            pass
        raise ValueError("bug in cleanup")

    with (
        pytest.raises(ValueError, match="bug in cleanup"),
        make_client(app).stream("GET", "/") as response,
    ):
        # Keep the iterator (`chunks`): httpx2 closes the response when an
        # abandoned iterator is collected, where no exception can propagate.
        next(chunks := response.iter_raw())  # noqa: F841


def test_app_ignoring_the_disconnect_is_cancelled(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            await anyio.sleep_forever()
        finally:
            log.append("cancelled")

    # The grace before cancelling is min(1 s, timeout).
    with make_client(app, timeout=0.1).stream("GET", "/") as response:
        next(response.iter_raw())
    assert log == ["cancelled"]


@pytest.mark.anyio
async def test_async_endless_sse_read_partly() -> None:
    log: list[str] = []
    lines = []
    async with AsyncTestClient(endless_sse(log)) as client:
        async with client.stream("GET", "/events") as response:
            async for line in response.aiter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 2:
                    break
        assert lines == ["data: 0", "data: 1"]
        assert log[-1] == "disconnected"


@pytest.mark.anyio
async def test_async_disconnect_is_observed_through_receive() -> None:
    log: list[str] = []
    async with AsyncTestClient(watching_app(log)) as client, client.stream("GET", "/") as response:
        async for chunk in response.aiter_raw():
            assert chunk == b"first"
            break
    assert log == ["http.disconnect", "cleanup ran"]


@pytest.mark.anyio
async def test_async_get_on_an_endless_stream_times_out() -> None:
    async with AsyncTestClient(endless_sse([]), timeout=0.2) as client:
        with pytest.raises(AppTimeoutError, match=r"client\.stream"):
            await client.get("/events")


@pytest.mark.anyio
async def test_async_stream_outside_async_with_explains_itself() -> None:
    client = AsyncTestClient(endless_sse([]), timeout=0.2)
    with pytest.raises(AppTimeoutError, match="async with AsyncTestClient"):
        async with client.stream("GET", "/events"):
            pass


def test_stream_left_open_is_disconnected_when_the_block_ends(
    make_client: Callable[..., TestClient],
) -> None:
    log: list[str] = []
    with make_client(endless_sse(log)) as client:
        response = client.send(client.build_request("GET", "/events"), stream=True)
        assert next(response.iter_raw()) == b"data: 0\n\n"
    assert log[-1] == "disconnected"
    response.close()  # closing afterwards is harmless


@pytest.mark.anyio
async def test_async_stream_left_open_is_disconnected_when_the_block_ends() -> None:
    log: list[str] = []
    async with AsyncTestClient(watching_app(log)) as client:
        response = await client.send(client.build_request("GET", "/"), stream=True)
        assert await response.aiter_raw().__anext__() == b"first"
    assert log == ["http.disconnect", "cleanup ran"]  # told, then it ended; not left running
    await response.aclose()  # closing afterwards is harmless


@pytest.mark.anyio
async def test_async_stream_ignoring_the_disconnect_is_cancelled_when_the_block_ends() -> None:
    log: list[str] = []

    async def deaf(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        try:
            await anyio.sleep_forever()
        finally:
            log.append("cancelled")

    async with AsyncTestClient(deaf, timeout=0.2) as client:
        response = await client.send(client.build_request("GET", "/"), stream=True)
        assert await response.aiter_raw().__anext__() == b"first"
    assert log == ["cancelled"]


def test_no_thread_outlives_its_request(make_client: Callable[..., TestClient]) -> None:
    import threading

    before = threading.active_count()
    client = make_client(endless_sse([]))
    for _ in range(3):
        with client.stream("GET", "/") as response:
            next(response.iter_raw())
    with pytest.raises(AppTimeoutError):
        make_client(endless_sse([]), timeout=0.05).get("/")
    assert threading.active_count() == before
