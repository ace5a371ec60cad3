"""Serializing, signing and reading session cookies.

The cookie format is Starlette's: `base64(json).<timestamp>.<signature>` made
by itsdangerous' `TimestampSigner` with its default salt and HMAC-SHA1, so a
Starlette app's existing session cookies stay valid after the port.  Server
side stores sign only the session id, under a different salt, so a cookie of
one kind can never be replayed as the other.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from base64 import b64decode, b64encode
from collections.abc import Iterable, Sequence
from typing import Any, Final

from itsdangerous import BadSignature, TimestampSigner

from ._exceptions import SessionNotSerializableError

__all__ = [
    "BROWSER_COOKIE_LIMIT",
    "ID_PATTERN",
    "ID_SALT",
    "PayloadSigner",
    "cookie_values",
    "deserialize",
    "normalize_keys",
    "serialize",
    "unchanged",
]

# RFC 6265 §6.1: browsers keep cookies of at least 4096 bytes counting the
# name, value and attributes; larger ones are dropped without a word.
BROWSER_COOKIE_LIMIT: Final = 4096

# A signed payload longer than any cookie we could have written is rejected
# before the HMAC and base64/JSON work: an attacker cannot make us hash or
# parse more than this per request.
MAX_INCOMING_COOKIE: Final = BROWSER_COOKIE_LIMIT

# Cookie tossing: a sibling subdomain (or a less specific path) can plant a
# second cookie with our name.  We try the first few and take the first that
# verifies; the cap bounds the HMAC work per request.
MAX_CANDIDATES: Final = 4

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{43}")

ID_SALT: Final = b"flagstone.sessions.id"
DEFAULT_SALT: Final = b"itsdangerous.Signer"  # itsdangerous' default, used by Starlette

_encoder = json.JSONEncoder(separators=(",", ":"))
_legacy_encoder = json.JSONEncoder()  # Starlette's json.dumps() defaults


def normalize_keys(secret_key: object) -> list[bytes]:
    """Turn `secret_key` (str, bytes, a list oldest→newest, or a Secret) into key bytes."""
    keys: Sequence[object]
    if isinstance(secret_key, str | bytes):
        keys = [secret_key]
    elif isinstance(secret_key, Sequence):
        keys = list(secret_key)
    else:
        # Starlette's `Secret` (and similar wrappers) reveal the key via str().
        # Deliberately *not* applied to lists: Starlette's str(secret_key) of
        # a list signs with "['old', 'new']" and makes rotation impossible.
        keys = [str(secret_key)]
    if not keys:
        raise ValueError("secret_key is an empty list; give at least one key (newest last)")
    result: list[bytes] = []
    for key in keys:
        if isinstance(key, str):
            key = key.encode()
        if isinstance(key, bytes) and key:
            result.append(key)
        else:
            raise ValueError(
                "every secret_key must be a non-empty str or bytes; "
                "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
    return result


def serialize(data: dict[str, Any]) -> str:
    """Encode the session as compact JSON, naming the offending key on failure."""
    try:
        return _encoder.encode(data)
    except (TypeError, ValueError, RecursionError) as exc:
        try:
            where, what = _find_unserializable(data, "session", set())
        except RecursionError:  # nested deeper than the finder can walk
            where, what = "", ""
        if not where:
            where, what = "the session", f"not JSON-serialisable ({exc})"
        raise SessionNotSerializableError(
            f"{where} is {what}, which cannot be stored in a session: session values "
            "must be JSON (str, int, float, bool, None, and lists/dicts of those, dict "
            "keys str). Convert it first, e.g. str(uuid), dt.isoformat(), list(a_set)."
        ) from exc


def _find_unserializable(value: Any, where: str, seen: set[int]) -> tuple[str, str]:
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            return where, "a circular reference"
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str | int | float | bool) and key is not None:
                    return where, f"a dict with a {type(key).__name__} key {key!r}"
                found = _find_unserializable(item, f"{where}[{key!r}]", seen)
                if found[0]:
                    return found
        else:
            for index, item in enumerate(value):
                found = _find_unserializable(item, f"{where}[{index}]", seen)
                if found[0]:
                    return found
        seen.discard(id(value))
        return "", ""
    if value is None or isinstance(value, str | int | float | bool):
        return "", ""
    return where, f"a {type(value).__module__}.{type(value).__qualname__} ({value!r:.60})"


def unchanged(payload: str, baseline: str | None, data: dict[str, Any]) -> bool:
    """True when `payload` (just serialized) is the session as it was loaded.

    Comparing serialized text, not objects, is what catches nested edits and
    also changes Python's `==` would miss (1 → 1.0 → True compare equal).
    A cookie written by Starlette uses json.dumps' spaced separators; it is
    compared in that form too so a merely read legacy session is not rewritten.
    """
    if baseline is None:
        return False
    if payload == baseline:
        return True
    return (", " in baseline or ": " in baseline) and _legacy_encoder.encode(data) == baseline


def deserialize(text: str) -> dict[str, Any] | None:
    """Parse a JSON object, or None if `text` is not one (garbage, list, number...)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def cookie_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The values of every cookie called `name` in the request, in order (at most a few)."""
    found: list[bytes] = []
    for key, value in headers:
        # HTTP/2 and 3 may split Cookie into several header lines.
        if key != b"cookie" or name not in value:
            continue
        for pair in value.split(b";"):
            cookie_name, sep, cookie_value = pair.partition(b"=")
            if sep and cookie_name.strip() == name:
                found.append(cookie_value.strip())
                if len(found) == MAX_CANDIDATES:
                    return found
    return found


class _Signer(TimestampSigner):
    """itsdangerous' TimestampSigner, same algorithm and output, minus per-call overhead.

    Two documented hooks, no change to the bytes produced: `digest_method` is
    given as OpenSSL's `hashlib.sha1` itself (HMAC-SHA1 as before) so `hmac`
    takes its C fast path, and `derive_key` remembers the derived key of each
    secret instead of hashing it again on every sign and unsign.
    """

    def __init__(self, keys: list[bytes], salt: bytes) -> None:
        super().__init__(keys, salt=salt, digest_method=hashlib.sha1)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        """Return the derived key for `secret_key` (the newest when None), cached."""
        derived = self._derived.get(secret_key)
        if derived is None:
            derived = self._derived[secret_key] = super().derive_key(secret_key)
        return derived


class PayloadSigner:
    """Sign and verify with a key list (oldest→newest): verify with any, sign with newest."""

    __slots__ = ("_signer", "max_age")

    def __init__(self, keys: list[bytes], max_age: int | None, salt: bytes | None) -> None:
        # itsdangerous tries every key when unsigning and signs with the last.
        # Its default salt keeps Starlette's cookies valid.
        self._signer = _Signer(keys, salt=DEFAULT_SALT if salt is None else salt)
        self.max_age = max_age

    def sign(self, value: bytes) -> bytes:
        """Sign `value` with the newest key and the current time."""
        return self._signer.sign(value)

    def unsign(self, signed: bytes) -> bytes | None:
        """Return the signed value, or None if tampered, expired, too long or malformed."""
        if len(signed) > MAX_INCOMING_COOKIE:
            return None
        try:
            return self._signer.unsign(signed, max_age=self.max_age)
        except BadSignature:  # includes SignatureExpired
            return None

    def sign_payload(self, payload: str) -> bytes:
        """Sign a serialized session (cookie sessions)."""
        return self.sign(b64encode(payload.encode()))

    def unsign_payload(self, signed: bytes) -> tuple[dict[str, Any], str] | None:
        """Verify a cookie session; None for every kind of bad cookie."""
        value = self.unsign(signed)
        if value is None:
            return None
        try:
            text = b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError):
            # A valid signature over bytes that are not base64/UTF-8: only a
            # leaked key or a bug produces it; treat it as a bad cookie.
            return None
        data = deserialize(text)
        return None if data is None else (data, text)
