"""Fuzz target: `Request.json()` on a direct ASGI call.

Input layout: byte 0 picks the chunk size the body arrives in, the rest is
the body.  Invariants: a value, or a clean rejection (a 4xx
`HTTPException`: `InvalidJSON` 400, `ContentTooLarge` 413), never anything
else; and the rejection names the real problem: a body that IS valid UTF-8
is never called "not UTF-8 text" (a 5000-digit integer was, issue 18 item 3).
"""

from __future__ import annotations

from fuzz_common import InvariantBroken, call_json, split_chunks

NAME = "json"

SEEDS = [
    b'\x00{"a": [1, 2.5, "x", null, true]}',
    b"\x03" + b"1" * 5000,
    b'\x07{"n": -' + b"9" * 4301 + b"}",
    b"\x01" + b"[" * 3000,
    b"\x02\xff\xfe{\x00}\x00",
    b'\x00"\\ud800"',
    b"\x00NaN",
]


def check(data: bytes) -> None:
    """Parse one fuzzed JSON body; only documented errors, with an honest reason."""
    if not data:
        return
    body = data[1:]
    _, error = call_json(split_chunks(body, data[0]))
    if error is None:
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return
    if "not UTF-8" in error.detail or (
        "not text" in error.detail and body.isascii() and b"\x00" not in body
    ):
        raise InvariantBroken(f"valid UTF-8 body reported as not UTF-8: {error.detail[:200]}")
