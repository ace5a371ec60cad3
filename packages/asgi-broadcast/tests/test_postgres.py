"""postgres:// (LISTEN/NOTIFY) against a real PostgreSQL, on asyncio and trio.

Two `Broadcast` objects stand for two worker processes; a restart test owns
its own server on a private port.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest

from flagstone_broadcast import Broadcast, BroadcastError, Event, PostgresBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import postgres_server
from system_deps import require

pytestmark = pytest.mark.anyio

BOUND = 15.0


async def test_a_notification_crosses_to_the_other_process(postgres_url: str) -> None:
    async with (
        Broadcast(postgres_url) as one,
        Broadcast(postgres_url) as two,
        one.subscribe("room") as here,
        two.subscribe("room") as there,
        one.subscribe("other") as other,
    ):
        await two.publish("room", "hello")
        await one.publish("other", "élsewhere")
        with anyio.fail_after(BOUND):
            assert await here.get() == Event("room", "hello")
            assert await there.get() == Event("room", "hello")
            assert await other.get() == Event("other", "élsewhere")


async def test_postgres_limits_are_clear_errors(postgres_url: str) -> None:
    async with Broadcast(postgres_url) as broadcast:
        with pytest.raises(ValueError, match="63 bytes"):
            async with broadcast.subscribe("x" * 64):
                pass
        with pytest.raises(BroadcastError, match="8000 bytes"):
            await broadcast.publish("room", "x" * 9000)
        with pytest.raises(TypeError, match=r"json\.dumps"):
            await broadcast.publish("room", ["not", "text"])
        # The connection is still good after a refused notification.
        async with broadcast.subscribe("room") as subscriber:
            await broadcast.publish("room", "fine")
            with anyio.fail_after(BOUND):
                assert (await subscriber.get()).message == "fine"


async def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    broadcast = Broadcast(f"postgres://ada:hunter2@127.0.0.1:{port}/app")
    with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer") as info:
        await broadcast.connect()
    assert "hunter2" not in str(info.value) + repr(broadcast)


async def test_listeners_resume_after_a_restart_and_see_the_gap(tmp_path: Path) -> None:
    require("initdb")
    data = Path(tempfile.mkdtemp(prefix="flagstone-postgres-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, data, ignore_errors=True)
        servers = stack.enter_context(ExitStack())
        port = servers.enter_context(postgres_server(tmp_path, data_dir=data)).port
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        backend = PostgresBackend(url, max_backoff=0.2)
        async with (
            Broadcast(backend=backend) as worker_a,
            Broadcast(url) as worker_b,
            worker_a.subscribe("room") as subscriber,
        ):
            await worker_b.publish("room", "before")
            with anyio.fail_after(BOUND):
                assert (await subscriber.get()).message == "before"

            servers.close()  # PostgreSQL stops
            with anyio.fail_after(BOUND), pytest.raises(BroadcastError, match="did not answer"):
                await worker_b.publish("room", "while down")
            servers.enter_context(postgres_server(tmp_path, port=port, data_dir=data))

            received = None
            with anyio.fail_after(BOUND):
                while received is None:
                    try:
                        await worker_b.publish("room", "probe")
                    except BroadcastError:
                        pass  # the publisher reconnects on its next try
                    with anyio.move_on_after(0.1):
                        received = await subscriber.get()
            assert (received.message, received.gap) == ("probe", True)
