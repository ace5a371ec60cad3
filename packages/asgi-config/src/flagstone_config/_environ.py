"""`Environ`: `os.environ` that refuses to change a key once it has been read.

Settings are read at import time (`DEBUG = config("DEBUG", cast=bool)`).  A
test that sets `environ["DEBUG"]` *after* that import changes nothing but
believes it did; the guard turns that silent no-op into an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping

__all__ = ["Environ", "EnvironError", "environ"]


class EnvironError(Exception):
    """A key of `Environ` was set or deleted after it had been read."""


class Environ(MutableMapping[str, str]):
    """A mapping over `os.environ` (or `environ`) that remembers which keys were read.

    Reading a key, including a membership test, marks it; setting or deleting
    a marked key raises `EnvironError`.  Keys never read can be changed
    freely, which is how tests set configuration before importing the app.
    """

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._has_been_read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._has_been_read.add(key)
        return key in self._environ

    def __setitem__(self, key: str, value: str) -> None:
        self._refuse_if_read("set", key)
        self._environ[key] = value

    def __delitem__(self, key: str) -> None:
        self._refuse_if_read("delete", key)
        del self._environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)

    def _refuse_if_read(self, action: str, key: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to {action} environ[{key!r}], but the value has already been "
                "read. Set it before the code that reads it is imported (for tests: at the "
                "top of conftest.py)."
            )


environ = Environ()
"""The process environment behind the read-then-change guard; `Config`'s default."""
