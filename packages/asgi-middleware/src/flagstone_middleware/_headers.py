"""Raw ASGI header lists: read one, replace one, merge `Vary`.

Every middleware here edits the `(bytes, bytes)` pairs of a scope or an
`http.response.start` message directly: building a header object per
request would cost more than most of these middlewares do in total, and the
package must work without flagstone-requests.  Names are lower-case bytes,
as ASGI requires of servers and of apps.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["add_vary", "get_header", "remove_header", "set_header"]

Headers = list[tuple[bytes, bytes]]


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header `name` (lower-case), or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def remove_header(headers: Headers, name: bytes) -> None:
    """Drop every `name` header, in place."""
    headers[:] = [(k, v) for k, v in headers if k != name]


def set_header(headers: Headers, name: bytes, value: bytes) -> None:
    """Replace every `name` header with one `name: value`, in place."""
    if any(k == name for k, _ in headers):
        remove_header(headers, name)
    headers.append((name, value))


def add_vary(headers: Headers, field: str) -> None:
    """Add `field` to `Vary`, merging existing `Vary` headers into one, in place.

    A field already listed (any case) is not repeated, and `Vary: *` stays as
    it is (it already says "varies on everything").
    """
    existing = [v.decode("latin-1") for k, v in headers if k == b"vary"]
    fields = [f.strip() for value in existing for f in value.split(",") if f.strip()]
    lowered = {f.lower() for f in fields}
    if "*" in lowered or field.lower() in lowered:
        return
    fields.append(field)
    set_header(headers, b"vary", ", ".join(fields).encode("latin-1"))
