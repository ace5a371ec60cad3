"""URL reversal results and errors: `URLPath` and `NoMatchFound`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from flagstone_contract.http import safe_location_path

__all__ = ["NoMatchFound", "URLPath"]


class URLPath(str):
    """A reversed path (`str`), with the protocol and host needed to make it absolute.

    `protocol` is `"http"`, `"websocket"` or `""`; `host` is set by `Host`
    routes.  The path goes through `flagstone_contract.http.safe_location_path`
    (backslashes and a leading `//` escaped), so it can never be read as a
    link to another host.
    """

    protocol: Literal["http", "websocket", ""]
    host: str

    def __new__(
        cls, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> URLPath:
        if protocol not in ("http", "websocket", ""):
            raise ValueError(f'protocol must be "http", "websocket" or "", got {protocol!r}')
        return str.__new__(cls, safe_location_path(path))

    def __init__(
        self, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: Any) -> str:
        """Join this path onto `base_url` (a str or URL object), keeping its security.

        The scheme follows the base: `https`/`wss` when the base is secure.
        The host is this path's `host` when set, else the base's.
        """
        base = urlsplit(str(base_url))
        secure = base.scheme in ("https", "wss")
        if self.protocol == "http":
            scheme = "https" if secure else "http"
        elif self.protocol == "websocket":
            scheme = "wss" if secure else "ws"
        else:
            scheme = base.scheme
        netloc = self.host or base.netloc
        path = base.path.rstrip("/") + str(self)
        return f"{scheme}://{netloc}{path}"


class NoMatchFound(Exception):
    """`url_path_for` found no route with that name and exactly those params.

    The message is Starlette's; the note lists what exists, so a typo or a
    missing parameter is obvious: which routes carry the name and which
    params they take, or the names that do exist.
    """

    def __init__(
        self,
        name: str,
        path_params: Iterable[str],
        known: Iterable[tuple[str, frozenset[str]]] | None = None,
    ) -> None:
        given = list(path_params)
        self.name = name
        self.path_params = sorted(given)
        self.known = list(known or ())
        # Starlette's text; which routes carry the name and what they take
        # (or which names exist) is in the note.
        super().__init__(f'No route exists for name "{name}" and params "{", ".join(given)}".')

    # The note is built only when read (a traceback, a test): `url_path_for`
    # raises and catches one of these per route it tries, so building the
    # listing eagerly would cost every reversal.
    @property
    def __notes__(self) -> list[str]:
        notes: list[str] | None = self.__dict__.get("_notes")
        if notes is None:
            notes = self.__dict__["_notes"] = ["flagstone: " + self._message()]
        return notes

    @__notes__.setter
    def __notes__(self, notes: list[str]) -> None:
        self.__dict__["_notes"] = notes

    def _message(self) -> str:
        given = _braces(self.path_params)
        same_name = [params for name, params in self.known if name == self.name]
        if same_name:
            takes = " or ".join(_braces(sorted(params)) for params in same_name)
            return (
                f'no route named "{self.name}" takes params {given}; '
                f"routes with that name take {takes}"
            )
        message = f'no route named "{self.name}" (given params {given})'
        names = sorted({name for name, _ in self.known})
        if names:
            listing = ", ".join(f'"{name}"' for name in names[:30])
            more = f" and {len(names) - 30} more" if len(names) > 30 else ""
            message += f"; route names: {listing}{more}"
        return message


def _braces(params: Iterable[str]) -> str:
    return "{" + ", ".join(f'"{param}"' for param in params) + "}"
