"""Fuzz target: the `Cookie` request header through `HTTPConnection.cookies`.

The input is the raw header value (bytes, as an ASGI server hands them on).
Invariants: parsing never raises, and gives a `dict[str, str]` whose keys
carry no surrounding whitespace.
"""

from __future__ import annotations

from typing import Any

from fuzz_common import InvariantBroken

from flagstone_requests import HTTPConnection

NAME = "cookies"

SEEDS = [
    b"session=abc; theme=dark",
    b'a="quoted\\"value\\073"; b=; =c; d',
    b'  spaced = value ;; last=""',
]


def check(data: bytes) -> None:
    """Parse one fuzzed Cookie header; it must never raise."""
    scope: dict[str, Any] = {"type": "http", "headers": [(b"cookie", data)]}
    cookies = HTTPConnection(scope).cookies
    if not isinstance(cookies, dict):
        raise InvariantBroken(f"cookies is not a dict: {cookies!r}")
    for key, value in cookies.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvariantBroken(f"cookie item is not str: {key!r}={value!r}")
        if key != key.strip():
            raise InvariantBroken(f"cookie name keeps whitespace: {key!r}")
