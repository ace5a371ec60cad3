"""flagstone-broadcast beside broadcaster 0.3.1, on one real Redis, in the same run.

Fan-out: subscribers spread over 2 processes, one publisher, Redis pub/sub
(`redis://`): delivered messages per second and delivery latency p50/p99
for 1, 100 and 1,000 subscribers.  Memory: one process with one subscriber
that never reads while 100,000 messages of 1 KiB are published to it (RSS
after the flood).  Both libraries run under asyncio (broadcaster's only
loop) with the same redis-py, so the difference is the libraries.

broadcaster's Redis backend delivers nothing with redis-py 8, so the run
needs its own environment with redis-py 5.2::

    uv venv /tmp/broadcast-bench
    uv pip install --python /tmp/broadcast-bench "broadcaster==0.3.1" "redis==5.2.1" \\
        -e packages/asgi-contract -e packages/asgi-broadcast
    /tmp/broadcast-bench/bin/python tools/bench/bench_broadcast.py --markdown

Latency is measured with the wall clock (`time.time_ns`) across processes
of one machine.  flagstone runs with `backlog` as large as the number of
messages, so that neither library drops anything in the fan-out runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

LIBS = ("flagstone", "broadcaster")
SUBSCRIBERS = (1, 100, 1000)
READY_TIMEOUT = 60.0
IDLE_TIMEOUT = 20.0


def make_broadcast(lib: str, url: str, backlog: int) -> Any:
    if lib == "flagstone":
        from flagstone_broadcast import Broadcast

        return Broadcast(url, backlog=backlog)
    from broadcaster import Broadcast as TheirBroadcast  # type: ignore[import-not-found]

    return TheirBroadcast(url)


# -- one subscriber process -------------------------------------------------------------


async def subscriber_process(lib: str, url: str, count: int, expected: int, channel: str) -> None:
    broadcast = make_broadcast(lib, url, backlog=expected + 10)
    await broadcast.connect()
    latencies: list[int] = []
    last_seen = [0]
    received = [0]
    ready = [asyncio.Event() for _ in range(count)]

    async def one(index: int) -> None:
        async with broadcast.subscribe(channel) as subscriber:
            ready[index].set()
            n = 0
            async for event in subscriber:
                now = time.time_ns()
                latencies.append(now - int(event.message.split("|")[0]))
                last_seen[0] = now
                received[0] += 1
                n += 1
                if n == expected:
                    return

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.gather(*(event.wait() for event in ready))
    print("ready", flush=True)
    _done, pending = await asyncio.wait(tasks, timeout=IDLE_TIMEOUT + expected / 100)
    for task in pending:
        task.cancel()
    latencies.sort()
    print(
        json.dumps(
            {
                "received": received[0],
                "last_ns": last_seen[0],
                "p50_ns": latencies[len(latencies) // 2] if latencies else None,
                "p99_ns": latencies[int(len(latencies) * 0.99)] if latencies else None,
                "latencies_sample": latencies[:: max(1, len(latencies) // 2000)],
            }
        ),
        flush=True,
    )
    try:
        await asyncio.wait_for(broadcast.disconnect(), 10)
    except Exception:
        pass


# -- the driver ---------------------------------------------------------------------------


def spawn(lib: str, url: str, count: int, expected: int, channel: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, __file__, "--subscriber", lib, url, str(count), str(expected), channel,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"subscriber process did not get ready: {line!r}")


async def fan_out(lib: str, url: str, subscribers: int, messages: int) -> dict[str, Any]:
    channel = f"bench-{lib}-{subscribers}-{time.monotonic_ns()}"
    counts = [c for c in (subscribers - subscribers // 2, subscribers // 2) if c]
    processes = [spawn(lib, url, c, messages, channel) for c in counts]
    for process in processes:
        wait_ready(process)
    publisher = make_broadcast(lib, url, backlog=10)
    await publisher.connect()
    padding = "x" * 64
    started = time.time_ns()
    for n in range(messages):
        await publisher.publish(channel, f"{time.time_ns()}|{n}|{padding}")
    published = time.time_ns()
    await publisher.disconnect()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=READY_TIMEOUT + messages)
        results.append(json.loads(out.strip().splitlines()[-1]))
    received = sum(r["received"] for r in results)
    last = max(r["last_ns"] for r in results) or published
    samples = sorted(x for r in results for x in r["latencies_sample"])
    return {
        "lib": lib,
        "subscribers": subscribers,
        "messages": messages,
        "delivered": received,
        "expected": subscribers * messages,
        "per_second": received / max((last - started) / 1e9, 1e-9),
        "p50_ms": statistics.median(samples) / 1e6 if samples else float("nan"),
        "p99_ms": samples[int(len(samples) * 0.99)] / 1e6 if samples else float("nan"),
        "publish_per_second": messages / max((published - started) / 1e9, 1e-9),
    }


def rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def stalled_memory(lib: str, url: str, messages: int) -> dict[str, Any]:
    """RSS of a process whose one subscriber never reads while `messages` of 1 KiB arrive."""
    channel = f"stalled-{lib}-{time.monotonic_ns()}"
    listener = make_broadcast(lib, url, backlog=1000)  # flagstone's default backlog
    await listener.connect()
    before = rss_kib()
    async with listener.subscribe(channel):
        publisher = make_broadcast(lib, url, backlog=10)
        await publisher.connect()
        body = "m" * 1024
        for _ in range(messages):
            await publisher.publish(channel, body)
        await publisher.disconnect()
        # Let the listener take in everything Redis sent (until RSS settles).
        settled, previous = 0, -1
        deadline = time.monotonic() + 60
        while settled < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            now = rss_kib()
            settled = settled + 1 if abs(now - previous) < 64 else 0
            previous = now
        after = rss_kib()
    await listener.disconnect()
    return {
        "lib": lib,
        "messages": messages,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
    }


async def fan_out_rows(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for subscribers in args.subscribers:
        messages = args.messages if subscribers < 1000 else max(args.messages // 10, 100)
        for lib in LIBS:
            rows.append(await fan_out(lib, url, subscribers, messages))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def run(args: argparse.Namespace) -> None:
    from serving import redis_server

    with redis_server(Path(os.environ.get("TMPDIR", "/tmp"))) as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        rows = asyncio.run(fan_out_rows(url, args))
        memory = []
        for lib in LIBS:
            # Each in a fresh process: RSS is not given back between runs.
            command = [sys.executable, __file__, "--stalled-child", lib, url, str(args.stalled)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            memory.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(memory[-1]), file=sys.stderr, flush=True)
    report(rows, memory, args.markdown)


def report(rows: list[dict[str, Any]], memory: list[dict[str, Any]], markdown: bool) -> None:
    print(f"- machine: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"- python: {platform.python_implementation()} {platform.python_version()}")
    print(
        f"- versions: flagstone-broadcast {version('flagstone-broadcast')}, "
        f"broadcaster {version('broadcaster')}, redis-py {version('redis')}, "
        f"redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}"
    )
    print()
    print("| subscribers | library | messages | delivered | delivered/s | p50 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['subscribers']} | {r['lib']} | {r['messages']} | {r['delivered']}/{r['expected']} "
            f"| {r['per_second']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    print()
    print(
        "| library | messages of 1 KiB to a stalled subscriber | RSS before MiB | RSS after MiB |"
    )
    print("|---|---:|---:|---:|")
    for m in memory:
        print(
            f"| {m['lib']} | {m['messages']:,} | {m['rss_before_mib']:.1f} | {m['rss_after_mib']:.1f} |"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--stalled-child":
        lib, url, messages = sys.argv[2:5]
        print(json.dumps(asyncio.run(stalled_memory(lib, url, int(messages)))), flush=True)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        lib, url, count, expected, channel = sys.argv[2:7]
        asyncio.run(subscriber_process(lib, url, int(count), int(expected), channel))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--stalled", type=int, default=100_000)
    parser.add_argument(
        "--subscribers", type=lambda s: [int(x) for x in s.split(",")], default=list(SUBSCRIBERS)
    )
    parser.add_argument("--markdown", action="store_true")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
