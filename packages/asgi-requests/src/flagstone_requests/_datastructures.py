"""Small value types, plus the one import path for every datastructure.

`URL`, `Headers`, the multidicts and uploads live in modules of their own
(`_url.py`, `_headers.py`, `_multidict.py`, `_uploads.py`), and `Secret` and
`CommaSeparatedStrings` in flagstone-config; they are re-exported here so the
rest of the package imports from one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

# One home for the config value types (flagstone-config, stdlib only); these
# are the identical objects, so `isinstance` and re-exports agree everywhere.
from flagstone_config import CommaSeparatedStrings, Secret

from ._headers import Headers, MutableHeaders
from ._multidict import ImmutableMultiDict, MultiDict, QueryParams
from ._uploads import FormData, UploadFile
from ._url import URL

__all__ = [
    "URL",
    "Address",
    "CommaSeparatedStrings",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Secret",
    "State",
    "UploadFile",
]


class Address(NamedTuple):
    """A network peer: `(host, port)`, as in `scope["client"]`."""

    host: str
    port: int


class State:
    """A namespace for arbitrary values: `state.db = pool`, `state["db"]`.

    Wraps a dict (for a request: `scope["state"]`, the lifespan state), so
    attribute and item access read and write that same dict.  A missing
    attribute raises `AttributeError` naming it.
    """

    _state: dict[str, Any]
    _missing_hint: str

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__setattr__("_state", {} if state is None else state)
        super().__setattr__("_missing_hint", "")

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "_missing_hint":
            super().__setattr__(key, value)
            return
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            error = AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")
            hint = self.__dict__.get("_missing_hint", "")
            if hint:
                error.add_note(hint)
            raise error from None

    def __delattr__(self, key: str) -> None:
        try:
            del self._state[key]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: object) -> bool:
        return key in self._state

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._state!r})"
