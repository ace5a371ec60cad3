"""HTTP header collections: `Headers` (read-only) and `MutableHeaders`.

Headers are kept the way ASGI carries them: a list of `(name, value)` byte
pairs with lower-cased names, duplicates preserved, decoded as latin-1 only
when a caller asks for a `str`.  Lookups scan the list: a request carries a
dozen headers, and a scan over bytes beats building a dict per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from flagstone_contract import Scope
from flagstone_contract.http import is_header_value, is_token

from ._exceptions import BadArguments

__all__ = ["Headers", "MutableHeaders", "encode_header_name", "encode_header_value"]

RawHeaders = list[tuple[bytes, bytes]]


def encode_header_name(name: str) -> bytes:
    """`name` lower-cased as ASGI wants; `ValueError` unless it is an RFC 9110 token.

    A name with ":", a space or a line break would let the caller forge a
    second header (response splitting).
    """
    raw = name.lower().encode("latin-1")
    if not is_token(raw):
        raise ValueError(
            f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only"
        )
    return raw


def encode_header_value(name: str, value: str) -> bytes:
    """`value` as latin-1 bytes; `ValueError` if it holds CR, LF, NUL or another control.

    CR and LF let a caller smuggle a second header or a whole response into
    the stream (response splitting).  ASGI servers refuse them too, but only
    when the response is sent, far from the line at fault.
    """
    raw = value.encode("latin-1")
    if not is_header_value(raw):
        raise ValueError(
            f"header {name!r} has a value containing CR, LF or NUL or another control "
            f"character ({value!r}); strip or encode line breaks before setting a header"
        )
    return raw


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive multi-mapping of HTTP headers.

    Build it from a mapping (`headers=`), a list of raw lower-cased byte pairs
    (`raw=`) or an ASGI scope or message (`scope=`).  Indexing returns the
    first value of a header; `getlist` returns every value in order.  Unlike
    Starlette, building from a scope never rewrites `scope["headers"]`.
    """

    __slots__ = ("_list",)

    _list: RawHeaders

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: Iterable[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        if (headers is not None) + (raw is not None) + (scope is not None) > 1:
            # Starlette's assertion texts, for the first conflict it checks.
            first, second = ("headers", "raw" if raw is not None else "scope")
            if headers is None:
                first, second = "raw", "scope"
            raise BadArguments(f'Cannot set both "{first}" and "{second}".')
        if headers is not None:
            self._list = [
                (encode_header_name(k), encode_header_value(k, v)) for k, v in headers.items()
            ]
        elif raw is not None:
            self._list = raw if isinstance(raw, list) else list(raw)
        elif scope is not None:
            self._list = _scope_headers(scope)
        else:
            self._list = []

    @classmethod
    def _from_scope(cls, scope: Scope) -> Headers:
        # `Headers(scope=scope)` without the argument checks: a connection
        # builds one per request that reads a header.
        headers = cls.__new__(cls)
        raw = scope.get("headers")
        headers._list = raw if type(raw) is list else _scope_headers(scope)
        return headers

    @property
    def raw(self) -> RawHeaders:
        """The headers as ASGI carries them: `(lower-cased name, value)` byte pairs."""
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        """Every header name, lower-cased, once per occurrence."""
        return [k.decode("latin-1") for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        """Every header value, in order."""
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every `(name, value)` pair, duplicates included, in order."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._list]

    def getlist(self, key: str) -> list[str]:
        """All values of header `key` (case-insensitive), in the order received."""
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._list if k == name]

    def mutablecopy(self) -> MutableHeaders:
        """A `MutableHeaders` holding a copy of these headers."""
        return MutableHeaders(raw=list(self._list))

    def __getitem__(self, key: str) -> str:
        name = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == name:
                return v.decode("latin-1")
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header `key`, or `default`."""
        name = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == name:
                return v.decode("latin-1")
        return default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = key.lower().encode("latin-1")
        return any(k == name for k, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        # Order between different headers carries no meaning, so compare sorted.
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = type(self).__name__
        items = self.items()
        if len({k for k, _ in items}) == len(items):
            return f"{name}({dict(items)!r})"
        return f"{name}(raw={self._list!r})"


def _scope_headers(scope: Scope) -> RawHeaders:
    headers = scope.get("headers")
    if headers is None:
        return []
    if isinstance(headers, list):
        return headers
    # ASGI allows any iterable; a one-shot iterator must be materialised once
    # and stored back, or the next reader over this scope would see nothing.
    materialised = list(headers)
    if not isinstance(headers, Sequence):
        scope["headers"] = materialised
    return materialised


class MutableHeaders(Headers):
    """`Headers` that can be changed: set, delete, append, update, merge `Vary`.

    `MutableHeaders(scope=message)` edits `message["headers"]` in place (it is
    converted to a list first), which is how middleware rewrites the headers of
    an `http.response.start` message.  Values containing CR, LF or NUL are
    refused with `ValueError` (they would split the response).
    """

    __slots__ = ()

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: Iterable[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__(headers=headers, raw=raw, scope=scope)
        if scope is not None and scope.get("headers") is not self._list:
            # Write the list back so our edits land in the message itself.
            self._list = list(self._list)
            scope["headers"] = self._list

    def __setitem__(self, key: str, value: str) -> None:
        """Set header `key` to `value`, replacing every existing occurrence."""
        name = encode_header_name(key)
        raw_value = encode_header_value(key, value)
        found = False
        kept: RawHeaders = []
        for k, v in self._list:
            if k != name:
                kept.append((k, v))
            elif not found:
                # The first occurrence keeps its position, the others go.
                kept.append((name, raw_value))
                found = True
        if not found:
            kept.append((name, raw_value))
        self._list[:] = kept

    def __delitem__(self, key: str) -> None:
        """Remove every occurrence of header `key` (KeyError if absent)."""
        name = encode_header_name(key)
        kept = [(k, v) for k, v in self._list if k != name]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list[:] = kept

    def setdefault(self, key: str, value: str) -> str:
        """Return header `key`, setting it to `value` first if absent."""
        existing: str | None = self.get(key)
        if existing is not None:
            return existing
        self._list.append((encode_header_name(key), encode_header_value(key, value)))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header in `other`, replacing existing values."""
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a header, keeping any existing ones with the same name."""
        self._list.append((encode_header_name(key), encode_header_value(key, value)))

    def add_vary_header(self, vary: str) -> None:
        """Add `vary` to the `Vary` header, merging with the values already there."""
        existing = [v.strip() for value in self.getlist("vary") for v in value.split(",")]
        present = {v.lower() for v in existing if v}
        merged = [v for v in existing if v]
        for item in vary.split(","):
            item = item.strip()
            if item and item.lower() not in present:
                merged.append(item)
                present.add(item.lower())
        self["vary"] = ", ".join(merged)

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new
