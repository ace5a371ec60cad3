"""`GZipMiddleware` (Starlette's) and `CompressionMiddleware` (zstd, br, gzip).

One responder per request watches the response messages:

- `http.response.start` is held until the first body chunk says whether
  compressing is worth it (a complete body under `minimum_size` is not);
- a complete body is compressed in one go (in a worker thread past
  `thread_minimum_size`, so a huge body does not stall the event loop) and
  gets an exact `Content-Length`;
- a streamed body is compressed chunk by chunk, each flushed, so every chunk
  the app sends produces output at once: nothing is buffered, and an SSE or
  chat stream stays live.  `Content-Length` is dropped.

Responses passed through untouched: those that already have a
`Content-Encoding`, partial responses (206 or `Content-Range`), excluded
media types (`text/event-stream`, images, archives... by default),
`Cache-Control: no-transform`, HEAD requests and `pathsend` responses.

Deliberate differences from Starlette: `Accept-Encoding` is parsed (a
`gzip;q=0` refusal is honoured; Starlette only looks for the substring), and
a compressed response loses `Accept-Ranges` and has a strong `ETag` made
weak, since byte ranges and strong validators describe the uncompressed
bytes (RFC 9110 §8.8.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import anyio.to_thread

from flagstone_contract import ASGIApp, Message, Receive, Scope, Send

from ._encoders import Encoder, available_encodings, choose_encoding, new_encoder
from ._headers import add_vary, get_header, remove_header, set_header

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "CompressionMiddleware", "GZipMiddleware"]

DEFAULT_EXCLUDED_CONTENT_TYPES = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)

# Compression threads are bounded separately from anyio's default limiter,
# which sync endpoints share: a burst of huge responses must not starve them.
_LIMITER: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
    "flagstone_middleware_compression"
)


def _limiter() -> anyio.CapacityLimiter:
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(8)
        _LIMITER.set(limiter)
        return limiter


def _normalize(content_types: Sequence[str]) -> frozenset[str]:
    return frozenset(t.partition(";")[0].strip().lower() for t in content_types)


class CompressionMiddleware:
    """Compress responses with the best coding the client accepts (pure ASGI).

    `CompressionMiddleware(app, minimum_size=500, compresslevel=9,
    thread_minimum_size=128 KiB, *, encodings=("zstd", "br", "gzip"),
    exclude_content_types=DEFAULT_EXCLUDED_CONTENT_TYPES, brotli_quality=4,
    zstd_level=3)`.  `encodings` is the server's preference, used between
    equal client weights; `zstd` and `br` are offered only when
    `flagstone-middleware[zstd]` / `[brotli]` are installed, else gzip is
    the fallback.  `compresslevel` is gzip's.  `Vary: Accept-Encoding` is
    added to every response that could have been compressed.
    """

    # The constructor's defaults: a subclass that skips `__init__` sets `app`
    # and any of these (`encodings` through `available_encodings(...)`).
    minimum_size: int = 500
    compresslevel: int = 9
    thread_minimum_size: int = 128 * 1024
    encodings: Sequence[str] = available_encodings(("zstd", "br", "gzip"))
    exclude_content_types: frozenset[str] = _normalize(DEFAULT_EXCLUDED_CONTENT_TYPES)
    brotli_quality: int = 4
    zstd_level: int = 3
    # Accept-Encoding value -> the chosen coding, for `_chosen_for`.  Clients
    # send a handful of distinct values, so negotiating each once saves the
    # parse on almost every request; bounded, and replaced by a fresh dict
    # (the instance's own) when `encodings` is not `_chosen_for`.
    _chosen: dict[bytes | None, str | None] = {}
    _chosen_for: Sequence[str] | None = None

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        encodings: Sequence[str] = ("zstd", "br", "gzip"),
        exclude_content_types: Sequence[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
        exclude_media_types: Sequence[str] | None = None,
        brotli_quality: int = 4,
        zstd_level: int = 3,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self.encodings = available_encodings(encodings)
        if exclude_media_types is not None:
            # The name the flagstone issue used; Starlette's is exclude_content_types.
            exclude_content_types = exclude_media_types
        self.exclude_content_types = _normalize(exclude_content_types)
        self.brotli_quality = brotli_quality
        self.zstd_level = zstd_level
        self._chosen = {}
        self._chosen_for = self.encodings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = get_header(scope["headers"], b"accept-encoding")
        if self._chosen_for is not self.encodings:
            # Never set (a subclass skipped `__init__`) or `encodings` was
            # assigned: start a cache of this instance's own.
            self._chosen = {}
            self._chosen_for = self.encodings
        chosen = self._chosen
        try:
            encoding = chosen[header]
        except KeyError:
            encoding = choose_encoding(header.decode("latin-1") if header else None, self.encodings)
            if len(chosen) >= _CHOSEN_LIMIT:
                chosen.clear()
            chosen[header] = encoding
        responder = _Responder(self, send, encoding, scope.get("method") == "HEAD")
        await self.app(scope, receive, responder.send)

    def is_excluded(self, content_type: bytes | None) -> bool:
        """Whether a response of this `Content-Type` is never compressed."""
        if content_type is None:
            return False
        media = content_type.decode("latin-1").partition(";")[0].strip().lower()
        excluded = self.exclude_content_types
        if media in excluded or media.partition("/")[0] + "/*" in excluded:
            return True
        return media.startswith("application/grpc+") and "application/grpc" in excluded

    def new_encoder(self, encoding: str) -> Encoder:
        """A fresh encoder for one response."""
        return new_encoder(encoding, self.compresslevel, self.brotli_quality, self.zstd_level)


class GZipMiddleware(CompressionMiddleware):
    """Starlette's `GZipMiddleware`: gzip only, same arguments and defaults.

    `GZipMiddleware(app, minimum_size=500, compresslevel=9,
    thread_minimum_size=128 KiB, *, exclude_content_types=...)`.  Use
    `CompressionMiddleware` for zstd and brotli.
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        exclude_content_types: Sequence[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
        exclude_media_types: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            app,
            minimum_size,
            compresslevel,
            thread_minimum_size,
            encodings=("gzip",),
            exclude_content_types=exclude_content_types,
            exclude_media_types=exclude_media_types,
        )


_HOLD, _PASS, _STREAM = 0, 1, 2

# Distinct Accept-Encoding values remembered per middleware (see `_chosen`).
_CHOSEN_LIMIT = 256


class _Responder:
    """The message filter of one response (see the module docstring)."""

    __slots__ = ("_encoder", "_encoding", "_head", "_mode", "_mw", "_names", "_send", "_start")

    def __init__(
        self, mw: CompressionMiddleware, send: Send, encoding: str | None, head: bool
    ) -> None:
        self._mw = mw
        self._send = send
        self._encoding = encoding
        self._head = head
        self._mode = _HOLD
        self._start: Message | None = None
        self._encoder: Encoder | None = None
        # The header names of the held start message (see `_on_first_body`).
        self._names: frozenset[bytes] | set[bytes] = frozenset()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        mode = self._mode
        if mode == _STREAM and kind == "http.response.body":
            # The per-chunk path of a streamed body: inline, no extra coroutines.
            more_body = message.get("more_body", False)
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = bytes(body)  # a bytearray or memoryview from the app
            encoder = self._encoder
            assert encoder is not None
            step = encoder.chunk if more_body else encoder.finish
            if len(body) >= self._mw.thread_minimum_size:
                body = await anyio.to_thread.run_sync(step, body, limiter=_limiter())
            else:
                body = step(body)
            if not more_body:
                self._mode = _PASS
            await self._send(
                {"type": "http.response.body", "body": body, "more_body": bool(more_body)}
            )
        elif mode == _PASS:
            await self._send(message)
        elif kind == "http.response.start":
            await self._on_start(message)
        elif kind == "http.response.body":
            await self._on_first_body(message)
        elif kind == "http.response.pathsend" and self._start is not None:
            # A file the server sends itself: nothing here can compress it.
            self._mode = _PASS
            await self._send(self._start)
            await self._send(message)
        else:
            # Early hints, trailers, debug info: nothing to compress.
            await self._send(message)

    async def _on_start(self, message: Message) -> None:
        headers = list(message.get("headers") or ())
        message["headers"] = headers
        # One pass over the names; values are looked up only when present.
        names = {name for name, _ in headers}
        if (
            b"content-encoding" in names
            or message["status"] == 206
            or b"content-range" in names
            or (
                b"content-type" in names
                and self._mw.is_excluded(get_header(headers, b"content-type"))
            )
            or (
                b"cache-control" in names
                and b"no-transform" in (get_header(headers, b"cache-control") or b"").lower()
            )
        ):
            self._mode = _PASS
            await self._send(message)
            return
        if self._head:
            # No body to compress; the headers still vary with Accept-Encoding.
            add_vary(headers, "Accept-Encoding")
            self._mode = _PASS
            await self._send(message)
            return
        self._names = names
        self._start = message

    async def _on_first_body(self, message: Message) -> None:
        start = self._start
        assert start is not None, "http.response.body sent before http.response.start"
        body = bytes(message.get("body", b""))
        more_body = bool(message.get("more_body", False))
        if not more_body and len(body) < self._mw.minimum_size:
            self._mode = _PASS
            await self._send(start)
            await self._send(message)
            return
        headers: list[tuple[bytes, bytes]] = start["headers"]
        encoding = self._encoding
        if encoding is None:
            add_vary(headers, "Accept-Encoding")
            self._mode = _PASS
            await self._send(start)
            await self._send(message)
            return
        self._encoder = self._mw.new_encoder(encoding)
        compressed = await self._compress(body, more_body)
        names = self._names
        if b"vary" not in names and b"etag" not in names:
            # The usual start (no Vary, no ETag): the same headers, in the
            # same order, as the general path below, built in one pass.
            kept = [
                pair
                for pair in headers
                if pair[0] != b"content-length" and pair[0] != b"accept-ranges"
            ]
            kept.append((b"vary", b"Accept-Encoding"))
            kept.append((b"content-encoding", encoding.encode()))
            if not (more_body or start.get("trailers", False)):
                kept.append((b"content-length", b"%d" % len(compressed)))
            start["headers"] = kept
            self._mode = _STREAM if more_body else _PASS
            await self._send(start)
            await self._send(
                {"type": "http.response.body", "body": compressed, "more_body": more_body}
            )
            return
        add_vary(headers, "Accept-Encoding")
        set_header(headers, b"content-encoding", encoding.encode())
        remove_header(headers, b"accept-ranges")
        etag = get_header(headers, b"etag")
        if etag is not None and not etag.startswith(b"W/"):
            set_header(headers, b"etag", b"W/" + etag)
        if more_body or start.get("trailers", False):
            remove_header(headers, b"content-length")
        else:
            set_header(headers, b"content-length", b"%d" % len(compressed))
        self._mode = _STREAM if more_body else _PASS
        await self._send(start)
        await self._send({"type": "http.response.body", "body": compressed, "more_body": more_body})

    async def _compress(self, body: bytes, more_body: bool) -> bytes:
        encoder = self._encoder
        assert encoder is not None
        step = encoder.chunk if more_body else encoder.finish
        if len(body) >= self._mw.thread_minimum_size:
            return await anyio.to_thread.run_sync(step, body, limiter=_limiter())
        return step(body)
