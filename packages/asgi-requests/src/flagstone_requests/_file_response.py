"""`FileResponse`: a file from disk, with conditional GET and byte ranges.

Everything that can fail (stat, open, a `Range` header the client got wrong)
is settled *before* `http.response.start` is sent, so an error becomes a
proper error response instead of a connection cut mid-body.

Deliberate differences from Starlette:

- `If-None-Match` / `If-Modified-Since` are answered with 304 (Starlette only
  does that in `StaticFiles`).
- The file is opened before anything is sent, so a missing file raises
  `RuntimeError` naming the path *before* the response starts (a clean 500
  from `ServerErrorMiddleware`, not a cut connection).  It stays a
  `RuntimeError`, not a 404: the path is chosen by the application, and a
  missing file there is a server-side bug; an app that serves user-chosen
  paths should check them and raise `HTTPException(404)` itself.
- A `Range` with an unknown unit is ignored (200), as RFC 9110 requires.
- HEAD never opens the file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import mimetypes
import os
import secrets
import stat
from collections.abc import Mapping
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import IO, Any
from urllib.parse import quote

import anyio

from flagstone_contract import Message, Receive, Scope, Send

from ._concurrency import run_blocking_io
from ._ranges import RangeDecision, if_range_matches, parse_range
from ._responses import (
    BackgroundCallable,
    PlainTextResponse,
    Response,
    check_background,
    encode_headers,
    run_background,
)
from ._streaming import run_until_disconnect, should_watch

__all__ = ["FileResponse"]

# Headers describing the body: meaningless on a 304, which has none.
_NOT_ON_304 = frozenset(
    {b"content-length", b"content-type", b"content-range", b"content-disposition"}
)


class FileResponse(Response):
    """Send the file at `path`, in `chunk_size` pieces or by the server (pathsend).

    Adds `accept-ranges`, `last-modified`, `etag` and `content-length` from
    the file's stat (or from `stat_result` if given), and
    `content-disposition` when `filename` is given.  Answers `Range` requests
    with 206 (one range) or `multipart/byteranges` (several), honours
    `If-Range`, and answers `If-None-Match` / `If-Modified-Since` with 304.
    A missing or non-regular file raises `RuntimeError` before anything is
    sent.
    """

    chunk_size = 64 * 1024
    max_ranges = 100
    # Class-level defaults: a subclass that skips `__init__` sets `path` and
    # `raw_headers` (`self.init_headers(headers)`; add `accept-ranges` yourself).
    filename: str | None = None
    stat_result: os.stat_result | None = None
    _content: bytes | None = None
    _abspath: str | None = None  # None: resolved from `path` when sent

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundCallable | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
    ) -> None:
        self.path = path
        # pathsend needs an absolute path; resolved now, off the hot path.
        self._abspath = os.path.abspath(path)
        self.status_code = status_code
        self.filename = filename
        self.background = check_background(background)
        if media_type is None:
            media_type = mimetypes.guess_type(filename or os.fspath(path))[0]
            media_type = media_type or "application/octet-stream"
        self.media_type = media_type
        self.init_headers(headers)
        self.raw_headers.append((b"accept-ranges", b"bytes"))
        if filename is not None:
            self.raw_headers.append(
                (b"content-disposition", _disposition(content_disposition_type, filename))
            )
        self.stat_result = stat_result
        # The file's bytes when the caller read them already (set_content).
        self._content: bytes | None = None
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def set_content(self, content: bytes) -> None:
        """Send `content` as the file's bytes instead of reading the file again.

        For a caller that read a small file in the same worker-thread call
        as its `stat_result` (StaticFiles does): the response then needs no
        thread hop of its own.  `content` must be the whole file as that
        stat describes it: a `stat_result` must have been given and its
        `st_size` must equal `len(content)`, else `ValueError`.
        """
        if self.stat_result is None or self.stat_result.st_size != len(content):
            raise ValueError("set_content needs the stat_result the content was read with")
        self._content = content

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """Set content-length, last-modified and etag from `stat_result` (unless given)."""
        present = {name for name, _ in self.raw_headers}
        for header in _stat_headers(stat_result.st_mtime, stat_result.st_size):
            if header[0] not in present:
                self.raw_headers.append(header)

    def _header(self, name: bytes) -> str | None:
        for key, value in self.raw_headers:
            if key == name:
                return value.decode("latin-1")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handle: IO[bytes] | None = None
        method = _method(scope)
        # With a given stat_result the conditions are decided here, once.
        checked = self.stat_result is not None
        if checked and self._answers_not_modified(scope):
            # A 304 sends no body: the file is not opened (a 304 is the common
            # answer for static assets, and opening costs a thread hop).
            await self._send_not_modified(send)
            if self.background is not None:
                await run_background(self.background)
            return
        if self.stat_result is not None:
            # A given stat_result is authoritative: the headers already
            # describe it, so the bytes sent must match it too.
            size = self.stat_result.st_size
            if method != "HEAD":
                content = getattr(self, "_content", None)  # a subclass may skip __init__
                if content is not None:
                    handle = io.BytesIO(content)
                else:
                    _, handle = await self._open(True)
        else:
            stat_result, handle = await self._open(method != "HEAD")
            self.set_stat_headers(stat_result)
            size = stat_result.st_size
        try:
            await self._respond(scope, receive, send, size, handle, checked=checked)
        finally:
            if isinstance(handle, io.BytesIO):
                handle.close()
            elif handle is not None:
                with anyio.CancelScope(shield=True):
                    await run_blocking_io(handle.close)
        if self.background is not None:
            await run_background(self.background)

    async def _send_not_modified(self, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k not in _NOT_ON_304]
        await _send_without_body(send, _start(304, headers))

    def _answers_not_modified(self, scope: Scope) -> bool:
        if scope["type"] != "http" or self.status_code != 200:
            return False
        return _method(scope) in ("GET", "HEAD") and self._not_modified(
            self._request_headers(scope)
        )

    async def _open(self, open_file: bool) -> tuple[os.stat_result, IO[bytes] | None]:
        def open_and_stat() -> tuple[os.stat_result, IO[bytes] | None]:
            # Stat through the open descriptor: the file we describe in the
            # headers is then the very file we send, even if it is replaced.
            handle: IO[bytes] | None
            if not open_file:
                result = os.stat(self.path)
                handle = None
            else:
                handle = open(self.path, "rb")  # noqa: SIM115 (closed by __call__)
                result = os.fstat(handle.fileno())
            if not stat.S_ISREG(result.st_mode):
                if handle is not None:
                    handle.close()
                raise RuntimeError(f"File at path {os.fspath(self.path)} is not a file.")
            size = self.stat_result.st_size if self.stat_result is not None else result.st_size
            if handle is not None and size <= self.chunk_size:
                # A file that fits in one chunk is read and closed in this same
                # thread hop: sending it then needs no more hops (each costs a
                # wake-up of a worker thread, the bulk of a small file's time).
                with handle:
                    handle = io.BytesIO(handle.read(size))
            return result, handle

        try:
            return await run_blocking_io(open_and_stat)
        except FileNotFoundError as exc:
            raise RuntimeError(f"File at path {os.fspath(self.path)} does not exist.") from exc
        except IsADirectoryError as exc:
            raise RuntimeError(f"File at path {os.fspath(self.path)} is not a file.") from exc

    def _request_headers(self, scope: Scope) -> dict[bytes, str]:
        wanted = (b"range", b"if-range", b"if-none-match", b"if-modified-since")
        found: dict[bytes, str] = {}
        for name, value in scope.get("headers") or ():
            if name in wanted and name not in found:
                found[name] = value.decode("latin-1")
        return found

    async def _respond(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        size: int,
        handle: IO[bytes] | None,
        *,
        checked: bool = False,
    ) -> None:
        prefix = "websocket." if scope["type"] == "websocket" else ""
        method = _method(scope)
        request_headers = self._request_headers(scope) if prefix == "" else {}
        if prefix == "" and not checked and self._answers_not_modified(scope):
            await self._send_not_modified(send)
            return
        decision = self._range_decision(request_headers, method, size)
        if decision.outcome in ("bad_request", "unsatisfiable"):
            await self._send_range_error(scope, receive, send, decision, size)
            return
        if decision.outcome == "partial":
            await self._send_ranges(scope, receive, send, decision.ranges, size, handle)
            return
        start = _start(self.status_code, self.raw_headers, prefix)
        if method == "HEAD":
            await _send_without_body(send, start)
            return
        extensions = scope.get("extensions") or {}
        if prefix == "" and "http.response.pathsend" in extensions:
            # The server sends the file itself (zero-copy where it can).
            await send(start)
            # Resolved here only for a subclass that skipped `__init__`
            # (getcwd, no disk access).
            path = self._abspath or os.path.abspath(self.path)  # noqa: ASYNC240
            await send({"type": "http.response.pathsend", "path": path})
            return
        assert handle is not None

        async def produce(out: Send) -> None:
            await out(start)
            await self._send_slice(out, handle, 0, size, more_after=False, prefix=prefix)

        if prefix:
            await produce(send)
        else:
            await run_until_disconnect(scope, receive, send, produce, watch=_watch(scope))

    def _not_modified(self, request_headers: dict[bytes, str]) -> bool:
        # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since is only
        # looked at when If-None-Match is absent.
        if_none_match = request_headers.get(b"if-none-match")
        etag = self._header(b"etag")
        if if_none_match is not None:
            if if_none_match.strip() == "*":
                return True
            if etag is None:
                return False
            wanted = _strip_weak(etag)
            return any(_strip_weak(tag.strip()) == wanted for tag in if_none_match.split(","))
        if_modified_since = request_headers.get(b"if-modified-since")
        last_modified = self._header(b"last-modified")
        if if_modified_since is None or last_modified is None:
            return False
        if if_modified_since == last_modified:
            # What browsers send: our own Last-Modified, echoed.  The same
            # instant, so no need to parse the client's copy; ours is parsed
            # once per value (it must still be a date: RFC 9110 ignores a
            # condition on an invalid one).
            return _server_date(last_modified) is not None
        since = _http_date(if_modified_since)
        modified = _http_date(last_modified)
        if since is None or modified is None:
            return False  # an unparseable date is ignored, as RFC 9110 says
        return modified <= since

    def _range_decision(
        self, request_headers: dict[bytes, str], method: Any, size: int
    ) -> RangeDecision:
        range_header = request_headers.get(b"range")
        if range_header is None or self.status_code != 200 or method not in ("GET", "HEAD"):
            return RangeDecision("full")
        if_range = request_headers.get(b"if-range")
        if if_range is not None and not if_range_matches(
            if_range, self._header(b"etag"), self._header(b"last-modified")
        ):
            return RangeDecision("full")
        return parse_range(range_header, size, self.max_ranges)

    async def _send_range_error(
        self, scope: Scope, receive: Receive, send: Send, decision: RangeDecision, size: int
    ) -> None:
        # Starlette's bodies: an empty 416, the parse error's text on a 400.
        if decision.outcome == "unsatisfiable":
            response = PlainTextResponse(
                status_code=416, headers={"content-range": f"bytes */{size}"}
            )
        else:
            response = PlainTextResponse(decision.detail, 400)
        await response(scope, receive, send)

    async def _send_ranges(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ranges: tuple[tuple[int, int], ...],
        size: int,
        handle: IO[bytes] | None,
    ) -> None:
        kept = [
            (k, v) for k, v in self.raw_headers if k not in (b"content-length", b"content-type")
        ]
        if len(ranges) == 1:
            start, stop = ranges[0]
            headers = [
                *kept,
                (b"content-type", self.media_type_header()),
                (b"content-range", f"bytes {start}-{stop - 1}/{size}".encode("latin-1")),
                (b"content-length", str(stop - start).encode("latin-1")),
            ]
            parts = [(b"", start, stop)]
            closing = b""
        else:
            boundary = secrets.token_hex(13)
            content_type = self.media_type_header().decode("latin-1")
            parts = [
                (
                    (
                        f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                        f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n"
                    ).encode("latin-1"),
                    start,
                    stop,
                )
                for start, stop in ranges
            ]
            # No CRLF after the closing delimiter, as Starlette sends it (RFC
            # 2046 allows either; a ported test compares body and length).
            closing = f"--{boundary}--".encode("latin-1")
            # Each part is header + data + CRLF; the length is known up front.
            length = sum(len(head) + (stop - start) + 2 for head, start, stop in parts)
            length += len(closing)
            headers = [
                *kept,
                (b"content-type", f"multipart/byteranges; boundary={boundary}".encode("latin-1")),
                (b"content-length", str(length).encode("latin-1")),
            ]
        start_message = _start(206, headers)
        if _method(scope) == "HEAD" or handle is None:
            await _send_without_body(send, start_message)
            return
        multipart = len(parts) > 1

        async def produce(out: Send) -> None:
            await out(start_message)
            for head, start, stop in parts:
                if head:
                    await out({"type": "http.response.body", "body": head, "more_body": True})
                await self._send_slice(out, handle, start, stop, more_after=multipart, prefix="")
                if multipart:
                    await out({"type": "http.response.body", "body": b"\r\n", "more_body": True})
            if multipart:
                await out({"type": "http.response.body", "body": closing, "more_body": False})

        await run_until_disconnect(scope, receive, send, produce, watch=_watch(scope))

    def media_type_header(self) -> bytes:
        """The `content-type` value of the file's parts."""
        for key, value in self.raw_headers:
            if key == b"content-type":
                return value
        return encode_headers({"content-type": self.media_type or "application/octet-stream"})[0][1]

    async def _send_slice(
        self,
        send: Send,
        handle: IO[bytes],
        start: int,
        stop: int,
        *,
        more_after: bool,
        prefix: str,
    ) -> None:
        in_memory = isinstance(handle, io.BytesIO)  # a small file, already read
        if in_memory:
            handle.seek(start)
        else:
            await run_blocking_io(handle.seek, start)
        remaining = stop - start
        body_type = prefix + "http.response.body"
        if remaining == 0 and not more_after:
            await send({"type": body_type, "body": b"", "more_body": False})
            return
        while remaining > 0:
            want = min(self.chunk_size, remaining)
            chunk = handle.read(want) if in_memory else await run_blocking_io(handle.read, want)
            if not chunk:
                # The file shrank after we promised a content-length: cutting
                # the connection is the only honest answer left.
                raise RuntimeError(f"File at path {self.path} is shorter than expected.")
            remaining -= len(chunk)
            more = remaining > 0 or more_after
            await send({"type": body_type, "body": chunk, "more_body": more})


def _start(status: int, headers: list[tuple[bytes, bytes]], prefix: str = "") -> Message:
    """The `http.response.start` (or, with `prefix`, the WebSocket denial's) message."""
    return {"type": prefix + "http.response.start", "status": status, "headers": headers}


async def _send_without_body(send: Send, start: Message) -> None:
    # Every bodiless answer (304, HEAD, HEAD of a range) ends the same way: one
    # empty body message with an explicit `more_body: False`.
    await send(start)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@functools.lru_cache(maxsize=256)
def _stat_headers(mtime: float, size: int) -> tuple[tuple[bytes, bytes], ...]:
    # Content-Length, Last-Modified and ETag of one file version.  Cached:
    # a static asset is served again and again unchanged, and formatting the
    # date and hashing the ETag cost more than the rest of a 304.  Keyed by
    # the file's stat, never by anything from the request.
    etag = hashlib.md5(f"{mtime}-{size}".encode(), usedforsecurity=False).hexdigest()
    return (
        (b"content-length", str(size).encode("latin-1")),
        (b"last-modified", formatdate(mtime, usegmt=True).encode("latin-1")),
        (b"etag", f'"{etag}"'.encode("latin-1")),
    )


def _method(scope: Scope) -> str:
    # Methods are case-sensitive in HTTP, but servers send them upper-case
    # and a hand-built scope with "head" or "get" means the same request;
    # comparing exactly would stream a body to a HEAD, or ignore Range.
    method = scope.get("method")
    return method.upper() if isinstance(method, str) else ""


def _watch(scope: Scope) -> bool:
    # Same rule as StreamingResponse (see should_watch).
    return should_watch(scope)


def _http_date(value: str) -> datetime | None:
    """An HTTP date as an aware datetime, or None for anything unparseable.

    The value comes from the client, and `parsedate_to_datetime` has many
    ways to fail on it: `ValueError` (bad fields, a time-zone offset of a day
    or more), `OverflowError` (a year with a dozen digits), `TypeError` and
    `IndexError` (odd shapes).  RFC 9110 says to ignore an invalid date, so
    every one of them means "no date" -- never a 500.
    """
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else None


# Our own Last-Modified values (one per file version), never the client's:
# a cache keyed by client input would be theirs to fill.
_server_date = functools.lru_cache(maxsize=256)(_http_date)


def _strip_weak(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _disposition(kind: str, filename: str) -> bytes:
    quoted = quote(filename)
    if quoted != filename:
        # RFC 6266 extended form: safe for any name, quotes and CR/LF included.
        return f"{kind}; filename*=utf-8''{quoted}".encode("latin-1")
    return f'{kind}; filename="{filename}"'.encode("latin-1")
