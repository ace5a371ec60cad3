"""flagstone-broadcast under two uvicorn worker processes sharing one real Redis.

Each worker process has its own `Broadcast`; only Redis connects them.  A
fresh TCP connection may reach either worker (the kernel picks), so tests
open connections until both workers answered.  Every wait is bounded.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import Served, free_port, http_answers, redis_server, start
from system_deps import require

BOUND = 20.0
APPS = Path(__file__).resolve().parent  # broadcast_workers_app.py


class Deployment:
    """A redis-server this module may stop and restart, and a two-worker uvicorn on it."""

    def __init__(self, tmp: Path, scheme: str) -> None:
        self.tmp = tmp
        self.redis_stack = ExitStack()
        self.redis = self.redis_stack.enter_context(redis_server(tmp))
        self.url_env = f"{scheme}://127.0.0.1:{self.redis.port}/0"
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "broadcast_workers_app:app", "--app-dir", str(APPS),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
            "--lifespan", "on", "--log-level", "warning",
        ]  # fmt: skip
        env = {"BROADCAST_URL": self.url_env}
        self.server: Served = start(
            "two workers", command, tmp / f"uvicorn-{scheme}.log", port=port, env=env
        )
        self.server.wait_until(lambda: http_answers(port, "/pid"), "answering", deadline=30)
        self.pids = self.wait_for_both_workers()

    @property
    def url(self) -> str:
        return self.server.url

    def wait_for_both_workers(self) -> set[int]:
        pids: set[int] = set()

        def two() -> bool:
            pids.add(httpx.get(self.url + "/pid", headers={"connection": "close"}).json()["pid"])
            return len(pids) >= 2

        self.server.wait_until(two, "answering from two worker pids", deadline=30)
        return pids

    def stop_redis(self) -> None:
        self.redis_stack.close()

    def start_redis(self) -> None:
        self.redis = self.redis_stack.enter_context(redis_server(self.tmp, port=self.redis.port))

    def close(self) -> None:
        self.server.stop(timeout=15)
        self.redis_stack.close()


@pytest.fixture(scope="module", params=["redis", "redis-stream"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    require("redis-server")
    running = Deployment(tmp_path_factory.mktemp("workers"), request.param)
    yield running
    running.close()


def sockets_on_both_workers(
    url: str, channel: str, stack: ExitStack
) -> dict[int, ClientConnection]:
    """One WebSocket per worker pid (opening more until both answered; extras closed)."""
    by_pid: dict[int, ClientConnection] = {}
    ws_url = f"{url.replace('http', 'ws')}/ws?channel={channel}"
    for _ in range(40):
        # close_timeout: a socket that was never read has frames queued ahead
        # of the server's close frame; do not wait 10 s for the handshake.
        with ExitStack() as candidate:
            socket = candidate.enter_context(connect(ws_url, open_timeout=BOUND, close_timeout=1))
            pid = json.loads(socket.recv(timeout=BOUND))["pid"]
            if pid not in by_pid:
                by_pid[pid] = socket
                stack.enter_context(candidate.pop_all())  # kept open until the test ends
        if len(by_pid) == 2:
            return by_pid
    raise AssertionError(f"40 connections reached only workers {sorted(by_pid)}")


def publish(url: str, channel: str, text: str, times: int = 1) -> httpx.Response:
    return httpx.post(
        f"{url}/publish", params={"channel": channel, "text": text, "times": times}, timeout=BOUND
    )


def wait_subscribed(url: str, channel: str, pids: set[int]) -> None:
    """Until every worker in `pids` reports a subscription (asked on fresh connections)."""
    seen: set[int] = set()
    deadline = time.monotonic() + BOUND
    while seen != pids:
        stats = httpx.get(
            f"{url}/stats", params={"channel": channel}, headers={"connection": "close"}
        ).json()
        if stats["subscribers"] > 0:
            seen.add(stats["pid"])
        assert time.monotonic() < deadline, f"subscribed on {seen}, expected {pids}"


def test_a_message_crosses_workers_over_websockets(deployment: Deployment) -> None:
    with ExitStack() as stack:
        sockets = sockets_on_both_workers(deployment.url, "room1", stack)
        for n in range(3):
            assert publish(deployment.url, "room1", f"hello {n}").status_code == 200
        for socket in sockets.values():
            assert [socket.recv(timeout=BOUND) for _ in range(3)] == [
                "hello 0",
                "hello 1",
                "hello 2",
            ]


def test_a_client_that_leaves_releases_its_subscription(deployment: Deployment) -> None:
    with ExitStack() as stack:
        sockets = sockets_on_both_workers(deployment.url, "leaving", stack)
        wait_subscribed(deployment.url, "leaving", set(sockets))
    # Both sockets are closed: every worker drops the channel.
    deadline = time.monotonic() + BOUND
    counts: dict[int, int] = dict.fromkeys(deployment.pids, 1)
    while any(counts.values()):
        stats = httpx.get(
            f"{deployment.url}/stats",
            params={"channel": "leaving"},
            headers={"connection": "close"},
        ).json()
        counts[stats["pid"]] = stats["subscribers"]
        assert time.monotonic() < deadline, f"subscriptions left: {counts}"


def read_events(response: httpx.Response, count: int) -> list[tuple[str | None, str]]:
    events: list[tuple[str | None, str]] = []
    event_id: str | None = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            events.append((event_id, line[6:]))
            event_id = None
            if len(events) == count:
                return events
    raise AssertionError(f"stream ended after {events}")


def test_sse_crosses_workers_and_resumes_from_last_event_id(deployment: Deployment) -> None:
    streams = deployment.url_env.startswith("redis-stream://")
    with httpx.Client(timeout=BOUND) as http:
        with http.stream("GET", f"{deployment.url}/events", params={"channel": "feed"}) as feed:
            publish(deployment.url, "feed", "one")
            [(first_id, first)] = read_events(feed, 1)
        assert first == "one"
        for text in ("two", "three"):
            publish(deployment.url, "feed", text)
        # The browser reconnects (to whichever worker) with the last id it saw.
        headers = {"last-event-id": first_id} if first_id else {}
        with http.stream(
            "GET", f"{deployment.url}/events", params={"channel": "feed"}, headers=headers
        ) as feed:
            if streams:  # Redis Streams keep history: nothing was missed
                assert [text for _, text in read_events(feed, 2)] == ["two", "three"]
            else:  # pub/sub has no ids and no history: the stream is live only
                assert first_id is None
                publish(deployment.url, "feed", "four")
                assert read_events(feed, 1) == [(None, "four")]


def test_publish_while_redis_is_down_is_a_503_and_delivery_resumes(deployment: Deployment) -> None:
    with ExitStack() as stack:
        sockets = sockets_on_both_workers(deployment.url, "outage", stack)
        deployment.stop_redis()
        started = time.monotonic()
        refused = publish(deployment.url, "outage", "while down")
        assert refused.status_code == 503
        assert "did not answer" in refused.json()["error"]
        assert time.monotonic() - started < BOUND
        deployment.start_redis()
        # Each worker reconnects by itself; probe until both sockets hear it.
        heard: dict[int, list[str]] = {pid: [] for pid in sockets}
        deadline = time.monotonic() + BOUND
        n = 0
        while not all(any(t.startswith("probe") for t in texts) for texts in heard.values()):
            assert time.monotonic() < deadline, f"after the restart: {heard}"
            publish(deployment.url, "outage", f"probe {n}")
            n += 1
            for pid, socket in sockets.items():
                try:
                    heard[pid].append(socket.recv(timeout=0.2))
                except TimeoutError:
                    pass


def stats_of(url: str, pid: int, channel: str) -> dict[str, int]:
    """The /stats of worker `pid` (fresh connections until it answers)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        params = {"channel": channel}
        stats = httpx.get(f"{url}/stats", params=params, headers={"connection": "close"}).json()
        if stats["pid"] == pid:
            return stats  # type: ignore[no-any-return]
    raise AssertionError(f"worker {pid} did not answer within {BOUND} s")


def test_a_client_that_never_reads_costs_bounded_memory(deployment: Deployment) -> None:
    # 16 MiB (1,000 messages of 16 KiB) to a channel one client never reads:
    # its worker keeps at most `backlog` (100) of them, and the other client
    # still gets what is published after the flood.
    with ExitStack() as stack:
        sockets = sockets_on_both_workers(deployment.url, "flood", stack)
        stalled_pid, reader_pid = sorted(sockets)
        reader = sockets[reader_pid]
        wait_subscribed(deployment.url, "flood", set(sockets))
        before = stats_of(deployment.url, stalled_pid, "flood")["rss_kib"]
        flood = httpx.post(
            f"{deployment.url}/flood",
            params={"channel": "flood", "count": 1_000, "size": 16384},
            timeout=60,
        )
        assert flood.status_code == 200
        publish(deployment.url, "flood", "after the flood")
        deadline = time.monotonic() + BOUND
        received = 0
        while reader.recv(timeout=BOUND) != "after the flood":
            received += 1
            assert time.monotonic() < deadline
        after = stats_of(deployment.url, stalled_pid, "flood")["rss_kib"]
    assert received > 0
    # Unbounded, the stalled worker would hold all 16 MiB; bounded, a backlog
    # of 100 messages (1.6 MiB) and the batches in flight.
    assert after - before < 8 * 1024, f"RSS grew {after - before} KiB"
