"""Fuzz target: `application/x-www-form-urlencoded` through `Request.form()`.

Input layout: byte 0 picks the chunk size the body arrives in (0 = one
chunk), the rest is the body, so a `%XX` escape or a UTF-8 sequence split
across chunks is exercised.
"""

from __future__ import annotations

from fuzz_common import call_form, split_chunks

NAME = "urlencoded"

SEEDS = [
    b"\x00a=1&b=2&a=3",
    b"\x01name=J%C3%BCrgen+M%C3%BCller&empty=&flag",
    b"\x02%zz=%&&=x&a%3Db=c%26d",
]


def check(data: bytes) -> None:
    """Parse one fuzzed urlencoded body; only documented errors may escape."""
    if not data:
        return
    call_form(b"application/x-www-form-urlencoded", split_chunks(data[1:], data[0]))
