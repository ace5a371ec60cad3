"""The few fixed answers the middlewares give themselves: plain text and redirects.

This package depends on the contract only, so it cannot use
flagstone-requests' `PlainTextResponse`; these are ASGI apps just big
enough for a 400, a CORS preflight answer or a redirect.  On a WebSocket
scope the answer is an HTTP denial response when the server offers the
`websocket.http.response` extension, and a `websocket.close` otherwise (the
server then refuses the handshake with 403).
"""

from __future__ import annotations

from flagstone_contract import Receive, Scope, Send
from flagstone_contract.status import WS_1008_POLICY_VIOLATION

__all__ = ["PlainReply"]

_TEXT = (b"content-type", b"text/plain; charset=utf-8")


class PlainReply:
    """A small plain-text (or empty) response, usable as an ASGI app."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(
        self,
        text: str,
        status_code: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = text.encode()
        self.headers = [
            *(headers or ()),
            _TEXT,
            (b"content-length", b"%d" % len(self.body)),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._deny_websocket(scope, send)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.headers}
        )
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})

    async def _deny_websocket(self, scope: Scope, send: Send) -> None:
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": self.status_code,
                    "headers": self.headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": self.body})
        else:
            await send({"type": "websocket.close", "code": WS_1008_POLICY_VIOLATION})
