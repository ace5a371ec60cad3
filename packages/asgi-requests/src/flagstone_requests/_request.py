"""`Request`: an HTTP connection with a body.

One body, many readers.  Middleware and endpoint each build their own
`Request` over the same scope, but the body arrives only once through
`receive`.  So the per-request body bookkeeping lives IN THE SCOPE, not in the
`Request` object:

- `scope[BODY_KEY]` (contract key) holds the complete body once a reader has
  read it all (`body()`, `json()`); every later reader gets those bytes, and
  `stream()` replays them.
- `scope[BODY_STATE_KEY]` (private to this package) holds a `_BodyState`:
  messages that `is_disconnected()` pulled early, whether the stream was
  consumed without being kept, the disconnect, and the parsed form.  Routing
  may copy the scope dict for a mount; the state object is shared by
  reference, so the copies still agree.

Starlette keeps all of this on the `Request`, hence "Stream consumed" errors
and hangs when a middleware and an endpoint both read the body.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Generator
from types import TracebackType
from typing import Any, Final

import anyio

from flagstone_contract import (
    BODY_COUNTER_KEY,
    BODY_IDLE_TIMEOUT_KEY,
    BODY_KEY,
    MAX_BODY_SIZE_KEY,
    BodyCounter,
    Message,
    Receive,
    Scope,
    Send,
)
from flagstone_contract.http import parse_content_length

from ._connection import HTTPConnection
from ._datastructures import FormData, UploadFile
from ._exceptions import (
    ClientDisconnect,
    ContentTooLarge,
    InvalidJSON,
    RequestTimeout,
    StreamConsumed,
    WrongScopeType,
)
from ._forms import DEFAULT_MAX_FORM_MEMORY_SIZE, FormLimits, parse_form

__all__ = [
    "BODY_STATE_KEY",
    "DEFAULT_MAX_JSON_SIZE",
    "Request",
    "client_gone",
    "empty_receive",
    "empty_send",
]

logger = logging.getLogger("flagstone_requests")

DEFAULT_MAX_JSON_SIZE = 10 * 1024 * 1024
"""The default `max_size` of `request.json()`: 10 MiB, unless the app configures max_body_size."""

BODY_STATE_KEY: Final = "flagstone.requests.body_state"
"""Private to flagstone-requests: the shared `_BodyState` of this request."""

_PUSH_HEADERS = ("accept", "accept-encoding", "accept-language", "cache-control", "user-agent")
_UNSET: Any = object()


async def empty_receive() -> Message:
    """The default `receive` of a `Request` built without one: there is no body to read."""
    error = RuntimeError("Receive channel has not been made available")
    error.add_note(
        "flagstone: this Request was built without a receive channel; pass the ASGI "
        "receive callable, Request(scope, receive), to read the body"
    )
    raise error


async def empty_send(message: Message) -> None:
    """The default `send` of a `Request` built without one."""
    error = RuntimeError("Send channel has not been made available")
    error.add_note(
        "flagstone: this Request was built without a send channel; pass the ASGI send "
        "callable, Request(scope, receive, send), to send push promises or early hints"
    )
    raise error


class _BodyState:
    """What every `Request` over one scope must agree on about the body."""

    __slots__ = (
        "body",
        "consumed",
        "counter",
        "disconnected",
        "error",
        "form",
        "more_body",
        "pending",
        "pending_bytes",
        "read",
    )

    def __init__(self) -> None:
        # Body chunks received by is_disconnected() and not yet read.
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        # False once the last http.request message (more_body=False) arrived.
        self.more_body = True
        # True once a reader started pulling chunks from receive.
        self.consumed = False
        # Counts the body against max_body_size when no body-limit layer
        # (routing, the App, RequestBodyLimitMiddleware) counts `receive`.
        self.counter: BodyCounter | None = None
        # Bytes this scope's readers took, held to the limit in force when a
        # layer's counter saw them under another one (a replayed body).
        self.read = 0
        self.disconnected = False
        self.body: bytes | None = None
        self.form: FormData | None = None
        # Why an earlier read stopped (413 or disconnect), so every later
        # reader fails the same way instead of with a puzzling "consumed".
        self.error: ContentTooLarge | ClientDisconnect | RequestTimeout | None = None


class _FormContext:
    """`request.form()`: await it for the form, or `async with` it to close the files on exit."""

    __slots__ = ("_coro", "_form")

    def __init__(self, coro: Awaitable[FormData]) -> None:
        self._coro = coro
        self._form: FormData | None = None

    def __await__(self) -> Generator[Any, None, FormData]:
        return self._coro.__await__()

    async def __aenter__(self) -> FormData:
        self._form = await self._coro
        return self._form

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._form is not None:
            await self._form.close()


class Request(HTTPConnection):
    """An incoming HTTP request: `HTTPConnection` plus method, body and form.

    `Request(scope, receive, send)`.  Read the body with `stream()`, `body()`,
    `json()` or `form(...)`; every `Request` over the same scope shares it (see
    the module docs).  `close()` closes the uploaded files; flagstone's
    endpoint wrapper calls it when the request ends.
    """

    body_idle_timeout: float | None = None
    """Seconds to wait for the next body chunk before `RequestTimeout` (408); None = no limit.

    Off by default (as Starlette).  `scope["flagstone.body_idle_timeout"]`
    (`BODY_IDLE_TIMEOUT_KEY`, set by `App(body_idle_timeout=...)` or any
    middleware or router) overrides it per request; set it here, on the class
    or a subclass, for every request read through that class.
    """

    # Class-level defaults, as in HTTPConnection: nothing to set per request.
    # Not `_body`: subclasses written for Starlette test `hasattr(self,
    # "_body")` to know whether their own `body()` already ran (FastAPI's
    # documented gzip request does), so it exists only once a body was read.
    _json: Any = _UNSET
    _form: FormData | None = None
    _uploads: tuple[UploadFile, ...] = ()
    # The channels of `Request(scope)`: a subclass that skips `__init__` sets
    # only `scope` (and these, when it has channels).  staticmethod, so the
    # instance reads the plain functions, not bound methods.
    _receive: Receive = staticmethod(empty_receive)
    _send: Send = staticmethod(empty_send)

    def __init__(
        self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send
    ) -> None:
        if scope["type"] != "http":
            raise WrongScopeType(f"Request needs an 'http' scope, got {scope['type']!r}")
        # HTTPConnection.__init__ would only repeat the type check.
        self.scope = scope
        self._receive = receive
        self._send = send

    @property
    def method(self) -> str:
        """The HTTP method, upper-case (`"GET"`, `"POST"`, ...)."""
        method: str = self.scope["method"]
        return method

    @property
    def receive(self) -> Receive:
        """The ASGI receive callable this request reads from."""
        return self._receive

    # --- body --------------------------------------------------------------------

    def _body_state(self) -> _BodyState:
        state: _BodyState | None = self.scope.get(BODY_STATE_KEY)
        if state is None or (state.consumed and _cache_withdrawn(self.scope)):
            state = self.scope[BODY_STATE_KEY] = _BodyState()
        return state

    def _cached_body(self) -> bytes | None:
        body: bytes | None = self.__dict__.get("_body")
        if body is not None:
            return body
        body = self.scope.get(BODY_KEY)
        if body is None:
            state: _BodyState | None = self.scope.get(BODY_STATE_KEY)
            if state is None or _cache_withdrawn(self.scope):
                return None
            body = state.body
        if body is not None:
            # An outer reader may have cached it under a looser limit than
            # the one this (inner, e.g. per-route) scope sets.
            limit: int | None = self.scope.get(MAX_BODY_SIZE_KEY)
            if limit is not None and len(body) > limit:
                raise ContentTooLarge(limit=limit)
        return body

    def _body_counter(self, state: _BodyState) -> BodyCounter | None:
        """The counter this reader feeds: None when a body-limit layer counts `receive`.

        One count per byte: a layer's counter already saw every message that
        reaches us, so counting again would halve the limit.
        """
        if BODY_COUNTER_KEY in self.scope or self.scope.get(MAX_BODY_SIZE_KEY) is None:
            return None
        if state.counter is None:
            state.counter = BodyCounter(self.scope)
        # Refuse before reading a byte when the client announces too much;
        # the count still holds for chunked bodies and a lying Content-Length.
        state.counter.check_declared()
        return state.counter

    def _start_reading(self) -> tuple[_BodyState, BodyCounter | None]:
        """Claim the body stream of this scope; it can be claimed only once."""
        state = self._body_state()
        if state.error is not None:
            raise _same_error(state.error)
        if state.consumed:
            error = StreamConsumed("Stream consumed")
            error.add_note(
                "flagstone: the request body was already read as a stream (request.stream() "
                "or request.form()) without being kept, so it cannot be read again; read "
                "it with `await request.body()` first, which keeps it for every reader"
            )
            raise error
        counter = self._body_counter(state)
        state.consumed = True
        return state, counter

    async def _next_chunk(self, state: _BodyState, counter: BodyCounter | None) -> bytes | None:
        """The next non-empty body chunk, or None once the body is complete.

        A plain coroutine rather than an async generator: the body of most
        requests is one message, and an async generator per read costs more
        than the read itself.
        """
        try:
            while True:
                if state.pending:
                    chunk: bytes | None = state.pending.popleft()
                    state.pending_bytes -= len(chunk or b"")
                elif state.more_body:
                    if state.disconnected:
                        raise ClientDisconnect()
                    chunk = self._record(state, await self._receive_within_idle_timeout())
                    if chunk is None:
                        # http.disconnect mid-body: what arrived is incomplete.
                        raise ClientDisconnect()
                else:
                    return None
                if chunk:
                    if counter is not None:
                        counter.add(len(chunk))
                    else:
                        # A layer counted these bytes, maybe under an outer
                        # limit (a middleware that read the body replays it):
                        # the limit of this reader's scope holds too.
                        state.read += len(chunk)
                        limit: int | None = self.scope.get(MAX_BODY_SIZE_KEY)
                        if limit is not None and state.read > limit:
                            raise ContentTooLarge(limit=limit)
                    return chunk
        except (ContentTooLarge, ClientDisconnect, RequestTimeout) as exc:
            state.error = exc
            raise

    async def _receive_within_idle_timeout(self) -> Message:
        """`receive()`, given up with `RequestTimeout` (408) after the body idle timeout.

        Without it, an upload that stalls holds its task, its temporary file
        and its connection for as long as the client keeps the socket open.
        Cancelling a pending `receive()` loses no message: servers hand a
        message over only when it is taken.
        """
        timeout: float | None = self.scope.get(BODY_IDLE_TIMEOUT_KEY, self.body_idle_timeout)
        if timeout is None:
            return await self._receive()
        with anyio.move_on_after(timeout):
            return await self._receive()
        raise RequestTimeout(timeout)

    async def _coalesced_chunk(
        self, state: _BodyState, counter: BodyCounter | None
    ) -> bytes | None:
        """Like `_next_chunk`, but small chunks are joined up to `COALESCE_BYTES`.

        A parser pays a fixed cost per chunk it is fed (python-multipart's
        multipart parser: a few microseconds); a client that sends its body
        one byte per message would make parsing cost track messages, not
        bytes (64 KiB took seconds).  A form is only complete at the end of
        the body anyway, so waiting for the next messages delays nothing.
        """
        chunk = await self._next_chunk(state, counter)
        if chunk is None or len(chunk) >= COALESCE_BYTES:
            return chunk
        parts = [chunk]
        size = len(chunk)
        while size < COALESCE_BYTES and (state.pending or state.more_body):
            more = await self._next_chunk(state, counter)
            if more is None:
                break
            parts.append(more)
            size += len(more)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    @staticmethod
    def _record(state: _BodyState, message: Message) -> bytes | None:
        """Apply one received message to `state`; the body bytes, or None on disconnect."""
        kind = message["type"]
        if kind == "http.request":
            if not state.more_body:
                return b""  # nothing may follow the last chunk; ignore, don't crash
            state.more_body = bool(message.get("more_body", False))
            return bytes(message.get("body", b""))
        if kind == "http.disconnect":
            state.disconnected = True
            return None
        raise RuntimeError(f"unexpected ASGI message {kind!r} while reading an http request body")

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as it arrives, then a final `b""`.

        After the body was read in full (by any `Request` over this scope) this
        replays it.  Streaming does NOT keep the body: a later `body()` raises
        `StreamConsumed`.  Raises `ClientDisconnect` if the client goes away
        and `ContentTooLarge` past `max_body_size`.
        """
        body = self._cached_body()
        if body is not None:
            yield body
            yield b""
            return
        state, counter = self._start_reading()
        while (chunk := await self._next_chunk(state, counter)) is not None:
            yield chunk
        yield b""

    async def body(self) -> bytes:
        """The whole body, read once and kept in the scope for every later reader."""
        return await self._read_body(None)

    async def _read_body(self, cap: int | None) -> bytes:
        """`body()`, refusing (413) a body over `cap` bytes as well as over max_body_size."""
        body = self._cached_body()
        if body is None:
            if cap is not None and _declared_length(self.scope) > cap:
                # Refused before a byte is consumed: a later body() with no
                # cap (or a larger one) can still read it.
                raise _json_too_large(cap)
            state, counter = self._start_reading()
            parts: list[bytes] = []
            size = 0
            while (chunk := await self._next_chunk(state, counter)) is not None:
                parts.append(chunk)
                size += len(chunk)
                if cap is not None and size > cap:
                    # Every later reader fails the same way (the body is gone).
                    error = state.error = _json_too_large(cap)
                    raise error
            body = parts[0] if len(parts) == 1 else b"".join(parts)
            self.scope[BODY_KEY] = state.body = body
        elif cap is not None and len(body) > cap:
            raise _json_too_large(cap)
        self._body = body
        return body

    async def json(self, *, max_size: int | None = DEFAULT_MAX_JSON_SIZE) -> Any:
        """The body parsed as JSON; `InvalidJSON` (a 400 and a `ValueError`) if it is not.

        A body over `max_size` bytes is refused with `ContentTooLarge` (413)
        before it is read: parsing holds the body, its text and the objects
        built from it, about three times its size.  The default is
        `DEFAULT_MAX_JSON_SIZE` (10 MiB) unless the app configured
        `max_body_size` (on the App, Router, Mount or Route), which then
        governs alone; `max_size=None` lifts this cap.
        """
        if self._json is _UNSET:
            cap = max_size
            if cap == DEFAULT_MAX_JSON_SIZE and self.scope.get(MAX_BODY_SIZE_KEY) is not None:
                cap = None  # an explicitly configured body limit wins over the default
            if type(self).body is Request.body:
                body = await self._read_body(cap)
            else:
                # A subclass's own body() (one that decompresses, say) is what
                # json() parses, as in Starlette; the cap applies to its result.
                body = await self.body()
                if cap is not None and len(body) > cap:
                    raise _json_too_large(cap)
            try:
                self._json = json.loads(body)
            except (ValueError, RecursionError) as exc:
                # RecursionError: "[[[[..." nested deeper than the stack; a
                # client error like any other malformed JSON, not a 500.
                raise InvalidJSON(exc) from None
        return self._json

    def form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
        max_file_size: int | None = None,
        max_part_header_count: int = 8,
        max_part_header_size: int = 4096,
        spool_max_size: int = 1024 * 1024,
        max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
    ) -> _FormContext:
        """Parse a urlencoded or multipart body into `FormData`.

        `await request.form()`, or `async with request.form() as form:` to
        close uploaded files on exit.  Other content types give an empty form.
        Limits (each error names the one it hit):

        - `max_fields` / `max_files`: how many non-file fields / files (400);
        - `max_part_size`: bytes of one non-file field, name included (413);
        - `max_file_size`: bytes of one uploaded file, None = no limit (413);
        - `max_part_header_count` / `max_part_header_size`: headers of one
          multipart part (400);
        - `max_form_memory_size`: bytes of all non-file fields together, the
          part of the form held in memory; `DEFAULT_MAX_FORM_MEMORY_SIZE`
          (10 MiB) by default, None = no limit (413);
        - the whole body is capped by `scope["flagstone.max_body_size"]` (413).

        The form is parsed once per scope; a later call (by any `Request` over
        the same scope) returns that form, whatever its own limits, as in
        Starlette.  Uploads
        spool to disk past `spool_max_size` bytes, off the event loop.
        """
        limits = FormLimits(
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=max_part_size,
            max_file_size=max_file_size,
            max_part_header_count=max_part_header_count,
            max_part_header_size=max_part_header_size,
            spool_max_size=spool_max_size,
            max_form_memory_size=max_form_memory_size,
        )
        return _FormContext(self._get_form(limits))

    async def _get_form(self, limits: FormLimits) -> FormData:
        form = self._form
        if form is None:
            state = self._body_state()
            if state.form is None:
                state.form = self._form = await self._parse_form(limits)
                return state.form
            form = self._form = state.form
        # Parsed earlier: the same form, whatever this call's limits (as in
        # Starlette; frameworks parse first, then hand the request on).
        return form

    async def _parse_form(self, limits: FormLimits) -> FormData:
        created: list[UploadFile] = []
        body = self._cached_body()
        if body is None:
            state, counter = self._start_reading()

            async def next_chunk() -> bytes | None:
                return await self._coalesced_chunk(state, counter)

        else:
            replay: list[bytes] = [body] if body else []

            async def next_chunk() -> bytes | None:
                return replay.pop() if replay else None

        try:
            return await parse_form(self.headers, next_chunk, limits, created)
        except BaseException:
            # Half-parsed uploads belong to no form: close them now, on every
            # path including cancellation (closing does no blocking I/O).
            for upload in created:
                upload.file.close()
            raise
        finally:
            if created:
                self._uploads = (*self._uploads, *created)

    async def close(self) -> None:
        """Close every uploaded file of this request's form.

        Safe to call more than once, and under cancellation: closing a
        temporary file only releases a descriptor, so it is done inline.
        """
        uploads = list(self._uploads)
        if self._form is not None:
            uploads.extend(v for _, v in self._form.multi_items() if isinstance(v, UploadFile))
        for upload in uploads:
            upload.file.close()

    async def is_disconnected(self) -> bool:
        """True if the client has gone away; never blocks, never loses body bytes.

        It polls `receive` without waiting.  A body chunk that arrives instead
        of a disconnect is kept for the next body reader (Starlette drops it,
        and the next `body()` hangs).
        """
        state = self._body_state()
        if state.disconnected:
            return True
        if state.pending_bytes >= _pending_cap(self.scope):
            # Backpressure: a loop polling is_disconnected() while the client
            # uploads a body nobody reads would otherwise buffer all of it
            # here.  Until the body is read we cannot see past it anyway.
            return False
        message: Message | None = None
        # A pre-cancelled scope makes receive() return only what is ready now.
        with anyio.CancelScope() as scope:
            scope.cancel()
            try:
                message = await self._receive()
            except ContentTooLarge as exc:
                # A body-limit layer counts `receive`: the body is over the
                # limit, which the next body reader reports; not a disconnect.
                state.error = exc
                return False
        if message is not None:
            chunk = self._record(state, message)
            if chunk:
                state.pending.append(chunk)
                state.pending_bytes += len(chunk)
        return state.disconnected

    async def send_push_promise(self, path: str) -> None:
        """Ask an HTTP/2 server to push `path`; a no-op without the `http.response.push` extension."""
        if "http.response.push" not in (self.scope.get("extensions") or {}):
            return
        raw = self.headers.raw
        headers = [(k, v) for name in _PUSH_HEADERS for k, v in raw if k == name.encode()]
        await self._send({"type": "http.response.push", "path": path, "headers": headers})

    async def send_early_hints(self, link: str, *links: str) -> None:
        """Send a 103 Early Hints with `Link` values; a no-op without the extension."""
        if "http.response.early_hint" not in (self.scope.get("extensions") or {}):
            return
        values = [value.encode("latin-1") for value in (link, *links)]
        await self._send({"type": "http.response.early_hint", "links": values})


COALESCE_BYTES = 64 * 1024
"""Body chunks smaller than this are joined before a form parser sees them."""

PENDING_CAP = 1024 * 1024
"""Most body bytes `is_disconnected()` holds for later readers (or max_body_size + 1)."""


def _pending_cap(scope: Scope) -> int:
    limit: int | None = scope.get(MAX_BODY_SIZE_KEY)
    # With a body limit, buffer one byte past it so the reader still sees 413.
    return PENDING_CAP if limit is None else min(PENDING_CAP, limit + 1)


def _declared_length(scope: Scope) -> int:
    """The `Content-Length` the request declares; -1 if none or malformed.

    Read with the contract's one strict parser; a malformed value is left to
    the byte count (and to the server, which owns framing).
    """
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return parse_content_length(value)
            except ValueError:
                return -1
    return -1


def _cache_withdrawn(scope: Scope) -> bool:
    """True when a layer replays the body through `receive` (`scope[BODY_KEY] is None`).

    `BaseHTTPMiddleware` does, for the app behind it, as Starlette does: a
    receive wrapper further in (a middleware rewriting the body) must then
    see the body, so readers read it through their `receive` again instead
    of the bytes an outer reader cached.
    """
    return BODY_KEY in scope and scope[BODY_KEY] is None


def _same_error(error: ContentTooLarge | ClientDisconnect | RequestTimeout) -> Exception:
    # A fresh exception each time: re-raising one object grows its traceback.
    if isinstance(error, ContentTooLarge):
        fresh = ContentTooLarge(error.detail, limit=error.limit)
        for note in getattr(error, "__notes__", ()):
            fresh.add_note(note)
        return fresh
    if isinstance(error, RequestTimeout):
        return RequestTimeout(error.timeout)
    return ClientDisconnect()


def client_gone(scope: Scope) -> None:
    """Note, at DEBUG, a request (or WebSocket) that ended because its client disconnected.

    A client going away is not a server error: logging it as one (with a
    traceback, at ERROR) would let any client flood the error log by
    aborting uploads.
    """
    logger.debug(
        "client disconnected; ending %s %s quietly",
        scope.get("method") or scope.get("type"),
        scope.get("path"),
    )


def _json_too_large(limit: int) -> ContentTooLarge:
    return ContentTooLarge(
        f"Content Too Large: the JSON body exceeds {limit} bytes (request.json(max_size=...); "
        "the default is DEFAULT_MAX_JSON_SIZE unless the app sets max_body_size).",
        limit=limit,
    )
