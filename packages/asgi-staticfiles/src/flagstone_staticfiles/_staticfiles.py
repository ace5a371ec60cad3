"""`StaticFiles`: an ASGI app serving files from directories and packages.

Starlette's behaviour and subclassing surface (`get_directories`,
`get_path`, `get_response`, `lookup_path`, `file_response`, `check_config`
and the attributes they read), with the path handling in `_paths.py`,
precompressed siblings and a Cache-Control policy on top.  Conditional GET
(ETag / Last-Modified -> 304) and ranges are `FileResponse`'s job: one home
for those rules.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import mimetypes
import os
import stat
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import anyio.to_thread

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    DerivedAttributes,
    HTTPException,
    Receive,
    Scope,
    Send,
)
from flagstone_contract.http import get_route_path, negotiate_encodings, safe_location_path
from flagstone_requests import (
    FileResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    run_blocking_io,
)

from ._cache import CachePolicy
from ._encodings import DEFAULT_ENCODINGS, SUFFIXES
from ._paths import contained, safe_segments, without_links

__all__ = ["PathLike", "StaticFiles"]

PathLike = str | os.PathLike[str]
logger = logging.getLogger("flagstone.staticfiles")

# Characters kept as they are in the trailing-slash redirect's Location.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_ALLOW = {"Allow": "GET, HEAD"}
# Files up to this size are read in the lookup's worker-thread call (one hop
# per request instead of two); FileResponse sends them from memory.
_READ_IN_LOOKUP = 64 * 1024
_NOT_WHOLE = frozenset({b"range", b"if-none-match", b"if-modified-since"})


class _PackageDirectoryError(RuntimeError, AssertionError):
    # Starlette reports a bad `packages=` entry with `assert`; an AssertionError
    # vanishes under `python -O`, so this is a RuntimeError that `except
    # AssertionError` (ported code and tests) still catches.
    pass


class _Resolved:
    """What a request path resolved to: the file to send and how it is encoded."""

    __slots__ = ("content", "encoding", "full_path", "relative", "stat_result")

    def __init__(
        self,
        full_path: str,
        stat_result: os.stat_result | None,
        relative: str,
        encoding: str | None = None,
    ) -> None:
        self.full_path = full_path
        self.stat_result = stat_result
        self.relative = relative
        self.encoding = encoding
        # The whole file, when it was small enough to read in the lookup's hop.
        self.content: bytes | None = None


class StaticFiles(DerivedAttributes):
    """Serve files from `directory` and/or `packages`, Starlette-compatible.

    Mount it (`Mount("/static", StaticFiles(directory="static"),
    name="static")`, then `url_for("static", path="app.css")`) or use it as
    a whole ASGI app.  GET and HEAD only (405 otherwise); a directory is
    never listed.  With `html=True` a directory serves its `index.html`
    (redirecting to the trailing-slash URL first) and a miss serves
    `404.html` if present.  `follow_symlink=True` serves symlinks that lead
    outside the directories; by default they are refused (404).

    Beyond Starlette: `precompressed=True` (or a tuple of codings from
    `"br"`, `"zstd"`, `"gzip"`) serves `name.br` / `name.zst` / `name.gz`
    next to `name` to clients that accept them, with `Content-Encoding` and
    `Vary: Accept-Encoding`; `cache_control` sets `Cache-Control` on files
    (a string, or a callable from the relative path to a value or None,
    e.g. `immutable_if_fingerprinted`).

    Subclassing: every method works from the public attributes
    (`directory`, `packages`, `all_directories`, `html`, `follow_symlink`,
    `config_checked`, `precompressed`, `cache_control`), so a subclass may
    set them instead of calling `__init__`: `directory` (or `packages`) at
    least; the others have class-level defaults, and `all_directories` is
    derived from `directory` and `packages` (again when either is assigned).
    """

    # The constructor's defaults (`precompressed` as a tuple of codings).
    directory: PathLike | None = None
    packages: Sequence[str | tuple[str, str]] | None = None
    html: bool = False
    follow_symlink: bool = False
    precompressed: tuple[str, ...] = ()
    cache_control: CachePolicy | None = None

    _derived_from = frozenset({"directory", "packages"})
    _derived_names = frozenset({"all_directories", "config_checked"})
    all_directories: list[PathLike]
    config_checked: bool

    def _derive(self) -> None:
        """The directories to serve from, checked again on the next request."""
        self.all_directories = self.get_directories(self.directory, self.packages)
        self.config_checked = False

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: Sequence[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
        precompressed: bool | Sequence[str] = False,
        cache_control: CachePolicy | None = None,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self._derive()
        self.html = html
        self.follow_symlink = follow_symlink
        self.precompressed = _codings(precompressed)
        self.cache_control = cache_control
        if check_dir and directory is not None and not os.path.isdir(directory):
            error = RuntimeError(f"Directory '{directory}' does not exist")
            error.add_note(
                f"flagstone: resolved to '{os.path.abspath(directory)}'; create it, fix the "
                "path, or pass check_dir=False if it is created later"
            )
            raise error

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: Sequence[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """The directories to serve from: `directory`, then each package's `statics` folder.

        A package entry is a name (its `statics` folder) or `(name, folder)`.
        """
        directories: list[PathLike] = [] if directory is None else [directory]
        for package in packages or []:
            name, folder = package if isinstance(package, tuple) else (package, "statics")
            spec = importlib.util.find_spec(name)
            # Starlette's texts (its quoting of the folder included); ours in a note.
            if spec is None or spec.origin is None:
                error = _PackageDirectoryError(f"Package {name!r} could not be found.")
                error.add_note("flagstone: or it is a namespace package without an __init__.py")
                raise error
            package_directory = os.path.normpath(os.path.join(spec.origin, "..", folder))
            if not os.path.isdir(package_directory):
                error = _PackageDirectoryError(
                    f"Directory '{folder!r}' in package {name!r} could not be found."
                )
                error.add_note(f"flagstone: looked for '{package_directory}'")
                raise error
            directories.append(package_directory)
        return directories

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # Refuse the handshake (1008, policy violation), like a router miss.
                await send({"type": "websocket.close", "code": 1008, "reason": "Not Found"})
            return
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        try:
            path = self.get_path(scope)
            response = await self.get_response(path, scope)
        except HTTPException as exc:
            if EXCEPTION_HANDLERS_KEY in scope:
                raise  # the application's handlers render it (custom 404 pages)
            response = _plain_error(exc)
        await _send_response(response, scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The request's path below the mount, as `/`-separated names.

        Raises `HTTPException(404)` for a hostile path (`..`, backslash,
        colon, NUL or another control character in any segment).
        """
        segments = safe_segments(get_route_path(scope))
        if segments is None:
            raise HTTPException(404)
        return "/".join(segments)

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for `path` (from `get_path`): a file, a redirect, or an error."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers=_ALLOW)
        offered = self._offered_codings(scope)
        found = await self._lookup_in_thread(path, offered, _wants_whole_body(scope))
        if found.stat_result is not None and stat.S_ISREG(found.stat_result.st_mode):
            return self._file(found, scope)
        if found.stat_result is not None and stat.S_ISDIR(found.stat_result.st_mode) and self.html:
            index = await self._lookup_in_thread(
                f"{path}/index.html" if path else "index.html", offered
            )
            if index.stat_result is not None and stat.S_ISREG(index.stat_result.st_mode):
                if not scope["path"].endswith("/"):
                    return RedirectResponse(_slash_location(scope))
                return self._file(index, scope)
        if self.html:
            page = await self._lookup_in_thread("404.html", ())
            if page.stat_result is not None and stat.S_ISREG(page.stat_result.st_mode):
                return FileResponse(page.full_path, stat_result=page.stat_result, status_code=404)
        raise HTTPException(404)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """The first `(full_path, stat)` for `path` in the directories, or `("", None)`.

        Runs in a worker thread.  Never returns a path outside the
        directories: hostile segments are refused again here (subclasses may
        call it with their own paths), and the resolved path must be inside
        the resolved directory (symlinks too, unless `follow_symlink`).
        """
        segments = safe_segments(path)
        if segments is None:
            return "", None
        follow = getattr(self, "follow_symlink", False)
        for directory in self.all_directories:
            base = os.path.abspath(directory) if follow else os.path.realpath(directory)
            try:
                # Below the real directory, a path without symbolic links is
                # its own real path: one lstat per segment instead of resolving
                # the whole path again.  Any link takes the general way.
                found = None if follow else without_links(base, segments)
                stat_result: os.stat_result | None = None
                if found is not None:
                    full_path, stat_result = found
                else:
                    joined = os.path.join(base, *segments)
                    full_path = os.path.abspath(joined) if follow else os.path.realpath(joined)
                if not contained(full_path, base):
                    continue
                return full_path, stat_result or os.stat(full_path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                # A name too long, a symlink loop, a file we may not read: the
                # client learns only "not found" (no hint about our files).
                if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.EACCES, errno.EPERM):
                    return "", None
                raise
        return "", None

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """A `FileResponse` for the file (it answers conditional requests with 304)."""
        return FileResponse(full_path, status_code=status_code, stat_result=stat_result)

    async def check_config(self) -> None:
        """Check once, at the first request, that `directory` exists and is a directory."""
        if self.directory is None:
            return
        try:
            stat_result = await anyio.to_thread.run_sync(os.stat, self.directory)
        except FileNotFoundError:
            raise RuntimeError(
                f"StaticFiles directory '{os.fspath(self.directory)}' does not exist."
            ) from None
        if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
            raise RuntimeError(
                f"StaticFiles path '{os.fspath(self.directory)}' is not a directory."
            )

    # --- beyond Starlette ---------------------------------------------------------

    def _offered_codings(self, scope: Scope) -> tuple[str, ...]:
        offered: tuple[str, ...] = getattr(self, "precompressed", ())
        if not offered:
            return ()
        header = ""
        for name, value in scope.get("headers") or ():
            if name == b"accept-encoding":
                header = (
                    value.decode("latin-1")
                    if not header
                    else header + "," + value.decode("latin-1")
                )
        return tuple(negotiate_encodings(header, offered))

    async def _lookup_in_thread(
        self, path: str, codings: tuple[str, ...], read: bool = False
    ) -> _Resolved:
        if type(self).lookup_path is StaticFiles.lookup_path:
            # Our own lookup is plain file-system calls: the lighter hop.
            return await run_blocking_io(self._resolve, path, codings, read)
        # A subclass's lookup_path may use anyio.from_thread, which only
        # anyio's own worker threads support (as in Starlette).
        return await anyio.to_thread.run_sync(self._resolve, path, codings, read)

    def _resolve(self, path: str, codings: tuple[str, ...], read: bool = False) -> _Resolved:
        # One worker-thread hop for the file and its precompressed siblings
        # (and, with `read`, a small file's bytes).
        full_path, stat_result = self.lookup_path(path)
        found = _Resolved(full_path, stat_result, path)
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            return found
        for coding in codings:
            sibling, sibling_stat = self.lookup_path(path + SUFFIXES[coding])
            if sibling_stat is not None and stat.S_ISREG(sibling_stat.st_mode):
                found = _Resolved(sibling, sibling_stat, path, coding)
                break
        if read:
            found.content = _read_small(found)
        return found

    def _file(self, found: _Resolved, scope: Scope) -> Response:
        assert found.stat_result is not None
        response = self.file_response(found.full_path, found.stat_result, scope)
        if (
            found.content is not None
            and isinstance(response, FileResponse)
            and response.stat_result is found.stat_result
            and os.fspath(response.path) == found.full_path
        ):
            # The very file the hook answers with, already read: no more hops.
            response.set_content(found.content)
        headers = response.headers
        if found.encoding is not None:
            media_type = mimetypes.guess_type(found.relative)[0] or "application/octet-stream"
            response.media_type = media_type
            if media_type.startswith("text/") and "charset" not in media_type:
                media_type += "; charset=utf-8"
            headers["content-type"] = media_type
            headers["content-encoding"] = found.encoding
        if getattr(self, "precompressed", ()):
            # The answer depends on Accept-Encoding whichever file was chosen:
            # caches must not hand the .br body to a client without brotli.
            headers.add_vary_header("Accept-Encoding")
        policy = getattr(self, "cache_control", None)
        value = policy(found.relative) if callable(policy) else policy
        if value is not None and "cache-control" not in headers:
            headers["cache-control"] = value
        return response


def _wants_whole_body(scope: Scope) -> bool:
    # Read the file in the lookup's hop only when the body will be sent
    # whole: not for HEAD, nor for a conditional request (likely a 304, which
    # sends nothing), nor for a range.
    if scope["method"] != "GET":
        return False
    return _NOT_WHOLE.isdisjoint([name for name, _ in scope.get("headers") or ()])


def _read_small(found: _Resolved) -> bytes | None:
    """The file's bytes if it is small and unchanged since its stat, else None."""
    expected = found.stat_result
    assert expected is not None
    if expected.st_size > _READ_IN_LOOKUP:
        return None
    try:
        with open(found.full_path, "rb") as handle:
            current = os.fstat(handle.fileno())
            # Only the file the stat describes: if it was replaced or changed
            # meanwhile, FileResponse's own open reports it as before.
            if (current.st_ino, current.st_dev, current.st_size, current.st_mtime_ns) != (
                expected.st_ino,
                expected.st_dev,
                expected.st_size,
                expected.st_mtime_ns,
            ):
                return None
            content = handle.read(expected.st_size)
    except OSError:
        return None  # gone or unreadable: FileResponse's own open says so
    return content if len(content) == expected.st_size else None


def _codings(precompressed: bool | Sequence[str]) -> tuple[str, ...]:
    if precompressed is True:
        return DEFAULT_ENCODINGS
    if precompressed is False:
        return ()
    unknown = [coding for coding in precompressed if coding not in SUFFIXES]
    if unknown or isinstance(precompressed, str):
        raise ValueError(
            f"precompressed must be True, False or a sequence of {sorted(SUFFIXES)}, "
            f"got {precompressed!r}"
        )
    return tuple(precompressed)


def _slash_location(scope: Scope) -> str:
    # A relative Location (like flagstone-routing's slash redirects): an
    # absolute URL built from the scope would downgrade https to http behind
    # a TLS-terminating proxy.
    location = safe_location_path(quote(scope["path"] + "/", safe=_PATH_SAFE))
    query: bytes = scope.get("query_string", b"")
    if query:
        location += "?" + quote(query.decode("latin-1"), safe=_PATH_SAFE + "?%")
    return location


def _plain_error(exc: HTTPException) -> Response:
    # Used as a bare ASGI app (no exception middleware): answer the error
    # ourselves instead of letting the server turn it into a 500.
    headers = dict(exc.headers or {})
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=headers)


async def _send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Send `response`; a file that vanished or shrank meanwhile ends the response cleanly."""
    started = False

    async def watch(message: Any) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    if not isinstance(response, FileResponse):
        await response(scope, receive, send)
        return
    try:
        await response(scope, receive, watch)
    except (RuntimeError, OSError) as exc:
        if not started and isinstance(exc.__cause__ or exc, OSError):
            # Deleted (or replaced by a directory) between lookup and open:
            # the file is simply gone, which the client should learn as 404.
            if EXCEPTION_HANDLERS_KEY in scope:
                raise HTTPException(404) from exc
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        if not started or not isinstance(exc, RuntimeError):
            raise  # e.g. an OSError from `send`: not ours to hide
        # Truncated while being sent: the promised Content-Length can no
        # longer be met.  Returning without the final body makes the server
        # close the connection, so the client sees a short response instead
        # of bytes from another version of the file; a traceback would add
        # nothing (it is not a bug in the application).
        logger.warning("static file %s changed while it was being sent: %s", response.path, exc)
