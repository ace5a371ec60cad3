"""Fuzz target: `Range` header parsing for `FileResponse`.

Input layout: bytes 0-3 are the file size (big-endian), byte 4 the
`max_ranges` limit (1-256), the rest the header value (latin-1, as ASGI
servers decode headers).  Invariants: the parser never raises; a partial
answer holds between 1 and `max_ranges` ranges, each non-empty, inside the
file, sorted and neither overlapping nor adjacent (they were merged).
"""

from __future__ import annotations

from fuzz_common import InvariantBroken

from flagstone_requests._ranges import if_range_matches, parse_range

NAME = "range"

SEEDS = [
    b"\x00\x00\x10\x00\x0abytes=0-99,200-299,-50",
    b"\x00\x00\x00\x0a\x02bytes=5-,0-0, 3-4 ,,",
    b"\x00\x01\x00\x00\x64bytes=-0,99999999999999999999999-1,x-y",
]

_OUTCOMES = {"full", "partial", "bad_request", "unsatisfiable"}


def check(data: bytes) -> None:
    """Parse one fuzzed Range header and check the ranges it gives."""
    if len(data) < 5:
        return
    size = int.from_bytes(data[:4], "big")
    max_ranges = data[4] + 1
    header = data[5:].decode("latin-1")
    decision = parse_range(header, size, max_ranges)
    if decision.outcome not in _OUTCOMES:
        raise InvariantBroken(f"unknown outcome {decision.outcome!r}")
    if decision.outcome == "partial":
        _check_ranges(decision.ranges, size, max_ranges)
    if_range_matches(header, '"etag"', "Wed, 21 Oct 2015 07:28:00 GMT")


def _check_ranges(ranges: tuple[tuple[int, int], ...], size: int, max_ranges: int) -> None:
    if not 1 <= len(ranges) <= max_ranges:
        raise InvariantBroken(f"{len(ranges)} ranges for max_ranges={max_ranges}")
    previous_stop = -1
    for start, stop in ranges:
        if not 0 <= start < stop <= size:
            raise InvariantBroken(f"range ({start}, {stop}) outside a file of {size} bytes")
        if start <= previous_stop:
            raise InvariantBroken(f"ranges overlap or touch, not merged: {ranges}")
        previous_stop = stop
