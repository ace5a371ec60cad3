"""Fuzz target: `FileResponse` with fuzzed conditional and Range headers, on a direct ASGI call.

Input layout: byte 0 picks the method (GET, HEAD, in upper, lower or mixed
case, or POST); the rest is split at newlines into the values of
`If-Modified-Since`, `If-Unmodified-Since`, `If-None-Match`, `If-Match`,
`If-Range` and `Range` (latin-1, as ASGI servers decode headers; a missing
line leaves that header out).  Invariants (RFC 9110 says to ignore an
unparseable conditional): the response never raises, its status is one of
200, 206, 304, 400, 416, and every body ends with `more_body: False`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from fuzz_common import InvariantBroken, call_app

from flagstone_requests import FileResponse

NAME = "conditional"

_HEADERS = (
    b"if-modified-since",
    b"if-unmodified-since",
    b"if-none-match",
    b"if-match",
    b"if-range",
    b"range",
)
_METHODS = ("GET", "HEAD", "get", "head", "Get", "hEaD", "POST")
_STATUSES = {200, 206, 304, 400, 416}

SEEDS = [
    b"\x00Mon, 01 Jan 99999999999 00:00:00 GMT",
    b"\x01Mon, 01 Jan 2020 00:00:00 +9999\nFri, 31 Dec 9999 23:59:59 -2359",
    b'\x02\n\n"x", W/"y", *\n*\nW/"z"\nbytes=0-1,5-',
    b"\x03Wed, 21 Oct 2015 07:28:00 GMT\n\n\n\nWed, 21 Oct 2015 07:28:00 GMT\nbytes=-3",
    b'\x04\x00\xff\n\x00\n\xff\n,,,\n"unterminated\nbytes=99999999999999999999999-',
]

_FILE: str | None = None


def _file() -> str:
    global _FILE
    if _FILE is None:
        handle, _FILE = tempfile.mkstemp(prefix="flagstone-fuzz-conditional-")
        os.write(handle, b"0123456789" * 10)
        os.close(handle)
    return _FILE


def _scope(method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/file",
        "raw_path": b"/file",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def check(data: bytes) -> None:
    """Serve the file under one fuzzed set of conditional headers."""
    if not data:
        return
    method = _METHODS[data[0] % len(_METHODS)]
    values = data[1:].split(b"\n")
    headers = list(zip(_HEADERS, values, strict=False))
    sent = call_app(FileResponse(_file()), _scope(method, headers))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    if len(starts) != 1 or starts[0]["status"] not in _STATUSES:
        raise InvariantBroken(f"unexpected response start: {starts}")
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    if not bodies or bodies[-1].get("more_body", False):
        raise InvariantBroken("the response did not end with more_body False")
    if method.upper() == "HEAD" and any(m.get("body") for m in bodies):
        raise InvariantBroken("a HEAD response carried a body")
