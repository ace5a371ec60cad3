"""`Session`: the mutable mapping placed at `scope["session"]`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._exceptions import SessionReadOnlyError, SessionUnavailableError

__all__ = ["Session", "UnavailableSession"]


class Session(dict[str, Any]):
    """The session of one connection, at `scope["session"]`.

    A `dict` (so `json.dumps(session)`, `dict(session)` and `isinstance(s,
    dict)` keep working as with Starlette) that records two facts the
    middleware needs when the response starts:

    - `accessed`: the session was read or written, so the response depends on
      the cookie and gets `Vary: Cookie` (a shared cache must not hand one
      user's page to another).
    - `modified`: a mutating method was called.  This is only a hint: what is
      saved is decided by comparing the serialized session with the one that
      was loaded, so `session["cart"].append(x)` is saved too (Starlette
      loses it).

    Both flags are reset when the middleware saves the session (as the
    response starts), so afterwards they mean "touched since the save".

    `regenerate()` asks for a new session id at the next save (server-side
    stores): call it after login to defeat session fixation.
    """

    # A dict subclass (still a MutableMapping) rather than a wrapper, so code
    # ported from Starlette that serializes or type-checks the session keeps
    # working.  Because __iter__ is overridden, CPython's dict(), {**s} and
    # json.dumps go through keys()/items() below, so they set `accessed` too
    # (test_session.py pins this): a missed read would mean a missing Vary.

    __slots__ = ("_read_only", "_regenerate", "accessed", "modified")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data or ())
        self.accessed = False
        self.modified = False
        self._regenerate = False
        self._read_only: str | None = None

    # -- reads -------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for `key`, or `default`; marks the session accessed."""
        self.accessed = True
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return super().__iter__()

    def __len__(self) -> int:
        self.accessed = True
        return super().__len__()

    def keys(self) -> Any:
        """Return the keys; marks the session accessed."""
        self.accessed = True
        return super().keys()

    def values(self) -> Any:
        """Return the values; marks the session accessed."""
        self.accessed = True
        return super().values()

    def items(self) -> Any:
        """Return the items; marks the session accessed."""
        self.accessed = True
        return super().items()

    def copy(self) -> dict[str, Any]:
        """Return a plain `dict` copy (shallow); marks the session accessed."""
        self.accessed = True
        return dict(super().items())

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.accessed = True
        return {**dict(super().items()), **other}

    def __eq__(self, other: object) -> bool:
        self.accessed = True
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Session({super().__repr__()})"

    # -- writes ------------------------------------------------------------
    def _write(self) -> None:
        if self._read_only is not None:
            raise SessionReadOnlyError(self._read_only)
        self.accessed = True
        self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            # JSON object keys are strings: a 1 would come back as "1" on the
            # next request, a silent type change.  Refuse it now.
            raise TypeError(f"session keys must be str, got {type(key).__name__}: {key!r}")
        self._write()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._write()
        super().__delitem__(key)

    def clear(self) -> None:
        """Empty the session; the cookie is cleared (and the store record deleted)."""
        self._write()
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        """Remove `key` and return its value (or `default`).

        Popping a missing key marks the session neither modified nor
        accessed, as in Starlette.
        """
        if super().__contains__(key):
            self._write()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted item."""
        self._write()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return `session[key]`, first setting it to `default` if missing."""
        self.accessed = True
        if not super().__contains__(key):
            self[key] = default
        return super().__getitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update from a mapping or pairs, like `dict.update` (keys must be str)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
        self.accessed = True

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.update(other)
        return self

    # -- session ids -------------------------------------------------------
    def regenerate(self) -> None:
        """Issue a new session id at the next save and delete the old record.

        The defence against session fixation: call it when the user's privilege
        changes (login, logout, sudo mode).  With cookie-only sessions it
        re-signs the cookie, which is harmless.
        """
        self._write()
        self._regenerate = True


class UnavailableSession(Session):
    """The session of a request whose store could not load it: any use raises 503.

    Put at `scope["session"]` instead of failing the whole request, so that
    only endpoints that actually read or write the session are affected by a
    store outage (`SessionUnavailableError`, a 503); the rest answer as usual.
    """

    __slots__ = ("_error",)

    def __init__(self, error: SessionUnavailableError) -> None:
        super().__init__()
        self._error = error

    def _unavailable(self) -> SessionUnavailableError:
        # A fresh exception per access: re-raising one object grows its traceback.
        error = self._error
        fresh = SessionUnavailableError(error.detail, int(_retry_after(error)))
        fresh.__cause__ = error.__cause__  # the store's own error, for the log
        return fresh

    def __getitem__(self, key: str) -> Any:
        raise self._unavailable()

    def get(self, key: str, default: Any = None) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def __contains__(self, key: object) -> bool:
        raise self._unavailable()

    def __iter__(self) -> Iterator[str]:
        raise self._unavailable()

    def __len__(self) -> int:
        raise self._unavailable()

    def keys(self) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def values(self) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def items(self) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def copy(self) -> dict[str, Any]:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        raise self._unavailable()

    def __eq__(self, other: object) -> bool:
        raise self._unavailable()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Session(<unavailable: the session store could not load it>)"

    def _write(self) -> None:
        raise self._unavailable()

    def pop(self, key: str, *default: Any) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Raise `SessionUnavailableError`: the session could not be loaded."""
        raise self._unavailable()


def _retry_after(error: SessionUnavailableError) -> str:
    return (error.headers or {}).get("Retry-After", "1")
