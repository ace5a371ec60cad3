"""Serializing, signing and reading session cookies.

The cookie format is Starlette's: `base64(json).<timestamp>.<signature>` made
by itsdangerous' `TimestampSigner` with its default salt and HMAC-SHA1, so a
Starlette app's existing session cookies stay valid after the port.  Server
side stores sign only the session id, under a different salt, so a cookie of
one kind can never be replayed as the other.
"""

from __future__ import annotations

import binascii
import hmac
import json
import json.encoder
import re
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from itsdangerous import TimestampSigner

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


def _build_compact_encode() -> Callable[[Any], str]:
    # `JSONEncoder.encode` builds a C encoder object on every call, which
    # costs more than encoding a small session; this builds it once with the
    # same options as `_encoder`.  No circular-reference markers (a shared
    # markers dict could keep stale entries after a failed call): a cycle
    # raises RecursionError instead of ValueError, and serialize() reports
    # both the same way.  The plain encoder where the C accelerator is missing.
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover - PyPy and friends
        return _encoder.encode
    iterencode = make_encoder(
        None, _encoder.default, json.encoder.encode_basestring_ascii, None,
        ":", ",", False, False, True,
    )  # fmt: skip
    sample = {"a": [1, 2.5, "é", None, True, float("inf")], "b": {"c": ""}}
    if "".join(iterencode(sample, 0)) != _encoder.encode(sample):  # pragma: no cover
        return _encoder.encode

    def encode(data: Any) -> str:
        return "".join(iterencode(data, 0))

    return encode


_compact_encode = _build_compact_encode()
# The scanner behind json.loads (the C one where available): called
# directly, it skips two Python layers.  (typeshed does not declare it.)
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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
        return _compact_encode(data)
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
        # The cookies we write are one JSON object, nothing around it.
        data, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(text):
        # Anything else (surrounding whitespace, a BOM, garbage) gets
        # json.loads' own verdict.
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


_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")
_INT64: Final = struct.Struct(">Q")


def _urlsafe_encode(data: bytes) -> bytes:
    """itsdangerous' `base64_encode`: the URL-safe alphabet, padding stripped."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _urlsafe_decode(text: bytes) -> bytes | None:
    """itsdangerous' `base64_decode`, with None where it raises.

    The same lenient decoder: padding restored, bytes outside the alphabet
    skipped (binascii's non-strict mode), so exactly the same cookies pass.
    """
    try:
        return binascii.a2b_base64((text + b"=" * (-len(text) % 4)).translate(_FROM_URLSAFE))
    except binascii.Error:
        return None


class PayloadSigner:
    """Sign and verify with a key list (oldest→newest): verify with any, sign with newest.

    The format is itsdangerous' `TimestampSigner` (HMAC-SHA1, django-concat
    key derivation, `value.timestamp.signature` in URL-safe base64), which is
    Starlette's cookie format.  itsdangerous derives the keys, once; signing
    and verifying are done here with the same primitives but without its
    per-call layers (about a dozen Python calls per cookie, each re-deriving
    the key), the largest cost of a request that uses its session.  A
    property test pins the equivalence both ways against itsdangerous itself.
    """

    __slots__ = ("_keys", "max_age")

    def __init__(self, keys: list[bytes], max_age: int | None, salt: bytes | None) -> None:
        # Its default salt keeps Starlette's cookies valid.
        signer = TimestampSigner(keys, salt=DEFAULT_SALT if salt is None else salt)
        # Newest first: the order itsdangerous tries them in, and the signing key.
        self._keys = [signer.derive_key(key) for key in reversed(keys)]
        self.max_age = max_age

    def sign(self, value: bytes) -> bytes:
        """Sign `value` with the newest key and the current time."""
        # The timestamp is the big-endian integer without leading zero bytes.
        stamp = _urlsafe_encode(_INT64.pack(int(time.time())).lstrip(b"\x00"))
        signed = value + b"." + stamp
        return signed + b"." + _urlsafe_encode(hmac.digest(self._keys[0], signed, "sha1"))

    def unsign(self, signed: bytes) -> bytes | None:
        """Return the signed value, or None if tampered, expired, too long or malformed."""
        if len(signed) > MAX_INCOMING_COOKIE:
            return None
        stamped, sep, signature = signed.rpartition(b".")
        if not sep:
            return None
        expected = _urlsafe_decode(signature)
        if expected is None:
            return None
        for key in self._keys:
            # Constant-time comparison: no timing oracle on the signature.
            if hmac.compare_digest(expected, hmac.digest(key, stamped, "sha1")):
                break
        else:
            return None
        value, sep, stamp = stamped.rpartition(b".")
        if not sep:
            return None
        timestamp = _urlsafe_decode(stamp)
        if timestamp is None or len(timestamp) > 8:  # more than a 64-bit time
            return None
        if self.max_age is not None:
            age = int(time.time()) - int.from_bytes(timestamp, "big")
            if age > self.max_age or age < 0:  # expired, or signed in the future
                return None
        return value

    def sign_payload(self, payload: str) -> bytes:
        """Sign a serialized session (cookie sessions)."""
        # Standard base64 (not URL-safe) inside, as Starlette writes it.
        return self.sign(binascii.b2a_base64(payload.encode(), newline=False))

    def unsign_payload(self, signed: bytes) -> tuple[dict[str, Any], str] | None:
        """Verify a cookie session; None for every kind of bad cookie."""
        value = self.unsign(signed)
        if value is None:
            return None
        try:
            # b64decode(value, validate=True), without its Python layer.
            text = binascii.a2b_base64(value, strict_mode=True).decode()
        except (binascii.Error, ValueError):
            # A valid signature over bytes that are not base64/UTF-8: only a
            # leaked key or a bug produces it; treat it as a bad cookie.
            return None
        data = deserialize(text)
        return None if data is None else (data, text)
