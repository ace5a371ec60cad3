"""Parsing of `Range` and evaluation of `If-Range` for `FileResponse`.

The `Range` header is attacker-controlled and cheap to send, so every step
here is bounded: the header is split at most `max_ranges` times, each number
is capped in length before `int()` sees it, and overlapping ranges are merged
with one sort.  The worst header costs O(max_ranges log max_ranges), never
anything proportional to its length or to the file size (the 2025 Starlette
advisory GHSA-7f5h-v6xp-fcq8 was an O(n^2) parse of exactly this header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MalformedRangeHeader",
    "RangeDecision",
    "RangeNotSatisfiable",
    "if_range_matches",
    "parse_range",
]

# 19 digits always fit in a signed 64-bit integer.  Longer numbers are
# treated as "infinitely large" without parsing them: `int()` over thousands
# of digits is quadratic, and Python refuses over 4300 digits anyway.
_MAX_DIGITS = 19
_HUGE = 1 << 63

Outcome = Literal["full", "partial", "bad_request", "unsatisfiable"]


# Starlette's names for the two refusals.  `FileResponse` here answers them
# itself (400 and 416, from `parse_range`'s decision) without raising; the
# classes exist, with Starlette's constructor arguments, for code that raises
# or catches them (a `FileResponse` subclass, a ported test).
class MalformedRangeHeader(Exception):
    """A `Range` header that cannot be parsed (answered with 400)."""

    def __init__(self, content: str = "Malformed range header.") -> None:
        super().__init__(content)
        self.content = content


class RangeNotSatisfiable(Exception):
    """No requested range overlaps the representation (answered with 416, `bytes */max_size`)."""

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size)
        self.max_size = max_size


@dataclass(frozen=True, slots=True)
class RangeDecision:
    """What to answer: the whole file (200), `ranges` (206), 400 or 416.

    `ranges` holds half-open `(start, stop)` byte offsets, sorted, merged and
    clamped to the file size; it is only meaningful for a "partial" outcome.
    """

    outcome: Outcome
    ranges: tuple[tuple[int, int], ...] = ()
    detail: str = ""
    """The 400's body (Starlette's `MalformedRangeHeader` texts)."""


_FULL = RangeDecision("full")
_NO_UNIT = RangeDecision("bad_request", detail="Malformed range header.")
_NO_RANGE = RangeDecision("bad_request", detail="Range header: range must be requested")
_INVERTED = RangeDecision("bad_request", detail="Range header: start must be less than end")
_UNSATISFIABLE = RangeDecision("unsatisfiable")


def _parse_number(text: str) -> int | None:
    """A non-negative decimal (`None` if not one); overlong numbers become huge."""
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) > _MAX_DIGITS:
        return _HUGE
    return int(text)


def _parse_spec(spec: str, size: int) -> tuple[int, int] | Literal["junk", "empty", "inverted"]:
    """One `first-last`, `first-` or `-suffix` spec as a half-open range."""
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return "junk"
    if not first:
        suffix = _parse_number(last)
        if suffix is None:
            return "junk"
        # `bytes=-0` asks for the last zero bytes: RFC 9110 calls that
        # unsatisfiable, so it must not turn into a whole-file answer.
        if suffix == 0:
            return "empty"
        # An empty file has no last bytes to give: (0, 0) would be a 206
        # with `Content-Range: bytes 0--1/0`.  Found by tools/fuzz.
        if size == 0:
            return "empty"
        # A suffix longer than the file means "the whole file" (clamped).
        return (max(size - suffix, 0), size)
    start = _parse_number(first)
    if start is None:
        return "junk"
    end = None
    if last:
        end = _parse_number(last)
        if end is None:
            return "junk"
    # A start past the end is unsatisfiable (416) before an inverted range
    # is malformed (400): Starlette's order of checks.
    if start >= size:
        return "empty"
    if end is None:
        return (start, size)
    if end < start:
        return "inverted"
    return (start, min(end + 1, size))


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort and merge overlapping or adjacent ranges (one pass after a sort)."""
    ranges.sort()
    merged = [ranges[0]]
    for start, stop in ranges[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            merged[-1] = (last_start, max(last_stop, stop))
        else:
            merged.append((start, stop))
    return tuple(merged)


def parse_range(header: str, size: int, max_ranges: int = 100) -> RangeDecision:
    """Decide how to answer `Range: header` for a representation of `size` bytes.

    - a unit other than `bytes` is ignored, as RFC 9110 §14.2 requires (200;
      Starlette answers 400);
    - more than `max_ranges` ranges: the header is ignored (200), which RFC
      9110 allows and which costs no more than serving the file once;
    - no `=`, or nothing but junk, or a range whose last byte precedes its
      first: 400, as Starlette does;
    - only ranges past the end (or `-0`): 416;
    - otherwise 206 with the valid ranges merged; junk specs among valid ones
      are skipped, as Starlette does.
    """
    unit, equals, specs_text = header.partition("=")
    if not equals:
        return _NO_UNIT
    if unit.strip().lower() != "bytes":
        return _FULL
    # maxsplit bounds the work: a header with 100,000 commas is split only
    # `max_ranges` times before we know to ignore it.
    specs = specs_text.split(",", max_ranges)
    if len(specs) > max_ranges:
        return _FULL
    ranges: list[tuple[int, int]] = []
    saw_unsatisfiable = False
    for spec in specs:
        if not spec.strip():
            continue  # RFC 9110 list syntax tolerates empty elements
        parsed = _parse_spec(spec, size)
        if parsed == "inverted":
            return _INVERTED
        if parsed == "empty":
            saw_unsatisfiable = True
        elif parsed != "junk":
            ranges.append(parsed)
    if ranges:
        return RangeDecision("partial", _merge(ranges))
    return _UNSATISFIABLE if saw_unsatisfiable else _NO_RANGE


def if_range_matches(if_range: str, etag: str | None, last_modified: str | None) -> bool:
    """True when `If-Range` lets the ranges apply (the representation is unchanged).

    RFC 9110 §13.1.5 demands a *strong* match: a weak entity tag (`W/"…"`)
    never matches, and a date matches only if it equals `Last-Modified`
    exactly.  A mismatch means "send the whole, current file" (200).
    """
    value = if_range.strip()
    if value.startswith('"'):
        return etag is not None and not etag.startswith("W/") and value == etag
    if value.startswith("W/"):
        return False
    return last_modified is not None and value == last_modified
