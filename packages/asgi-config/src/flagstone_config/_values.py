"""Value types a setting is cast to: `Secret` and `CommaSeparatedStrings`.

They live here, in the stdlib-only config package, because configuration is
where they are made; flagstone-requests re-exports these very objects so
`from flagstone_requests import Secret` (Starlette's `datastructures` home)
keeps working.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from typing import overload

__all__ = ["CommaSeparatedStrings", "Secret"]

_MASK = "**********"


class Secret:
    """A string that hides itself from `repr` (and so from logs and tracebacks).

    `repr(secret)` is `Secret('**********')`, so a `Secret` inside a list, a
    dict, a dataclass, a `%r` log line or a traceback's captured locals never
    shows its value.  `str(secret)` **reveals** the value, as in Starlette:
    that is how code hands the key to a library (`str(config("KEY",
    cast=Secret))`).  Because an f-string or `"%s"` also calls `str`, log the
    object with `%r`, never with `%s`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{_MASK}')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """A sequence of strings parsed from `"a, b, 'c, d'"` (quotes group commas).

    Given a sequence instead of a string, it keeps the items as they are.
    """

    __slots__ = ("_items",)

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            splitter = shlex.shlex(value, posix=True)
            splitter.whitespace = ","
            splitter.whitespace_split = True
            self._items = [item.strip() for item in splitter]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self._items)
