"""`BodyIdleTimeout`: the body-read idle timeout as middleware, for one route, mount or app.

Body readers (`Request.body()`, `json()`, `form()`, `stream()`) answer 408
(`RequestTimeout`) when no body bytes arrive for
`scope["flagstone.body_idle_timeout"]` seconds.  `App(body_idle_timeout=...)`
sets that for a whole app; this middleware sets it wherever middleware goes
(`Route(..., middleware=[Middleware(BodyIdleTimeout, seconds=30)])`,
`Mount`, `Router`, or around any ASGI app), so the innermost setting wins,
as with `max_body_size`.
"""

from __future__ import annotations

from flagstone_contract import BODY_IDLE_TIMEOUT_KEY, ASGIApp, Receive, Scope, Send

__all__ = ["BodyIdleTimeout"]


class BodyIdleTimeout:
    """Give the requests under `app` a body-read idle timeout of `seconds` (None: none).

    A stalled upload then ends with 408 instead of holding its task and
    temporary files until the client leaves; a slow but steady client is
    never cut off, since the clock restarts with every chunk.
    """

    def __init__(self, app: ASGIApp, seconds: float | None) -> None:
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be None or > 0, not {seconds!r}")
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Overrides an outer setting: the innermost (most specific) wins.
            scope[BODY_IDLE_TIMEOUT_KEY] = self.seconds
        await self.app(scope, receive, send)
