"""`DerivedAttributes`: private state built from public attributes, whether or not `__init__` ran.

Frameworks subclass flagstone's classes the way they subclass Starlette's,
sometimes without calling `__init__` (FastAPI builds its application that
way) and often changing public attributes after construction.  A class that
precomputes private state from its public attributes (header blocks, compiled
patterns, signers) would then read state that was never built, or that no
longer matches.  This mixin closes both gaps without a cost per request:

- the derived attributes live in the instance `__dict__`, so reading them is
  an ordinary attribute lookup;
- when one is missing (a subclass skipped `__init__`, or a public attribute
  it depends on was assigned since), `__getattr__` (called only on a miss)
  runs `_derive()` once and returns it;
- assigning an attribute named in `_derived_from` drops the derived ones,
  so the next read rebuilds them from the new values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

__all__ = ["DerivedAttributes"]


class DerivedAttributes:
    """Mixin: attributes derived from public ones, built on first use and after a change.

    A subclass lists the public attributes its state depends on in
    `_derived_from`, the private attributes `_derive()` sets in
    `_derived_names`, and implements `_derive()` from the public attributes
    alone (each with a class-level default or documented as required).
    Assign public attributes, do not mutate them in place: an in-place
    change is not seen.
    """

    _derived_from: ClassVar[frozenset[str]] = frozenset()
    _derived_names: ClassVar[frozenset[str]] = frozenset()

    def _derive(self) -> None:
        """Set every attribute in `_derived_names` from the public attributes."""
        raise NotImplementedError  # pragma: no cover

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in type(self)._derived_from:
            state = self.__dict__
            for derived in type(self)._derived_names:
                state.pop(derived, None)

    if not TYPE_CHECKING:  # to mypy, a missing attribute stays an error

        def __getattr__(self, name: str) -> Any:
            # Only reached when the normal lookup failed.
            if name in type(self)._derived_names:
                self._derive()
                return self.__dict__[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
