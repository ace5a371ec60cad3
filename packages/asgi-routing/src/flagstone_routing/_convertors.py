"""Path convertors: how a `{name:type}` placeholder matches, converts and reverses.

Deliberate difference from Starlette: Starlette keeps its registry in a
mutable module-level dict that `routing.py` captured by reference, so
rebinding it silently broke later registrations, and re-registering a key
silently changed what routes compiled afterwards would accept.  Here the
default registry is *append-only*: `register_url_convertor` adds a new key
(routes created afterwards may use it; routes created before could not have
used it, because an unknown type fails loudly at `compile_path`), and
registering a different convertor under a key that already exists raises,
since it would give the same path template two meanings in one process
(an equal one, same class and regex, is accepted: factories register on
every call).
A router that wants its own set passes `convertors=` to `compile_path`
(through `Route`, `WebSocketRoute`, `Mount`, `Host`), which never touches
the shared defaults.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTOR_TYPES",
    "Convertor",
    "FloatConvertor",
    "IntegerConvertor",
    "PathConvertor",
    "StringConvertor",
    "UUIDConvertor",
    "register_url_convertor",
    "resolve_convertors",
]

T = TypeVar("T")

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Convertor(Generic[T]):
    """Base class of a path convertor: `regex` matches, `convert` parses, `to_string` reverses.

    `regex` must not contain capturing groups that change the match (use
    `(?:...)`), and should be bounded: it runs on client-controlled paths.
    Set `matches_slash = True` when the regex can match a `/`, so the
    router's segment index treats the placeholder as spanning segments.
    """

    regex: ClassVar[str] = ""
    matches_slash: ClassVar[bool] = False

    def convert(self, value: str) -> T:
        """Turn the matched text into the path parameter's value."""
        raise NotImplementedError()  # pragma: no cover

    def to_string(self, value: T) -> str:
        """Turn a value back into path text (used by `url_path_for`)."""
        raise NotImplementedError()  # pragma: no cover


class StringConvertor(Convertor[str]):
    """`{name}` / `{name:str}`: one non-empty path segment."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        """Return the segment unchanged."""
        return value

    def to_string(self, value: str) -> str:
        """Check the value is one non-empty segment and return it."""
        value = str(value)
        if "/" in value:
            raise ValueError(f"a str path parameter may not contain '/': {value!r}")
        if not value:
            raise ValueError("a str path parameter may not be empty")
        return value


class PathConvertor(Convertor[str]):
    """`{name:path}`: the rest of the path, slashes included (may be empty)."""

    regex = ".*"
    matches_slash = True

    def convert(self, value: str) -> str:
        """Return the matched text unchanged."""
        return str(value)

    def to_string(self, value: str) -> str:
        """Return the value unchanged."""
        return str(value)


class IntegerConvertor(Convertor[int]):
    """`{name:int}`: a non-negative decimal integer."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        """Parse the digits (a path with thousands of digits does not match: see the router)."""
        return int(value)

    def to_string(self, value: int) -> str:
        """Format a non-negative integer."""
        value = int(value)
        if value < 0:
            raise ValueError(f"an int path parameter must not be negative: {value}")
        return str(value)


class FloatConvertor(Convertor[float]):
    """`{name:float}`: a non-negative decimal number (`12` or `12.5`)."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> float:
        """Parse the number."""
        return float(value)

    def to_string(self, value: float) -> str:
        """Format a finite non-negative number without trailing zeros."""
        value = float(value)
        if math.isnan(value) or math.isinf(value) or value < 0:
            raise ValueError(f"a float path parameter must be finite and >= 0: {value}")
        # The shortest decimal that reads back as the same float, written
        # without an exponent (the regex has none).  Starlette's "%0.20f"
        # keeps only 20 decimals: 3.17e-10 came back as 3.1717692966e-10.
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


class UUIDConvertor(Convertor[uuid.UUID]):
    """`{name:uuid}`: a UUID in hex, hyphens optional."""

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        """Parse the UUID."""
        return uuid.UUID(value)

    def to_string(self, value: uuid.UUID) -> str:
        """Format the UUID in its canonical hyphenated form."""
        return str(value)


_REGISTRY: dict[str, Convertor[Any]] = {
    "str": StringConvertor(),
    "path": PathConvertor(),
    "int": IntegerConvertor(),
    "float": FloatConvertor(),
    "uuid": UUIDConvertor(),
}

CONVERTOR_TYPES: Mapping[str, Convertor[Any]] = MappingProxyType(_REGISTRY)
"""A read-only live view of the default convertor registry."""


def register_url_convertor(key: str, convertor: Convertor[Any]) -> None:
    """Add `convertor` to the default registry under `key` (append-only).

    Registering the same convertor again (the same object, or an instance
    of the same class with the same `regex`) is a no-op; registering a
    different convertor under an existing key raises `ValueError` naming
    both, because routes already compiled with the old one would disagree
    with routes compiled afterwards.  To use a different set for one router, pass
    `convertors={...}` to the routes instead.
    """
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"a convertor key must be an identifier like 'slug', got {key!r}")
    if not isinstance(convertor, Convertor):
        raise TypeError(
            f"register_url_convertor({key!r}, ...) needs a Convertor instance, got {convertor!r}"
        )
    existing = _REGISTRY.get(key)
    if existing is not None:
        if _equivalent(existing, convertor):
            # App factories and test fixtures register on every call, each
            # time with a fresh but identical instance: nothing changes.
            return
        raise ValueError(
            f"a convertor named {key!r} is already registered: {_describe(existing)}; "
            f"registering {_describe(convertor)} under the same name would give one path "
            "template two meanings (the default registry is append-only). Choose another "
            "name, or pass convertors={...} to the routes that need it."
        )
    _REGISTRY[key] = convertor


def _equivalent(registered: Convertor[Any], candidate: Convertor[Any]) -> bool:
    return registered is candidate or (
        type(registered) is type(candidate) and registered.regex == candidate.regex
    )


def _describe(convertor: Convertor[Any]) -> str:
    return f"{type(convertor).__qualname__} (regex {convertor.regex!r})"


def resolve_convertors(extra: Mapping[str, Convertor[Any]] | None) -> Mapping[str, Convertor[Any]]:
    """The convertors a path compiles with: the defaults, overlaid with `extra`."""
    if not extra:
        return CONVERTOR_TYPES
    return {**_REGISTRY, **extra}
