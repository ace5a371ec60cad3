"""`max_body_size` for raw ASGI endpoints: a byte counter on `receive`.

Router, Mount and Route each accept `max_body_size`.  The innermost one that
applies wins (a route may allow more than its router), so the layers must
not each install their own counter: an outer 1 MB counter would still trip
on a route that allows 10 MB.  The first layer with a limit installs one
counter and stores it in the scope; inner layers only change its limit, and
the counter reads the limit when each chunk arrives, by which time routing
has finished and the innermost limit is in force.  Routing also writes the
active limit to `scope[MAX_BODY_SIZE_KEY]` for body readers
(flagstone-requests) that enforce it themselves.

The attack this stops: a client streaming an endless (or multi-gigabyte)
body into an endpoint that buffers it (starlette#890).  A declared
`Content-Length` above the limit is refused on the first `receive()`,
before a byte of the body is accepted.
"""

from __future__ import annotations

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    MAX_BODY_SIZE_KEY,
    ASGIApp,
    HTTPException,
    Message,
    Receive,
    Scope,
    Send,
    status,
)

from ._replies import send_plain

__all__ = ["BodyTooLarge", "apply_body_limit", "content_length_exceeds"]

# Routing-private scope key (not part of the contract: no other package reads it).
COUNTER_KEY = "flagstone.routing.body_counter"


class BodyTooLarge(HTTPException):
    """413 raised from `receive()` once the body exceeds the active limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"Content Too Large: the request body exceeds {limit} bytes",
        )


def content_length_exceeds(scope: Scope, limit: int) -> bool:
    """Whether the declared Content-Length is above `limit` (malformed values are not judged here)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value) > limit
            except ValueError:
                return False
    return False


class _Counter:
    __slots__ = ("checked_length", "limit", "received", "scope")

    def __init__(self, scope: Scope, limit: int | None) -> None:
        self.scope = scope
        self.limit = limit
        self.received = 0
        self.checked_length = False

    def wrap(self, receive: Receive) -> Receive:
        async def counted_receive() -> Message:
            limit = self.limit
            if not self.checked_length and limit is not None:
                self.checked_length = True
                if content_length_exceeds(self.scope, limit):
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if limit is not None and self.received > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted_receive


async def apply_body_limit(
    limit: int | None, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Call `app` with `limit` in force (innermost wins), answering 413 when it is exceeded."""
    scope[MAX_BODY_SIZE_KEY] = limit
    counter: _Counter | None = scope.get(COUNTER_KEY)
    if counter is not None:
        # An outer layer installed the counter and will answer the 413.
        counter.limit = limit
        await app(scope, receive, send)
        return
    counter = _Counter(scope, limit)
    scope[COUNTER_KEY] = counter
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, counter.wrap(receive), tracking_send)
    except BodyTooLarge as exc:
        # With exception handlers installed the app's 413 handler renders it;
        # after the response started nobody can answer, so it propagates.
        if EXCEPTION_HANDLERS_KEY in scope or started:
            raise
        await send_plain(send, exc.status_code, exc.detail)
