"""Path convertors: how a `{name:type}` placeholder matches, converts and reverses.

The default registry behaves as Starlette's: `register_url_convertor`
adds a key or replaces the convertor under an existing one (frameworks
re-register "int" and "float" with signed-number convertors, or "path"
with a lazier regex, at import or app construction).  A route holds the
convertor *instances* `compile_path` resolved when it was built, so a
replacement affects routes compiled afterwards only; routes compiled
before keep matching, converting and reversing as they did.

Deliberate difference from Starlette: Starlette keeps its registry in a
mutable module-level dict that `routing.py` captured by reference, so
rebinding it silently broke later registrations.  Here `CONVERTOR_TYPES`
is a read-only live view and `register_url_convertor` is the one way in.
A router that wants its own set passes `convertors=` to `compile_path`
(through `Route`, `WebSocketRoute`, `Mount`, `Host`), which never touches
the shared defaults.
"""

from __future__ import annotations

import logging
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

_log = logging.getLogger("flagstone.routing")

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
            raise _refused("May not contain path separators", f"a str path parameter: {value!r}")
        if not value:
            raise _refused("Must not be empty", "a str path parameter")
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
            raise _refused("Negative integers are not supported", f"got {value}")
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
        if math.isnan(value):
            raise _refused("NaN values are not supported", "a float path parameter")
        if math.isinf(value):
            raise _refused("Infinite values are not supported", f"got {value}")
        if value < 0:
            raise _refused("Negative floats are not supported", f"got {value}")
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
    """Register `convertor` in the default registry under `key`, as Starlette does.

    A new key is added; an existing key is replaced (a debug log line says
    which convertor replaced which).  Routes compiled afterwards use the new
    convertor; routes compiled before keep the one they were built with.
    To use a different set for one router only, pass `convertors={...}` to
    its routes instead.
    """
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"a convertor key must be an identifier like 'slug', got {key!r}")
    if not isinstance(convertor, Convertor):
        raise TypeError(
            f"register_url_convertor({key!r}, ...) needs a Convertor instance, got {convertor!r}"
        )
    existing = _REGISTRY.get(key)
    if existing is not None and existing is not convertor:
        # No warning: frameworks replace "int", "float" or "path" on purpose,
        # at import time, and their suites run with warnings as errors.
        _log.debug(
            "path convertor %r replaced: %s by %s (routes compiled before keep the old one)",
            key,
            _describe(existing),
            _describe(convertor),
        )
    _REGISTRY[key] = convertor


def _describe(convertor: Convertor[Any]) -> str:
    return f"{type(convertor).__qualname__} (regex {convertor.regex!r})"


def resolve_convertors(extra: Mapping[str, Convertor[Any]] | None) -> Mapping[str, Convertor[Any]]:
    """The convertors a path compiles with: the defaults, overlaid with `extra`."""
    if not extra:
        return CONVERTOR_TYPES
    return {**_REGISTRY, **extra}


class _RefusedValue(ValueError, AssertionError):
    # Starlette's `to_string` asserts, with these texts; a ValueError too, as
    # flagstone's was, and the check holds under `python -O`.
    pass


def _refused(message: str, note: str) -> _RefusedValue:
    error = _RefusedValue(message)
    error.add_note(f"flagstone: {note}")
    return error
