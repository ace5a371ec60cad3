"""A bounded load run against the demo app under uvicorn on 127.0.0.1.

`python -m hatch run demo:python tools/load/run.py [--requests N] [--warmup N]
[--connections N] [--flood N]`

1. Starts the demo under uvicorn as `tools/serve_demo.py` does (one worker,
   so the uvicorn process is the one serving; no access log) on a free port.
2. Mixed phase: `--connections` keep-alive connections, each a logged-in
   user cycling through GET /, POST /login, GET /api/me, POST /api/messages,
   GET /api/messages and POST /upload (a small file), until `--requests`
   requests have been answered.  Every unexpected status or transport error
   counts as an error; the run requires zero.  The server's RSS (VmRSS from
   /proc/<pid>/status) is sampled after `--warmup` requests and at the end;
   the ratio must stay within 1.10.
3. Upload flood: `--flood` oversized uploads (half over the 1 MiB file limit,
   half over the route's 2 MiB body limit), each must get 413; RSS after the
   flood must stay within 1.10 of the RSS before it.

The client is a small asyncio HTTP/1.1 client (no httpx): on this 2-core
machine it shares the CPU with uvicorn and must stay cheap per request.
Exit status 0 only when every requirement holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The shared helpers of tools/: the load client and process handling.
sys.path.insert(0, str(REPO_ROOT / "tools"))

from http1 import Reply, encode_request, read_reply, reply_while_sending  # noqa: E402
from serving import Served, free_port, proc_status_kib, start, tcp_listening  # noqa: E402

PASSWORD = "flagstone"
RSS_RATIO_LIMIT = 1.10
START_DEADLINE = 30.0
REQUEST_TIMEOUT = 30.0
BOUNDARY = "flagstoneloadboundary"


# --- one user's keep-alive connection (tools/http1.py parses the replies) -----------


class Connection:
    """One keep-alive connection; requests on it are strictly sequential."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.cookie: str | None = None

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> Reply:
        headers = [("cookie", self.cookie)] if self.cookie else []
        if content_type:
            headers.append(("content-type", content_type))
        self.writer.write(encode_request(method, path, headers, body))
        await self.writer.drain()
        reply = await asyncio.wait_for(read_reply(self.reader), REQUEST_TIMEOUT)
        set_cookie = reply.header("set-cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return reply

    def close(self) -> None:
        self.writer.close()


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    body = (
        (
            f"--{BOUNDARY}\r\n"
            f'content-disposition: form-data; name="file"; filename="{filename}"\r\n'
            "content-type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


# --- the mixed phase ----------------------------------------------------------------


@dataclass
class Tally:
    target: int
    sample_at: int
    pid: int
    done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    rss_at_sample: int | None = None

    def take(self) -> bool:
        """Claim one request slot; False once the target is reached."""
        if self.done >= self.target:
            return False
        self.done += 1
        if self.done == self.sample_at:
            self.rss_at_sample = rss_kib(self.pid)
        return True


async def virtual_user(port: int, number: int, tally: Tally) -> None:
    user = f"load{number}"
    login_body = f"username={user}&password={PASSWORD}".encode()
    form = "application/x-www-form-urlencoded"
    upload_body, upload_type = multipart(f"u{number}.txt", b"x" * 2048)
    message = json.dumps({"text": f"hello from {user}"}).encode()
    steps: list[tuple[str, str, bytes, str | None, int]] = [
        ("GET", "/", b"", None, 200),
        ("POST", "/login", login_body, form, 303),
        ("GET", "/api/me", b"", None, 200),
        ("POST", "/api/messages", message, "application/json", 201),
        ("GET", "/api/messages", b"", None, 200),
        ("POST", "/upload", upload_body, upload_type, 303),
    ]
    conn = await Connection.open(port)
    # Log in first, so every step of the cycle is an authorised one.
    login = await conn.request("POST", "/login", login_body, form)
    if login.status != 303:
        tally.errors[f"initial login {login.status}"] += 1
    try:
        step = 0
        while tally.take():
            method, path, body, content_type, expected = steps[step % len(steps)]
            step += 1
            try:
                reply = await conn.request(method, path, body, content_type)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                tally.errors[f"{method} {path}: {type(exc).__name__}"] += 1
                conn.close()
                conn = await Connection.open(port)
                await conn.request("POST", "/login", login_body, form)
                continue
            tally.statuses[reply.status] += 1
            if reply.status != expected:
                tally.errors[f"{method} {path}: {reply.status}"] += 1
            elif path == "/api/me" and json.loads(reply.body) != {"user": user}:
                tally.errors[f"GET /api/me: wrong user {reply.body[:60]!r}"] += 1
    finally:
        conn.close()


# --- the upload flood ---------------------------------------------------------------


async def oversized_upload(port: int, size: int, cookie: str | None) -> int | str:
    """Send one oversized upload on its own connection; the status or an error."""
    body, content_type = multipart("big.bin", b"y" * size)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = encode_request(
        "POST", "/upload", [("cookie", cookie or ""), ("content-type", content_type)], body
    )
    head = request[: len(request) - len(body)]

    async def send_body() -> None:
        # The server may answer 413 and close before the body is all sent:
        # a reset while writing is expected then, the reply is what counts.
        try:
            writer.write(head)
            for offset in range(0, len(body), 256 * 1024):
                writer.write(body[offset : offset + 256 * 1024])
                await writer.drain()
        except OSError:
            pass

    try:
        reply = await reply_while_sending(reader, send_body(), REQUEST_TIMEOUT)
        return reply.status
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        return type(exc).__name__
    finally:
        writer.close()


async def flood(port: int, count: int, concurrency: int) -> Counter[int | str]:
    conn = await Connection.open(port)
    await conn.request(
        "POST",
        "/login",
        f"username=flood&password={PASSWORD}".encode(),
        "application/x-www-form-urlencoded",
    )
    cookie = conn.cookie
    conn.close()
    sizes = [(1024 * 1024 + 512 * 1024) if i % 2 else (3 * 1024 * 1024) for i in range(count)]
    results: Counter[int | str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(size: int) -> None:
        async with gate:
            results[await oversized_upload(port, size, cookie)] += 1

    await asyncio.gather(*(one(size) for size in sizes))
    return results


# --- the server ---------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """The server's resident memory (VmRSS) in KiB."""
    rss = proc_status_kib(pid, "VmRSS")
    if not rss:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return rss


def start_demo(port: int, workdir: Path) -> Served:
    """The demo under uvicorn, as tools/serve_demo.py runs it minus the access log."""
    # 200,000 access-log lines would cost the shared CPU more than some of
    # the requests themselves.
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "flagstone_demo.app:app",
        "--app-dir",
        "packages/meta/examples",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    env = {
        "FLAGSTONE_DEMO_SECRET": "load-run-secret",
        "FLAGSTONE_DEMO_AUDIT_LOG": str(workdir / "audit.log"),
        "FLAGSTONE_DEMO_REDIS_URL": "",
    }
    demo = start("demo", command, workdir / "server.log", port=port, cwd=REPO_ROOT, env=env)
    demo.wait_until(lambda: tcp_listening(port), "listening", START_DEADLINE)
    return demo


async def run(args: argparse.Namespace, port: int, pid: int) -> bool:
    ok = True
    tally = Tally(target=args.requests, sample_at=args.warmup, pid=pid)
    print(f"server pid {pid}, RSS at start {rss_kib(pid)} KiB", flush=True)
    started = time.perf_counter()
    await asyncio.gather(*(virtual_user(port, i, tally) for i in range(args.connections)))
    elapsed = time.perf_counter() - started
    rss_end = rss_kib(pid)
    errors = sum(tally.errors.values())
    print(
        f"mixed: {tally.done} requests on {args.connections} connections in {elapsed:.1f} s "
        f"({tally.done / elapsed:,.0f} req/s); statuses {dict(sorted(tally.statuses.items()))}; "
        f"errors {errors} {dict(tally.errors)}",
        flush=True,
    )
    assert tally.rss_at_sample is not None
    ratio = rss_end / tally.rss_at_sample
    print(
        f"RSS after {args.warmup} requests: {tally.rss_at_sample} KiB; after {tally.done}: "
        f"{rss_end} KiB; ratio {ratio:.3f} (limit {RSS_RATIO_LIMIT})",
        flush=True,
    )
    ok = ok and errors == 0 and ratio <= RSS_RATIO_LIMIT
    if args.flood:
        before = rss_kib(pid)
        started = time.perf_counter()
        results = await flood(port, args.flood, args.flood_concurrency)
        elapsed = time.perf_counter() - started
        after = rss_kib(pid)
        flood_ratio = after / before
        print(
            f"flood: {args.flood} oversized uploads ({args.flood_concurrency} at a time) in "
            f"{elapsed:.1f} s: {dict(results)}; RSS {before} -> {after} KiB, "
            f"ratio {flood_ratio:.3f} (limit {RSS_RATIO_LIMIT})",
            flush=True,
        )
        ok = ok and results == Counter({413: args.flood}) and flood_ratio <= RSS_RATIO_LIMIT
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--flood", type=int, default=400)
    parser.add_argument("--flood-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if not 0 < args.warmup < args.requests:
        parser.error("--warmup must be between 0 and --requests")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="flagstone-load-") as tmp:
        demo = start_demo(port, Path(tmp))
        try:
            ok = asyncio.run(run(args, port, demo.process.pid))
        finally:
            demo.stop(timeout=15)
        if not ok:
            print(f"FAILED; server log tail:\n{demo.log_tail()}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
