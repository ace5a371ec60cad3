"""Multi-value mappings: `ImmutableMultiDict`, `MultiDict` and `QueryParams`.

A multidict keeps every `(key, value)` pair in order and answers `d[key]`
with the LAST value for that key (as Starlette does), `getlist(key)` with all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode

from ._exceptions import BadArguments

__all__ = ["ImmutableMultiDict", "MultiDict", "QueryParams", "parse_query"]

K = TypeVar("K")
V = TypeVar("V")


def _pairs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
    if len(args) > 1:
        raise BadArguments("Too many arguments.")
    value = args[0] if args else None
    pairs: list[tuple[Any, Any]]
    if value is None:
        pairs = []
    elif isinstance(value, ImmutableMultiDict):
        pairs = value.multi_items()
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = list(value)
    if kwargs:
        pairs.extend(kwargs.items())
    return pairs


class ImmutableMultiDict(Mapping[K, V]):
    """A read-only mapping that keeps every value of a repeated key.

    `d[key]` and `d.get(key)` give the last value; `getlist(key)` gives every
    value in order; `multi_items()` every pair.  Equality is order-aware per
    key and ignores the order between different keys (Starlette 1.10).
    """

    __slots__ = ("_dict", "_list")

    _dict: dict[K, V]
    _list: list[tuple[K, V]]

    def __init__(
        self,
        *args: ImmutableMultiDict[K, V] | Mapping[K, V] | Iterable[tuple[K, V]],
        **kwargs: Any,
    ) -> None:
        self._list = _pairs(args, kwargs)
        self._dict = dict(self._list)

    def getlist(self, key: Any) -> list[V]:
        """Every value stored under `key`, in insertion order (empty if none)."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[K, V]]:
        """Every `(key, value)` pair, duplicates included, in insertion order."""
        return list(self._list)

    def keys(self) -> Any:
        """The distinct keys (a dict keys view)."""
        return self._dict.keys()

    def values(self) -> Any:
        """One value (the last) per distinct key."""
        return self._dict.values()

    def items(self) -> Any:
        """One `(key, last value)` pair per distinct key."""
        return self._dict.items()

    def __getitem__(self, key: K) -> V:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[K]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImmutableMultiDict):
            return NotImplemented
        # sorted() is stable: values of one key keep their relative order.
        return sorted(self._list, key=_first) == sorted(other._list, key=_first)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.multi_items()!r})"


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


class MultiDict(ImmutableMultiDict[K, V]):
    """A mutable `ImmutableMultiDict`: set, delete, append, pop and update."""

    __slots__ = ()

    def __setitem__(self, key: K, value: V) -> None:
        """Replace every value of `key` with the single `value`."""
        self.setlist(key, [value])

    def __delitem__(self, key: K) -> None:
        """Remove every value of `key`."""
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: K, *default: Any) -> Any:
        """Remove `key` and return its last value (or `default`)."""
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, *default)

    def popitem(self) -> tuple[K, V]:
        """Remove and return one `(key, last value)` pair."""
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: K) -> list[V]:
        """Remove `key` and return all its values."""
        values = [v for k, v in self._list if k == key]
        self.pop(key, None)
        return values

    def clear(self) -> None:
        """Remove everything."""
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: K, default: V) -> V:
        """Return the value of `key`, storing `default` first if absent."""
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: K, values: list[V]) -> None:
        """Replace every value of `key` with `values` (an empty list removes it)."""
        if not values:
            self.pop(key, None)
            return
        kept = [(k, v) for k, v in self._list if k != key]
        kept.extend((key, value) for value in values)
        self._list = kept
        self._dict[key] = values[-1]

    def append(self, key: K, value: V) -> None:
        """Add `value` under `key`, keeping existing values."""
        self._list.append((key, value))
        self._dict[key] = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Replace the values of every key present in the argument(s)."""
        pairs = _pairs(args, kwargs)
        keys = {k for k, _ in pairs}
        self._list = [(k, v) for k, v in self._list if k not in keys]
        self._list.extend(pairs)
        self._dict.update(pairs)


def parse_query(query: str) -> list[tuple[str, str]]:
    """The `(name, value)` pairs of a query string, blank values kept.

    Exactly `urllib.parse.parse_qsl(query, keep_blank_values=True)` (a
    property test pins the equivalence): `&` separates fields, empty fields
    are skipped, a field without `=` has an empty value, `+` is a space and
    percent-escapes decode as UTF-8 with bad bytes replaced by U+FFFD.  It
    is written out because `parse_qsl` spends most of its time on argument
    coercion and per-field checks that a `str` query never needs: most query
    strings hold neither `+` nor `%`, and then a field costs one `partition`.
    """
    if not query:
        return []
    # `+` and its replacement are neither `&` nor `=`, so replacing them in
    # the whole string before splitting is the same as per name and value.
    if "+" in query:
        query = query.replace("+", " ")
    # A plain loop: in CPython 3.11 a comprehension is a function call more.
    pairs: list[tuple[str, str]] = []
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")  # no "=": the value is ""
            pairs.append((name, value))
    if "%" in query:
        # Only after splitting: an escaped "%26" is a literal "&".
        pairs = [(unquote(name), unquote(value)) for name, value in pairs]
    return pairs


def _decode_query(raw: bytes) -> str:
    # Starlette decodes raw query bytes as latin-1, so a UTF-8 value sent
    # unescaped by a client turns into mojibake.  UTF-8 first, latin-1 as a
    # lossless fallback for bytes that are not UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class QueryParams(ImmutableMultiDict[str, str]):
    """The parsed query string: a read-only multidict of `str` to `str`.

    Build it from a query string (`str` or `bytes`; blank values are kept),
    a mapping, a list of pairs or another multidict; values are coerced to
    `str`.  `str(params)` url-encodes it back.  Bytes are decoded as UTF-8
    (latin-1 if that fails), not latin-1 as in Starlette.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        value = args[0] if args else None
        if isinstance(value, bytes):
            value = _decode_query(value)
        if isinstance(value, str):
            if len(args) > 1:
                raise BadArguments("Too many arguments.")
            # Parsed pairs are already `str`: only keyword extras need coercing.
            parsed = parse_query(value)
            if kwargs:
                parsed.extend((str(k), str(v)) for k, v in kwargs.items())
            self._list = parsed
        else:
            self._list = [(str(k), str(v)) for k, v in _pairs(args, kwargs)]
        self._dict = dict(self._list)

    @classmethod
    def _from_raw(cls, raw: bytes) -> QueryParams:
        # `QueryParams(raw)` without the argument sorting: a connection
        # builds one per request that reads its query string.
        params = cls.__new__(cls)
        params._list = parse_query(_decode_query(raw)) if raw else []
        params._dict = dict(params._list)
        return params

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"
