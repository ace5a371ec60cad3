"""Lifespan: startup and shutdown at the edges of `with`, state, failures, timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from flagstone_testclient import AppTimeoutError, AsyncTestClient, LifespanFailed, TestClient


def lifespan_app(log: list[str], *, startup: str = "complete", shutdown: str = "complete") -> Any:
    """A raw app with lifespan; `startup`/`shutdown` pick how each phase ends."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            log.append("startup")
            if startup == "raise":
                raise ConnectionError("database is down")
            if startup == "failed":
                await send({"type": "lifespan.startup.failed", "message": "no config"})
                return
            if startup == "hang":
                await anyio.sleep_forever()
            scope["state"]["pool"] = "pool-object"
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            log.append("shutdown")
            if shutdown == "failed":
                await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
                return
            if shutdown == "hang":
                await anyio.sleep_forever()
            await send({"type": "lifespan.shutdown.complete"})
            return
        log.append(f"request state={scope['state']}")
        scope["state"]["leak"] = True  # must not reach the next request
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b""})

    return app


def test_startup_and_shutdown_run_around_the_block(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    client = make_client(lifespan_app(log))
    with client:
        assert log == ["startup"]
        client.get("/")
        client.get("/")
    assert log == [
        "startup",
        "request state={'pool': 'pool-object'}",
        "request state={'pool': 'pool-object'}",
        "shutdown",
    ]
    assert client.app_state == {"pool": "pool-object"}


def test_no_lifespan_without_with(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    make_client(lifespan_app(log)).get("/")
    assert log == ["request state={}"]


def test_client_can_be_entered_twice(make_client: Callable[..., TestClient]) -> None:
    log: list[str] = []
    client = make_client(lifespan_app(log))
    with client:
        pass
    with client:
        pass
    assert log == ["startup", "shutdown", "startup", "shutdown"]


def test_startup_failed_message_is_raised(make_client: Callable[..., TestClient]) -> None:
    with pytest.raises(LifespanFailed, match="lifespan startup failed: no config") as info:  # noqa: SIM117
        with make_client(lifespan_app([], startup="failed")):
            pytest.fail("the block must not run")
    assert info.value.phase == "startup"


def test_startup_exception_is_raised_as_is(make_client: Callable[..., TestClient]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        try:
            raise ConnectionError("database is down")
        except ConnectionError as exc:
            # What frameworks do: report, then re-raise.
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            raise

    with pytest.raises(ConnectionError, match="database is down"), make_client(app):
        pass


def test_shutdown_failed_message_is_raised(make_client: Callable[..., TestClient]) -> None:
    with (
        pytest.raises(LifespanFailed, match="shutdown failed: flush failed"),
        make_client(lifespan_app([], shutdown="failed")),
    ):
        pass


@pytest.mark.parametrize(
    "app_kind", ["raises-on-unknown-scope", "returns-on-unknown-scope"], ids=lambda kind: kind
)
def test_apps_without_lifespan_support_are_tolerated(
    make_client: Callable[..., TestClient], app_kind: str
) -> None:
    # Raising (or returning) before reading anything: the ASGI spec's way of
    # saying "no lifespan here" (`assert scope["type"] == "http"`).
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if app_kind == "raises-on-unknown-scope":
                raise ValueError(f"unsupported scope {scope['type']}")
            return
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    with make_client(app) as client:
        assert client.get("/").status_code == 204


class ConfigurationError(Exception):
    pass


def test_an_exception_during_startup_is_raised_not_swallowed(
    make_client: Callable[..., TestClient],
) -> None:
    # It read `lifespan.startup`, then raised without answering: its startup
    # failed.  Starlette's client raises it; this client used to carry on.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise ConfigurationError("missing setting")

    client = make_client(app)
    with pytest.raises(ConfigurationError, match="missing setting") as info, client:
        pass  # pragma: no cover - never entered
    assert any("without `with`" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    ("phase", "kwargs"), [("startup", {"startup": "hang"}), ("shutdown", {"shutdown": "hang"})]
)
def test_hanging_lifespan_times_out(
    make_client: Callable[..., TestClient], phase: str, kwargs: dict[str, str]
) -> None:
    with (
        pytest.raises(AppTimeoutError, match=f"lifespan {phase} .lifespan.{phase}.complete"),
        make_client(lifespan_app([], **kwargs), lifespan_timeout=0.1),
    ):
        pass


@pytest.mark.anyio
async def test_async_lifespan_and_state() -> None:
    log: list[str] = []
    client = AsyncTestClient(lifespan_app(log))
    async with client:
        await client.get("/")
    assert log == ["startup", "request state={'pool': 'pool-object'}", "shutdown"]


@pytest.mark.anyio
async def test_async_startup_failure() -> None:
    with pytest.raises(LifespanFailed, match="no config"):
        async with AsyncTestClient(lifespan_app([], startup="failed")):
            pass


@pytest.mark.anyio
async def test_async_startup_timeout() -> None:
    with anyio.fail_after(3), pytest.raises(AppTimeoutError, match="lifespan startup"):
        async with AsyncTestClient(lifespan_app([], startup="hang"), lifespan_timeout=0.1):
            pass


@pytest.fixture
async def entered_client() -> Any:
    log: list[str] = []
    async with AsyncTestClient(lifespan_app(log)) as client:
        yield client, log
    assert log[-1] == "shutdown"


@pytest.mark.anyio
async def test_async_client_entered_in_a_fixture(entered_client: Any) -> None:
    client, log = entered_client
    assert (await client.get("/")).status_code == 200
    assert log == ["startup", "request state={'pool': 'pool-object'}"]


class TestLifespanSteps:
    """Starlette's step names: `lifespan()`, `wait_startup()`, `wait_shutdown()`."""

    def test_a_subclass_wraps_the_steps(self, make_client: Callable[..., TestClient]) -> None:
        log: list[str] = []
        backend = make_client(lifespan_app(log)).async_backend["backend"]

        class Recording(TestClient):
            async def wait_startup(self) -> None:
                log.append("before startup")
                await super().wait_startup()
                log.append("after startup")

            async def wait_shutdown(self) -> None:
                log.append("before shutdown")
                await super().wait_shutdown()

        with Recording(lifespan_app(log), backend=backend) as client:
            client.get("/")
        assert log == [
            "before startup", "startup", "after startup",
            "request state={'pool': 'pool-object'}", "before shutdown", "shutdown",
        ]  # fmt: skip

    def test_steps_driven_through_a_portal(self, anyio_backend: str) -> None:
        from anyio.from_thread import start_blocking_portal

        log: list[str] = []
        client = TestClient(lifespan_app(log))
        with start_blocking_portal(anyio_backend) as portal:
            portal.start_task_soon(client.lifespan)
            portal.call(client.wait_startup)
            assert client.app_state == {"pool": "pool-object"}
            portal.call(client.wait_shutdown)
        assert log == ["startup", "shutdown"]

    def test_startup_failure_is_raised_by_wait_startup(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        log: list[str] = []

        class Recording(TestClient):
            async def wait_startup(self) -> None:
                try:
                    await super().wait_startup()
                except LifespanFailed:
                    log.append("wait_startup raised")
                    raise

        backend = make_client(lifespan_app(log)).async_backend["backend"]
        with (
            pytest.raises(LifespanFailed),
            Recording(lifespan_app(log, startup="failed"), backend=backend),
        ):
            pass
        assert log == ["startup", "wait_startup raised"]

    def test_wait_shutdown_without_a_lifespan_says_so(self, anyio_backend: str) -> None:
        client = TestClient(lifespan_app([]))
        with pytest.raises(RuntimeError, match=r"start lifespan\(\) and await wait_startup\(\)"):
            anyio.run(client.wait_shutdown, backend=anyio_backend)

    @pytest.mark.anyio
    async def test_async_steps_driven_by_hand(self) -> None:
        log: list[str] = []
        client = AsyncTestClient(lifespan_app(log))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.lifespan)
            await client.wait_startup()
            assert client.app_state == {"pool": "pool-object"}
            await client.wait_shutdown()
        assert log == ["startup", "shutdown"]

    @pytest.mark.anyio
    async def test_async_subclass_wraps_the_steps(self) -> None:
        log: list[str] = []

        class Recording(AsyncTestClient):
            async def wait_startup(self) -> None:
                log.append("before startup")
                await super().wait_startup()

        async with Recording(lifespan_app(log)):
            pass
        assert log == ["before startup", "startup", "shutdown"]
