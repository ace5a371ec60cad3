"""Request body limits: one exception, one byte counter, limits that nest.

The attack this stops: a client streaming an endless (or multi-gigabyte)
body into an endpoint that buffers it (starlette#890).  A declared
`Content-Length` above the limit is refused on the first `receive()`,
before a byte of the body is accepted; a chunked body is refused as soon as
the bytes received pass the limit.

How limits nest.  `scope[MAX_BODY_SIZE_KEY]` holds the limit in force for
the request, and every layer that has a limit (the App, `Router`, `Mount`,
`Route`, any `RequestBodyLimitMiddleware`) writes it there on the way in, so
the innermost one wins, also when it is larger than an outer one (a route
may allow more than its router).  Only the first such layer wraps `receive`
with a counter (registered under `BODY_COUNTER_KEY`); the counter reads the
limit from the scope when each chunk arrives, by which time routing has
finished.  A second counter would trip on the outer limit, and counting the
same bytes twice would halve it, so body readers (flagstone-requests) count
only when no layer does.

Both cases raise one exception, `ContentTooLarge`, so one handler registered
for it (or for 413) sees every over-limit body.
"""

from __future__ import annotations

from ._exceptions import ContentTooLarge
from ._scope_keys import BODY_COUNTER_KEY, EXCEPTION_HANDLERS_KEY, MAX_BODY_SIZE_KEY
from ._types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from .http import MalformedContentLength, parse_content_length

__all__ = [
    "MAX_BODY_SIZE_SCOPE_KEY",
    "BodyCounter",
    "RequestBodyLimitMiddleware",
    "limit_request_body",
]

MAX_BODY_SIZE_SCOPE_KEY = MAX_BODY_SIZE_KEY
"""Starlette's name for the scope key holding the body limit in force (`MAX_BODY_SIZE_KEY`)."""


_MORE_THAN_ANY_LIMIT = 2**63


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return parse_content_length(value)
            except MalformedContentLength:
                if bytes(value).strip(b" \t").isdigit():
                    return _MORE_THAN_ANY_LIMIT  # thousands of digits: valid, and too large
                # Framing is the server's job (it answers 400); the byte
                # count still holds whatever the header says.
                return None
    return None


class BodyCounter:
    """Counts the request body bytes of one scope against `scope[MAX_BODY_SIZE_KEY]`.

    `wrap(receive)` counts every `http.request` message; a reader that takes
    messages from an uncounted `receive` feeds them to `add()` instead.
    Both raise `ContentTooLarge` once the limit in force is exceeded.
    """

    __slots__ = ("checked_declared", "received", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.received = 0
        self.checked_declared = False

    def check_declared(self) -> None:
        """Refuse a declared `Content-Length` above the limit (once, before reading)."""
        limit: int | None = self.scope.get(MAX_BODY_SIZE_KEY)
        if limit is None or self.checked_declared:
            return
        self.checked_declared = True
        declared = _declared_length(self.scope)
        if declared is not None and declared > limit:
            raise ContentTooLarge(limit=limit)

    def add(self, size: int) -> None:
        """Count `size` more body bytes."""
        self.received += size
        limit: int | None = self.scope.get(MAX_BODY_SIZE_KEY)
        if limit is not None and self.received > limit:
            raise ContentTooLarge(limit=limit)

    def wrap(self, receive: Receive) -> Receive:
        """`receive`, counting the body bytes of every `http.request` message."""

        async def counted_receive() -> Message:
            self.check_declared()
            message = await receive()
            if message["type"] == "http.request":
                self.add(len(message.get("body", b"")))
            return message

        return counted_receive


async def limit_request_body(
    max_body_size: int | None, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Call `app` with `max_body_size` in force (innermost wins); 413 once it is exceeded.

    The function behind `RequestBodyLimitMiddleware`, for layers that hold
    their limit as data (a route, a router) and should not build a
    middleware object per request.
    """
    # The limit in force outside is put back when `app` returns, as
    # Starlette does: a layer's limit holds only for what it wraps.  (Put
    # back inline, not by a helper: this runs on every request of a layer
    # with a limit.)
    outer_limit = scope.get(MAX_BODY_SIZE_KEY, _NO_LIMIT_SET)
    scope[MAX_BODY_SIZE_KEY] = max_body_size
    counter: BodyCounter | None = scope.get(BODY_COUNTER_KEY)
    if counter is not None:
        # An outer layer counts and answers; a middleware in between may have
        # copied the scope, so the limit goes where the counter reads it too.
        counted_scope = counter.scope
        counted_limit = counted_scope.get(MAX_BODY_SIZE_KEY, _NO_LIMIT_SET)
        counted_scope[MAX_BODY_SIZE_KEY] = max_body_size
        try:
            await app(scope, receive, send)
        finally:
            if counted_limit is _NO_LIMIT_SET:
                counted_scope.pop(MAX_BODY_SIZE_KEY, None)
            else:
                counted_scope[MAX_BODY_SIZE_KEY] = counted_limit
            if outer_limit is _NO_LIMIT_SET:
                scope.pop(MAX_BODY_SIZE_KEY, None)
            else:
                scope[MAX_BODY_SIZE_KEY] = outer_limit
        return
    counter = scope[BODY_COUNTER_KEY] = BodyCounter(scope)
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, counter.wrap(receive), tracking_send)
    except ContentTooLarge as exc:
        # With exception handlers installed the app's own 413 handler renders
        # it; after the response started nobody can answer; so it propagates.
        if EXCEPTION_HANDLERS_KEY in scope or started:
            raise
        body = exc.detail.encode("utf-8")
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        await send(HTTPResponseStartEvent(type="http.response.start", status=413, headers=headers))
        await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))
    finally:
        if outer_limit is _NO_LIMIT_SET:
            scope.pop(MAX_BODY_SIZE_KEY, None)
        else:
            scope[MAX_BODY_SIZE_KEY] = outer_limit


_NO_LIMIT_SET: object = object()


class RequestBodyLimitMiddleware:
    """Answer 413 when a request body is larger than `max_body_size` bytes (Starlette 1.10's name).

    HTTP only.  Limits nest: a `RequestBodyLimitMiddleware`, `Router`,
    `Mount` or `Route` further in replaces this limit for the requests it
    handles (larger or smaller), through `scope[MAX_BODY_SIZE_KEY]`.  The
    413 is raised as `ContentTooLarge`, so exception middleware renders it
    with the app's handler; without one this middleware answers a plain 413.
    `max_body_size=None` lifts an outer limit.
    """

    # A subclass that skips `__init__` sets `app`; None is no limit of its own.
    max_body_size: int | None = None

    def __init__(self, app: ASGIApp, max_body_size: int | None) -> None:
        if max_body_size is not None and max_body_size < 0:
            raise ValueError(f"max_body_size must be None or >= 0, not {max_body_size!r}")
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await limit_request_body(self.max_body_size, self.app, scope, receive, send)
