"""`Set-Cookie` header values for `Response.set_cookie` / `delete_cookie`.

`http.cookies` validates the name and quotes the value as RFC 6265 wants;
the rest is checked here: a `;` in `path` or `domain` would start an
attribute of the caller's choosing, and `Partitioned` is written by hand
because `SimpleCookie` only learned it in Python 3.14.
"""

from __future__ import annotations

import http.cookies
from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = ["cookie_header"]


def cookie_header(
    key: str,
    value: str,
    max_age: int | None,
    expires: datetime | str | int | None,
    path: str | None,
    domain: str | None,
    secure: bool,
    httponly: bool,
    samesite: str | None,
    partitioned: bool,
) -> str:
    """The value of one `Set-Cookie` header."""
    # SimpleCookie validates the name and quotes the value as RFC 6265 wants.
    cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    cookie[key] = value
    morsel = cookie[key]
    if max_age is not None:
        morsel["max-age"] = str(max_age)
    if expires is not None:
        if isinstance(expires, datetime):
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            morsel["expires"] = format_datetime(expires.astimezone(UTC), usegmt=True)
        else:
            morsel["expires"] = expires
    if path is not None:
        morsel["path"] = _cookie_attribute("path", path)
    if domain is not None:
        morsel["domain"] = _cookie_attribute("domain", domain)
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    if samesite is not None:
        if samesite.lower() not in ("strict", "lax", "none"):
            raise ValueError(f"samesite must be 'strict', 'lax' or 'none', not {samesite!r}")
        morsel["samesite"] = samesite
    header = morsel.OutputString()
    if partitioned:
        if not secure:
            raise ValueError("partitioned cookies must also be secure: pass secure=True")
        # Written by hand: SimpleCookie only learned `Partitioned` in 3.14.
        header += "; Partitioned"
    return header


def _cookie_attribute(name: str, value: str) -> str:
    # A ";" would end the attribute and start one of the caller's choosing
    # (`path="/; Domain=evil.example"`); control characters split the header.
    if ";" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError(f"cookie {name} must not contain ';' or control characters: {value!r}")
    return value
