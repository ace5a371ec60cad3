"""Hostile requests over a real socket: the demo under uvicorn, side by side with Starlette 1.10.

`hatch run bench:python tools/bench/hostile.py [--write] [--toolkits flagstone,starlette]`

The in-process hostile suites (packages/*/tests/test_hostile_inputs.py, the
fuzz targets) call the ASGI app directly.  This sends the same kinds of
attack as raw HTTP/1.1 bytes to a real server: the flagstone demo
(`flagstone_demo.app`) under uvicorn, and a Starlette 1.10 app with the same
routes and limits (`apps_hostile_starlette.py`).  For every case it records
the status the server answered (or `closed` when it cut the connection), the
wall time, the server's peak RSS during the case (VmHWM, reset before each
case through /proc/<pid>/clear_refs), and whether the server still answered
a plain request afterwards.  After the table, the number of "Exception in
ASGI application" tracebacks each server logged.

The requirement (issue 18): no 5xx on any client input, and the server
answering after every case.  `tools/tests/test_hostile_server.py` runs the
flagstone column in CI (bounded well under a minute); `--write` records the
full table in tools/bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT / "tools"))
sys.path.insert(0, str(HERE))

from http1 import read_reply, reply_while_sending  # noqa: E402
from serving import Served, free_port, http_answers, proc_status_kib, start  # noqa: E402

KiB = 1024
B = "hostileboundary"
TIMEOUT = 20.0  # seconds one case may take before it counts as a hang
START_DEADLINE = 30.0
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Case:
    """One hostile request: what it attacks, and its bytes."""

    name: str
    attack: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # Send the body in pieces of this many bytes, one socket write each (0: at once).
    trickle: int = 0
    # Close the connection after this many body bytes, without waiting for a reply.
    abort_after: int | None = None
    content_length: str | None = None
    # Send `Expect: 100-continue` and the body only after a 100, as curl does
    # for large uploads: a server refusing early (413) then answers before
    # the client's body fills the socket (a reset that would hide the reply).
    expect_continue: bool = False


def _multipart(
    parts: list[tuple[str, bytes, str | None]], charset: str | None = None
) -> tuple[bytes, str]:
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{B}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("latin-1")
        body += value + b"\r\n"
    body += f"--{B}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={B}"
    if charset is not None:
        content_type += f"; charset={charset}"
    return body, content_type


def _login_multipart(charset: str) -> Case:
    body, ctype = _multipart(
        [("username", b"hostile", None), ("password", b"fl\xe4gstone", None)], charset
    )
    return Case(
        f"multipart_charset_{charset}",
        f"multipart charset={charset} (not a text encoding)",
        "POST",
        "/login",
        (("content-type", ctype),),
        body,
    )


def cases() -> list[Case]:
    """Every case, in the order they run."""
    punycode_body, punycode_type = _multipart(
        [("note", b"a" * 30_000 + b"-" + b"b" * 30_000, None), ("file", b"data", "f.txt")],
        "punycode",
    )
    no_end, no_end_type = _multipart([("file", b"data", "f.txt")])
    header_flood = (
        f"--{B}\r\n".encode()
        + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
        + b'Content-Disposition: form-data; name="file"; filename="f"\r\n\r\nx\r\n'
        + f"--{B}--\r\n".encode()
    )
    trickled, trickled_type = _multipart([("file", b"t" * 4096, "t.txt")])
    aborted, aborted_type = _multipart([("file", b"z" * 600_000, "big.bin")])
    json = (("content-type", "application/json"),)
    return [
        *(_login_multipart(c) for c in ("base64", "rot13", "hex", "zlib", "undefined", "idna")),
        Case(
            "multipart_charset_punycode_60k",
            "multipart charset=punycode, a 60 KB field (quadratic decoder)",
            "POST",
            "/upload",
            (("content-type", punycode_type),),
            punycode_body,
        ),
        Case(
            "multipart_invalid_utf8_field",
            "invalid UTF-8 in a field declared utf-8",
            "POST",
            "/login",
            (("content-type", f"multipart/form-data; boundary={B}"),),
            _multipart([("username", b"\xff\xfe", None), ("password", b"\xc3", None)])[0],
        ),
        Case(
            "json_5000_digit_integer",
            "JSON integer past the int-digit limit",
            "POST",
            "/api/messages",
            json,
            b"1" * 5000,
        ),
        Case(
            "json_nested_60000_deep",
            "JSON nested deeper than the stack",
            "POST",
            "/api/messages",
            json,
            b"[" * 60_000,
        ),
        Case(
            "json_not_utf8",
            "JSON body that is not UTF-8/16/32",
            "POST",
            "/api/messages",
            json,
            b"\xff\xfe\xfa\xfb",
        ),
        Case(
            "json_lone_surrogate",
            "JSON string with a lone surrogate escape",
            "POST",
            "/api/messages",
            json,
            b'{"text": "\\ud800"}',
        ),
        Case(
            "urlencoded_only_ampersands_60k",
            "urlencoded body of only '&' (no field ever ends)",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"&" * 60_000,
        ),
        Case(
            "urlencoded_1001_fields",
            "more fields than max_fields",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"a=1&" * 1001,
        ),
        Case(
            "urlencoded_invalid_percent",
            "broken %-escapes and raw 0xff",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"username=%zz%&password=\xff%C3",
        ),
        Case(
            "multipart_no_closing_boundary",
            "multipart body cut before its closing boundary",
            "POST",
            "/upload",
            (("content-type", no_end_type),),
            no_end[: -len(B) - 6],
        ),
        Case(
            "multipart_200_part_headers",
            "a part with 200 headers",
            "POST",
            "/upload",
            (("content-type", f"multipart/form-data; boundary={B}"),),
            header_flood,
        ),
        Case(
            "multipart_boundary_300_bytes",
            "a 300-byte boundary (quadratic matching)",
            "POST",
            "/upload",
            (("content-type", "multipart/form-data; boundary=" + "b" * 300),),
            b"--" + b"b" * 300 + b"--\r\n",
        ),
        Case(
            "multipart_missing_boundary",
            "multipart without a boundary",
            "POST",
            "/upload",
            (("content-type", "multipart/form-data"),),
            b"x",
        ),
        Case(
            "multipart_one_byte_writes",
            "a 4 KB upload sent one byte per socket write",
            "POST",
            "/upload",
            (("content-type", trickled_type),),
            trickled,
            trickle=1,
        ),
        Case(
            "body_over_app_limit",
            "100 KB urlencoded body over the 64 KB app limit",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"a=" + b"x" * 100_000,
        ),
        Case(
            "upload_over_route_limit",
            "3 MB upload over the 2 MB route limit",
            "POST",
            "/upload",
            (("content-type", f"multipart/form-data; boundary={B}"),),
            b"y" * 3_000_000,
            expect_continue=True,
        ),
        Case(
            "content_length_huge",
            "Content-Length of 10**20 and no body",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"",
            content_length="100000000000000000000",
        ),
        Case(
            "content_length_garbage",
            "Content-Length that is not a number",
            "POST",
            "/login",
            (("content-type", FORM),),
            b"a=1",
            content_length="1e3",
        ),
        Case(
            "host_bad_ipv6",
            "Host: [:::] (not an IPv6 literal)",
            "GET",
            "/api/me",
            (("host", "[:::]"),),
        ),
        Case(
            "host_with_path_and_at",
            "Host with a path, query and '@'",
            "GET",
            "/api/me",
            (("host", "evil.example/x?y@z"),),
        ),
        Case(
            "cookie_garbage",
            "Cookie header of control bytes and stray quotes",
            "GET",
            "/api/me",
            (("cookie", 'session="\x01\x7f;;==; a="'),),
        ),
        Case(
            "query_string_garbage",
            "query string of broken escapes and raw 0xff",
            "GET",
            "/api/pid?%ff=%fe&&&=&%zz",
            (),
        ),
        Case(
            "client_disconnect_mid_upload",
            "client leaves after 300 KB of a 600 KB upload",
            "POST",
            "/upload",
            (("content-type", aborted_type),),
            aborted,
            abort_after=300_000,
        ),
    ]


# --- one request over a fresh connection ----------------------------------------


@dataclass
class Outcome:
    status: str
    seconds: float
    peak_rss_mib: float
    alive: bool


def _request_head(case: Case, cookie: str | None) -> bytes:
    headers = dict(case.headers)
    host = headers.pop("host", "127.0.0.1")
    lines = [f"{case.method} {case.path} HTTP/1.1", f"host: {host}", "connection: close"]
    if cookie and "cookie" not in headers:
        lines.append(f"cookie: {cookie}")
    if case.expect_continue:
        lines.append("expect: 100-continue")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if case.content_length is not None:
        lines.append(f"content-length: {case.content_length}")
    elif case.body or case.method == "POST":
        lines.append(f"content-length: {len(case.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def send_case(port: int, case: Case, cookie: str | None) -> str:
    """Send `case`; the status, or `closed` when the server cut the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = case.body if case.abort_after is None else case.body[: case.abort_after]

    async def write() -> None:
        # A server may answer (413) and close before the body is all sent.
        try:
            writer.write(_request_head(case, cookie))
            step = case.trickle or 256 * KiB
            for offset in range(0, len(body), step):
                writer.write(body[offset : offset + step])
                await writer.drain()
        except OSError:
            pass

    try:
        if case.abort_after is not None:
            await write()
            return "client left"
        if case.expect_continue:
            writer.write(_request_head(case, cookie))
            first = await asyncio.wait_for(read_reply(reader), TIMEOUT)
            if first.status != 100:
                return str(first.status)
            writer.write(case.body)
            await writer.drain()
            return str((await asyncio.wait_for(read_reply(reader), TIMEOUT)).status)
        try:
            reply = await reply_while_sending(reader, write(), TIMEOUT)
        except (OSError, asyncio.IncompleteReadError):
            return "closed"
        except TimeoutError:
            return "timeout"
        return str(reply.status)
    finally:
        writer.close()


def _reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def run_case(port: int, pid: int, case: Case, cookie: str | None, health: str) -> Outcome:
    _reset_peak_rss(pid)
    started = time.perf_counter()
    status = asyncio.run(send_case(port, case, cookie))
    seconds = time.perf_counter() - started
    peak = proc_status_kib(pid, "VmHWM") / KiB
    alive = http_answers(port, health)
    return Outcome(status, seconds, peak, alive)


# --- the servers ----------------------------------------------------------------------


@dataclass
class Toolkit:
    name: str
    start: Callable[[int, Path], Served]
    health: str = "/api/pid"
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    tracebacks: int = 0


def _uvicorn(target: str, app_dir: str, port: int, workdir: Path, env: dict[str, str]) -> Served:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--app-dir",
        app_dir,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "3",
    ]
    name = target.split(":")[0]
    served = start(name, command, workdir / f"{name}.log", port=port, cwd=REPO_ROOT, env=env)
    served.wait_until(lambda: http_answers(port, "/api/pid"), "answering", START_DEADLINE)
    return served


def start_flagstone_demo(port: int, workdir: Path) -> Served:
    """The demo as tools/serve_demo.py runs it: cookie sessions, no access log."""
    env = {
        "FLAGSTONE_DEMO_SECRET": "hostile-run-secret",
        "FLAGSTONE_DEMO_AUDIT_LOG": str(workdir / "audit.log"),
        "FLAGSTONE_DEMO_REDIS_URL": "",
    }
    return _uvicorn("flagstone_demo.app:app", "packages/meta/examples", port, workdir, env)


def start_starlette(port: int, workdir: Path) -> Served:
    """The Starlette 1.10 mirror of the demo routes."""
    return _uvicorn("apps_hostile_starlette:app", str(HERE), port, workdir, {})


TOOLKITS = {"flagstone": start_flagstone_demo, "starlette": start_starlette}


async def _login(port: int) -> str | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b"username=hostile&password=flagstone"
    writer.write(
        b"POST /login HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
        b"content-type: application/x-www-form-urlencoded\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    reply = await asyncio.wait_for(read_reply(reader), TIMEOUT)
    writer.close()
    cookie = reply.header("set-cookie")
    return cookie.split(";", 1)[0] if cookie else None


def run_toolkit(name: str, selected: list[Case], workdir: Path) -> Toolkit:
    """Start one server, send every case, stop it; the outcomes."""
    kit = Toolkit(name, TOOLKITS[name])
    port = free_port()
    served = kit.start(port, workdir)
    try:
        cookie = asyncio.run(_login(port))
        for case in selected:
            kit.outcomes[case.name] = run_case(port, served.process.pid, case, cookie, kit.health)
    finally:
        served.stop()
    kit.tracebacks = served.log_tail(10_000_000).count("Exception in ASGI application")
    return kit


def is_server_error(status: str) -> bool:
    """A 5xx, or a case that hung: what the requirement forbids."""
    return status.startswith("5") or status == "timeout"


# --- the report -------------------------------------------------------------------------


def render(kits: list[Toolkit], selected: list[Case], command: str) -> str:
    names = [kit.name for kit in kits]
    head = "| case | attack | " + " | ".join(
        f"{n} status | {n} ms | {n} peak RSS MiB | {n} alive after" for n in names
    )
    lines = [head + " |", "|---|---|" + "---:|---:|---:|---|" * len(names)]
    for case in selected:
        cells = []
        for kit in kits:
            o = kit.outcomes[case.name]
            status = f"**{o.status}**" if is_server_error(o.status) else o.status
            cells.append(
                f"{status} | {o.seconds * 1000:,.0f} | {o.peak_rss_mib:,.1f} | {'yes' if o.alive else 'NO'}"
            )
        lines.append(f"| `{case.name}` | {case.attack} | " + " | ".join(cells) + " |")
    summary = []
    for kit in kits:
        errors = [c.name for c in selected if is_server_error(kit.outcomes[c.name].status)]
        dead = [c.name for c in selected if not kit.outcomes[c.name].alive]
        summary.append(
            f"- {kit.name}: {len(errors)} server errors or hangs"
            + (f" ({', '.join(errors)})" if errors else "")
            + f"; not answering after: {len(dead)}"
            + f"; 'Exception in ASGI application' tracebacks logged: {kit.tracebacks}"
        )
    return "\n".join(
        [
            "## Hostile requests through a real server (uvicorn), flagstone demo beside Starlette 1.10",
            "",
            f"Command: `{command}`.  Each case on a fresh connection; `closed` = the server cut "
            "the connection without a response, `client left` = the client disconnected "
            "mid-body on purpose (no response expected).  Peak RSS is the server's VmHWM "
            "during the case.  Times are wall-clock on a shared 2-core machine: compare "
            "within a row, not across runs.",
            "",
            *lines,
            "",
            *summary,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--toolkits", default="flagstone,starlette")
    parser.add_argument("--cases", default="", help="comma-separated case names (default all)")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    selected = [c for c in cases() if not args.cases or c.name in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="flagstone-hostile-") as tmp:
        kits = [run_toolkit(name, selected, Path(tmp)) for name in args.toolkits.split(",")]
    command = "hatch run bench:python tools/bench/hostile.py " + " ".join(argv or sys.argv[1:])
    text = render(kits, selected, command.strip())
    print(text)
    if args.write:
        from bench_report import write_results_section

        write_results_section("hostile-server", text)
    flagstone = next((k for k in kits if k.name == "flagstone"), None)
    if flagstone is None:
        return 0
    failed = any(is_server_error(o.status) or not o.alive for o in flagstone.outcomes.values())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
