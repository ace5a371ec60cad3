"""Lifespan: the router's own context, and startup/shutdown of mounted apps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from routing_helpers import asgi, call, run_lifespan, text_app

from flagstone_contract import Message, Receive, Scope, Send
from flagstone_routing import Host, Mount, Route, Router

pytestmark = pytest.mark.anyio


def recording_lifespan(events: list[str], name: str, state: dict[str, Any] | None = None) -> Any:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any] | None]:
        events.append(f"{name} start")
        yield state
        events.append(f"{name} stop")

    return lifespan


def raw_lifespan_app(
    events: list[str], name: str, *, fail_startup: bool = False, fail_shutdown: bool = False
) -> Any:
    """A hand-written ASGI app that speaks lifespan (the way any framework does)."""

    @asgi
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            if fail_startup:
                await send(
                    {
                        "type": "lifespan.startup.failed",
                        "message": f"{name} cannot reach its database",
                    }
                )
                return
            events.append(f"{name} start")
            scope["state"][name] = "ready"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            events.append(f"{name} stop")
            if fail_shutdown:
                await send({"type": "lifespan.shutdown.failed", "message": f"{name} did not flush"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
            return
        await text_app(name)(scope, receive, send)

    return app


def types(messages: list[Message]) -> list[str]:
    return [m["type"] for m in messages]


async def test_own_lifespan_with_state() -> None:
    events: list[str] = []
    router = Router([], lifespan=recording_lifespan(events, "router", {"db": "pool"}))
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert result.state == {"db": "pool"}
    assert events == ["router start", "router stop"]


async def test_lifespan_receives_the_router_when_there_is_no_app() -> None:
    seen: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        seen.append(app)
        yield

    router = Router([], lifespan=lifespan)
    await run_lifespan(router)
    assert seen == [router]


async def test_startup_failure_is_reported_with_its_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    result = await run_lifespan(Router([], lifespan=lifespan))
    assert types(result.messages) == ["lifespan.startup.failed"]
    assert "RuntimeError: no database" in result.messages[0]["message"]
    assert isinstance(result.error, RuntimeError)  # re-raised so the server logs it


async def test_shutdown_failure_is_reported_with_its_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        raise RuntimeError("flush failed")

    result = await run_lifespan(Router([], lifespan=lifespan))
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "flush failed" in result.messages[1]["message"]


async def test_state_without_server_support_fails_startup_clearly() -> None:
    router = Router([], lifespan=recording_lifespan([], "r", {"x": 1}))
    sent: list[Message] = []
    incoming = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match='does not support "state"'):
        await router({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert types(sent) == ["lifespan.startup.failed"]


async def test_mounted_apps_start_in_order_and_stop_in_reverse() -> None:
    events: list[str] = []
    inner = Router(
        [Mount("/deep", app=raw_lifespan_app(events, "deep"))],
        lifespan=recording_lifespan(events, "inner"),
    )
    router = Router(
        [
            Route("/", text_app("home")),
            Mount("/a", app=raw_lifespan_app(events, "a")),
            Mount("/inner", app=inner),
            Host("b.example", app=raw_lifespan_app(events, "b")),
        ],
        lifespan=recording_lifespan(events, "outer"),
    )

    async def during() -> None:
        events.append("serving")
        assert (await call(router, "/a/x")).text == "a"

    result = await run_lifespan(router, during=during)
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == [
        "outer start", "a start", "inner start", "deep start", "b start",
        "serving",
        "b stop", "deep stop", "inner stop", "a stop", "outer stop",
    ]  # fmt: skip
    # Mounted apps write into the same lifespan state the server hands to requests.
    assert result.state == {"a": "ready", "deep": "ready", "b": "ready"}


async def test_apps_that_do_not_speak_lifespan_are_left_alone() -> None:
    events: list[str] = []

    @asgi
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"  # raises on the lifespan scope
        await text_app("http only")(scope, receive, send)

    @asgi
    async def returns_at_once(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await text_app("quiet")(scope, receive, send)

    @asgi
    async def reads_then_returns(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            return

    router = Router(
        [
            Mount("/h", app=http_only),
            Mount("/q", app=returns_at_once),
            Mount("/r", app=reads_then_returns),
            Mount("/a", app=raw_lifespan_app(events, "a")),
        ]
    )
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["a start", "a stop"]
    assert result.error is None


async def test_a_failing_mounted_startup_fails_the_whole_startup() -> None:
    events: list[str] = []
    router = Router(
        [
            Mount("/a", app=raw_lifespan_app(events, "a")),
            Mount("/mcp", app=raw_lifespan_app(events, "mcp", fail_startup=True)),
            Mount("/c", app=raw_lifespan_app(events, "c")),
        ],
        lifespan=recording_lifespan(events, "outer"),
    )
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.failed"]
    assert result.messages[0]["message"] == "Mount('/mcp'): mcp cannot reach its database"
    # What had started is stopped again; what came after never started.
    assert events == ["outer start", "a start", "a stop", "outer stop"]


async def test_a_failing_mounted_shutdown_is_reported() -> None:
    events: list[str] = []
    router = Router(
        [
            Mount("/a", app=raw_lifespan_app(events, "a", fail_shutdown=True)),
            Mount("/b", app=raw_lifespan_app(events, "b")),
        ]
    )
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert result.messages[1]["message"] == "Mount('/a'): a did not flush"
    assert events == ["a start", "b start", "b stop", "a stop"]


async def test_a_mounted_app_raising_during_shutdown_is_reported() -> None:
    @asgi
    async def crashes_on_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise ValueError("boom")

    result = await run_lifespan(Router([Mount("/x", app=crashes_on_shutdown)]))
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "ValueError: boom" in result.messages[1]["message"]


async def test_a_mounted_app_raising_after_reading_startup_fails_the_startup() -> None:
    events: list[str] = []

    @asgi
    async def cannot_connect(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            raise ConnectionRefusedError("database at 10.0.0.5 refused")

    router = Router(
        [
            Mount("/a", app=raw_lifespan_app(events, "a")),
            Mount("/db", app=cannot_connect),
            Mount("/c", app=raw_lifespan_app(events, "c")),
        ]
    )
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.failed"]
    message = result.messages[0]["message"]
    assert message.startswith(
        "Mount('/db'): raised during lifespan startup: "
        "ConnectionRefusedError: database at 10.0.0.5 refused"
    )
    assert "Traceback (most recent call last)" in message
    assert "cannot_connect" in message  # the traceback names the failing frame
    assert events == ["a start", "a stop"]


async def test_a_host_app_raising_after_reading_startup_is_named() -> None:
    @asgi
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise KeyError("SECRET_KEY")

    result = await run_lifespan(Router([Host("api.example.org", app=broken)]))
    assert types(result.messages) == ["lifespan.startup.failed"]
    assert result.messages[0]["message"].startswith("Host('api.example.org'): raised during")


async def test_a_nested_mount_raising_after_reading_startup_fails_the_top_startup() -> None:
    @asgi
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise RuntimeError("no cache")

    inner = Router([Mount("/deep", app=broken)])
    result = await run_lifespan(Router([Mount("/outer", app=inner)]))
    assert types(result.messages) == ["lifespan.startup.failed"]
    message = result.messages[0]["message"]
    assert message.startswith("Mount('/outer'): ")
    assert "Mount('/deep'): raised during lifespan startup: RuntimeError: no cache" in message


async def test_a_mounted_app_breaking_the_protocol_before_startup_is_left_alone() -> None:
    @asgi
    async def confused(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "lifespan.shutdown.complete"})

    result = await run_lifespan(Router([Mount("/x", app=confused)]))
    # The app raised before answering startup: per the ASGI spec it is left alone.
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_bare_async_generator_lifespan_is_accepted_with_a_warning() -> None:
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield

    with pytest.warns(DeprecationWarning, match="asynccontextmanager"):
        Router([], lifespan=lifespan)


def test_sync_generator_lifespan_is_refused() -> None:
    def lifespan(app: Any) -> Any:
        yield

    with pytest.raises(TypeError, match="asynccontextmanager"):
        Router([], lifespan=lifespan)


def test_asynccontextmanager_on_a_sync_generator_names_the_fix() -> None:
    # contextlib alone says only "'generator' object is not an async iterator", at startup.
    @asynccontextmanager
    async def fine(app: Any) -> AsyncIterator[None]:
        yield

    @asynccontextmanager  # type: ignore[arg-type]
    def lifespan(app: Any) -> Iterator[None]:
        yield

    Router([], lifespan=fine)
    with pytest.raises(TypeError, match=r"over a sync generator .*write it `async def lifespan"):
        Router([], lifespan=lifespan)


def test_contextmanager_as_lifespan_names_the_fix() -> None:
    @contextmanager
    def lifespan(app: Any) -> Iterator[None]:
        yield

    with pytest.raises(TypeError, match=r"@contextmanager \(sync\).*asynccontextmanager"):
        Router([], lifespan=lifespan)


async def test_an_app_mounted_twice_starts_once() -> None:
    events: list[str] = []
    shared = raw_lifespan_app(events, "shared")
    router = Router(
        [Mount("/one", app=shared), Mount("/two", app=shared), Host("x.example", app=shared)]
    )
    result = await run_lifespan(router)
    assert types(result.messages) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["shared start", "shared stop"]
