"""Shared helpers: drive raw ASGI apps directly and record what happened, in order.

Test modules cannot import each other (pytest runs with --import-mode=importlib),
so helpers are handed out through fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from flagstone_contract import ASGIApp, Message, Scope


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def http_scope(**extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(extra)
    return scope


@dataclass
class Client:
    """A fake server connection that records every message the app sends, in order.

    `events` is shared with the test, so tasks and apps append their own entries
    and the test asserts the interleaving.  Sends are recorded as
    ``"send <type>"`` with `` more`` appended while `more_body` is true.
    """

    events: list[str] = field(default_factory=list)
    disconnect_early: bool = False
    send_error: BaseException | None = None
    sent: list[Message] = field(default_factory=list)

    async def call(self, app: ASGIApp, scope: Scope | None = None) -> None:
        response_done = anyio.Event()
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if not self.disconnect_early:
                # Like a real server: the disconnect arrives once the response is over.
                await response_done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if self.send_error is not None:
                raise self.send_error
            self.sent.append(message)
            suffix = " more" if message.get("more_body") or message.get("more_trailers") else ""
            self.events.append(f"send {message['type']}{suffix}")
            if message["type"] == "http.response.body" and not message.get("more_body"):
                response_done.set()

        await app(scope if scope is not None else http_scope(), receive, send)


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def make_scope() -> Callable[..., Scope]:
    return http_scope


@dataclass
class LifespanServer:
    """Runs an app's lifespan like a server: startup, then requests, then shutdown."""

    app: ASGIApp
    sent: list[Message] = field(default_factory=list)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LifespanServer]:
        to_app_send, to_app_receive = anyio.create_memory_object_stream[Message](4)
        from_app_send, from_app_receive = anyio.create_memory_object_stream[Message](4)

        async def receive() -> Message:
            return await to_app_receive.receive()

        async def send(message: Message) -> None:
            self.sent.append(message)
            await from_app_send.send(message)

        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        async with anyio.create_task_group() as tg, to_app_send, from_app_receive:

            async def serve() -> None:
                await self.app(scope, receive, send)

            tg.start_soon(serve)
            with anyio.fail_after(5):
                await to_app_send.send({"type": "lifespan.startup"})
                reply = await from_app_receive.receive()
            assert reply["type"] == "lifespan.startup.complete", reply
            yield self
            with anyio.fail_after(5):
                await to_app_send.send({"type": "lifespan.shutdown"})
                reply = await from_app_receive.receive()
            assert reply["type"] == "lifespan.shutdown.complete", reply


@pytest.fixture
def lifespan_server() -> Callable[[ASGIApp], LifespanServer]:
    return LifespanServer


async def _noop() -> None:
    return None


@pytest.fixture
def noop() -> Callable[[], Awaitable[None]]:
    return _noop
