"""Response classes: `Response` and its text, JSON and redirect kinds.

A response is an ASGI app: `await response(scope, receive, send)`.  Headers
are built once, as the raw `(bytes, bytes)` pairs ASGI carries, and the
`headers` property wraps that same list only when a caller asks for it, so
the common "hello" and JSON paths do no header-object work at all.

Deliberate differences from Starlette:

- A HEAD request gets headers and an empty body from every class.
- `Response(content=<dict>)` raises a `TypeError` that names `JSONResponse`
  instead of an `AttributeError`.
- `set_cookie(partitioned=True)` works on every Python version.
- Header names and values are checked when set (response splitting).

Streaming lives in `_streaming.py`, files in `_file_response.py`.
"""

from __future__ import annotations

import functools
import inspect
import json
import json.encoder
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from flagstone_contract import Receive, Scope, Send
from flagstone_contract.http import build_set_cookie, is_async_callable

from ._headers import MutableHeaders, encode_header_name, encode_header_value

__all__ = [
    "BackgroundCallable",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "check_background",
    "encode_headers",
    "run_background",
]

# Anything awaited after the final body was sent: flagstone_background's
# BackgroundTask(s), Starlette's, or a plain `async def cleanup() -> None`.
# Only awaitable callables are accepted: a sync function would block the event
# loop, and wrapping it in a thread is the background package's job.
BackgroundCallable = Callable[[], Awaitable[None]]

_CONTENT_TYPE_CACHE: dict[str, bytes] = {}
# The finished header pairs of the hot path, shared by every response (tuples
# are immutable; each response still gets its own list): a `content-length`
# per short body size, a `content-type` per utf-8 media type.
_LENGTH_HEADERS = [(b"content-length", b"%d" % n) for n in range(1024)]
_CONTENT_TYPE_HEADERS: dict[str, tuple[bytes, bytes]] = {}


def _content_type(media_type: str, charset: str) -> bytes:
    """`text/*` gains `; charset=…` (cached: the same few types on every request)."""
    key = media_type if charset == "utf-8" else f"{media_type}\x00{charset}"
    cached = _CONTENT_TYPE_CACHE.get(key)
    if cached is None:
        value = media_type
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            value = f"{media_type}; charset={charset}"
        cached = encode_header_value("content-type", value)
        if len(_CONTENT_TYPE_CACHE) < 256:  # bounded: media types may be user data
            _CONTENT_TYPE_CACHE[key] = cached
            if charset == "utf-8":
                _CONTENT_TYPE_HEADERS[media_type] = (b"content-type", cached)
    return cached


def encode_headers(headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
    """User headers as ASGI raw pairs, names lower-cased and checked, values checked."""
    if not headers:
        return []
    return [(encode_header_name(k), encode_header_value(k, v)) for k, v in headers.items()]


def check_background(background: BackgroundCallable | None) -> BackgroundCallable | None:
    """`background`, unless it is a plain sync function: a `TypeError` naming the fix.

    A response awaits its background after the body went out; a sync
    `send_email` would run there, on the event loop, and only then fail with
    "can't be used in 'await' expression" (as in Starlette).  Checked when the
    response is built, so the traceback shows the line that passed it.  A
    lambda or a callable object may return an awaitable: those are checked
    when called (`run_background`).
    """
    if background is None or is_async_callable(background):
        return background
    func: Any = background
    while isinstance(func, functools.partial):
        func = func.func
    plain = inspect.ismethod(func) or inspect.isbuiltin(func)
    if plain or (inspect.isfunction(func) and func.__name__ != "<lambda>"):
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(
            f"background={name} is a sync function, and a response awaits its background "
            f"after the body is sent. Pass background=BackgroundTask({name}, ...) (it runs "
            "sync functions in a thread), or add it to a BackgroundTasks(); or make it "
            "`async def`."
        )
    return background


async def run_background(background: BackgroundCallable) -> None:
    """Await `background()`, saying clearly when it is not an async callable."""
    check_background(background)
    pending = background()
    if not inspect.isawaitable(pending):
        # A sync function has already run (on the event loop); say what to do.
        raise TypeError(
            f"background={background!r} returned {type(pending).__name__}, not an awaitable: "
            "pass an async callable (an `async def`, or a BackgroundTask that runs sync "
            "functions in a thread)"
        )
    await pending


class Response:
    """An HTTP response with a complete body, sent as one `http.response.body`.

    `content` may be `bytes`, `str` (encoded with `charset`), a `memoryview`
    or `None`; subclasses override `render` for other kinds.  `background` is
    any `async () -> None` callable, awaited after the body was sent.  On a
    `websocket` scope the response is sent as a WebSocket denial response.
    """

    media_type: str | None = None
    charset: str = "utf-8"
    # Class-level defaults, so a subclass that skips `__init__` sets only
    # `body` and then `raw_headers` (`self.init_headers(headers)` builds it).
    # (No `body` default: streaming and file responses have none, and
    # `init_headers` adds a Content-Length only for a response that has one.)
    status_code: int = 200
    background: BackgroundCallable | None = None

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundCallable | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = check_background(background)
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes:
        """Turn `content` into the body bytes."""
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, bytes):
            return content
        if content is None:
            return b""
        if isinstance(content, memoryview):
            return content.tobytes()
        raise TypeError(
            f"{type(self).__name__} content must be bytes, str, memoryview or None, "
            f"not {type(content).__name__}; use JSONResponse for JSON data"
        )

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build `raw_headers` from `headers`, adding content-length and content-type."""
        body = getattr(self, "body", None)
        status = self.status_code
        # No content-length for bodiless statuses (RFC 9110 §8.6) nor for
        # streams, whose length is unknown.
        wants_length = body is not None and status >= 200 and status != 204 and status != 304
        media_type = self.media_type
        if not headers:
            # The hot path (hello, JSON): no user headers, so the list is
            # made of ready-made pairs, in one go where possible.
            content_type = None
            if media_type is not None:
                content_type = (
                    _CONTENT_TYPE_HEADERS.get(media_type) if self.charset == "utf-8" else None
                )
                if content_type is None:
                    content_type = (b"content-type", _content_type(media_type, self.charset))
            if wants_length:
                length = len(body)  # type: ignore[arg-type]
                length_header = (
                    _LENGTH_HEADERS[length]
                    if length < 1024
                    else (b"content-length", b"%d" % length)
                )
                self.raw_headers = (
                    [length_header] if content_type is None else [length_header, content_type]
                )
            else:
                self.raw_headers = [] if content_type is None else [content_type]
            return
        raw = encode_headers(headers)
        supplied = {name for name, _ in raw}
        if wants_length and b"content-length" not in supplied:
            raw.append((b"content-length", b"%d" % len(body)))  # type: ignore[arg-type]
        if media_type is not None and b"content-type" not in supplied:
            raw.append((b"content-type", _content_type(media_type, self.charset)))
        self.raw_headers = raw

    @property
    def headers(self) -> MutableHeaders:
        """A live, mutable view of `raw_headers` (edits change the response)."""
        # Built on first use only (the hot path never touches it), and rebuilt
        # if `raw_headers` was replaced by another list since.
        cached: MutableHeaders | None = self.__dict__.get("_headers")
        if cached is None or cached.raw is not self.raw_headers:
            cached = MutableHeaders(raw=self.raw_headers)
            self._headers = cached
        return cached

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Append a `Set-Cookie` header; every RFC 6265bis attribute is supported.

        `expires` may be a datetime (naive means UTC), an HTTP date string or
        seconds from now.  `partitioned=True` (CHIPS) needs `secure=True`:
        browsers drop a partitioned cookie that is not secure, so it is refused
        here instead of failing silently in the browser.
        """
        # The contract's builder checks every part (name, path, domain,
        # expires, samesite); the value is quoted, so the result is a safe header.
        header = build_set_cookie(
            key, value, max_age=max_age, expires=expires, path=path, domain=domain,
            secure=secure, httponly=httponly, samesite=samesite, partitioned=partitioned,
        )  # fmt: skip
        self.raw_headers.append((b"set-cookie", header.encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Expire cookie `key` (pass the same path and domain it was set with)."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            # HEAD: same headers (content-length included, RFC 9110 §9.3.2), no body.
            try:
                body = b"" if scope["method"] == "HEAD" else self.body
            except KeyError:
                # A hand-built scope without "method": Starlette never reads
                # it here, so neither do we fail on it.  (try, not .get():
                # free on the path every response takes.)
                body = self.body
            await send({"type": "http.response.body", "body": body})
        else:
            # On a websocket scope the response is a denial (websocket.http.response).
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": self.body})
        if self.background is not None:
            await run_background(self.background)


class HTMLResponse(Response):
    """A `text/html; charset=utf-8` response."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """A `text/plain; charset=utf-8` response."""

    media_type = "text/plain"


# One shared encoder: `json.dumps(**options)` builds a new encoder per call.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_JSON_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _build_fast_json() -> Callable[[Any], str]:
    # `JSONEncoder.encode` builds a C encoder object on every call; building
    # it once halves the cost of a small JSON response.  The encoder keeps no
    # state between calls (no circular-reference markers: a cyclic structure
    # raises RecursionError instead of ValueError), so sharing it is safe.
    # Falls back to the plain encoder where the C accelerator is missing.
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    encode_basestring = json.encoder.encode_basestring
    try:
        if c_make_encoder is None:  # pragma: no cover - PyPy and friends
            return _JSON_ENCODER.encode
        iterencode = c_make_encoder(
            None, _JSON_ENCODER.default, encode_basestring, None, ":", ",", False, False, False
        )
        if "".join(iterencode({"a": [1, "é"]}, 0)) != '{"a":[1,"é"]}':  # pragma: no cover
            return _JSON_ENCODER.encode
    except TypeError:  # pragma: no cover - a changed private signature
        return _JSON_ENCODER.encode

    def dumps(content: Any) -> str:
        return "".join(iterencode(content, 0))

    return dumps


_json_dumps = _build_fast_json()


class JSONResponse(Response):
    """`content` serialised as compact UTF-8 JSON (`application/json`).

    NaN and infinities are refused with `ValueError` (they are not JSON).
    Override `render` to use another serialiser.
    """

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundCallable | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type, background)

    def render(self, content: Any) -> bytes:
        """Serialise `content` compactly, without ASCII escaping (but see below)."""
        text = _json_dumps(content)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate ("\ud800", which json.loads accepts from any
            # client) has no UTF-8 form: escape it as JSON allows instead of
            # failing with a 500.  Only strings that need it pay for this.
            return _JSON_ASCII.encode(content).encode("ascii")


class RedirectResponse(Response):
    """A redirect (307 by default) to `url`, percent-quoted into `Location`."""

    def __init__(
        self,
        url: str | Any,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundCallable | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        # Quoting also turns CR/LF into %0D%0A, so a user-supplied URL cannot
        # split the response.
        location = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"location"]
        self.raw_headers.append((b"location", location.encode("latin-1")))
