"""The few responses routing answers by itself, written as raw ASGI messages.

Routing has no Response class (that is flagstone-requests).  When an
exception middleware is installed (`EXCEPTION_HANDLERS_KEY` is in the
scope) the router raises `HTTPException` / `WebSocketException` instead,
so the application's handlers render the error; these helpers are the
fallback for a router used as the outermost app.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    HTTPException,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
    status,
)
from flagstone_contract.http import safe_location_path

__all__ = [
    "WS_NOT_FOUND_CODE",
    "method_not_allowed",
    "not_found",
    "redirect",
    "send_plain",
    "slash_toggled_location",
]

# As in Starlette: a WebSocket to no route is closed with 1000 and no reason,
# whatever the server supports and whether or not handlers are installed.
# (1008 and a 404 denial were tried; frameworks' own suites assert 1000.)
WS_NOT_FOUND_CODE = status.WS_1000_NORMAL_CLOSURE


async def send_plain(
    send: Send, status_code: int, text: str, headers: Mapping[str, str] | None = None
) -> None:
    """Send a complete text/plain response in the two ASGI messages."""
    body = text.encode("utf-8")
    raw = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send(HTTPResponseStartEvent(type="http.response.start", status=status_code, headers=raw))
    await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """The default `default` app: 404 for HTTP, a refused handshake for websockets."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": WS_NOT_FOUND_CODE, "reason": ""})
        return
    if scope["type"] != "http":
        return
    if EXCEPTION_HANDLERS_KEY in scope:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    await send_plain(send, status.HTTP_404_NOT_FOUND, "Not Found")


async def method_not_allowed(scope: Scope, send: Send, allow: str) -> None:
    """Answer 405 with `Allow` (raised as HTTPException when handlers are installed)."""
    headers = {"Allow": allow}
    if EXCEPTION_HANDLERS_KEY in scope:
        raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, headers=headers)
    await send_plain(send, status.HTTP_405_METHOD_NOT_ALLOWED, "Method Not Allowed", headers)


# Characters left as they are in a Location path; everything else (including
# "%" of an already-decoded path) is percent-encoded, so the header is ASCII
# and means exactly the path the client asked for.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def slash_toggled_location(scope: Scope, route_path: str, toggled_route_path: str) -> str:
    """The *relative* Location for a redirect_slashes redirect: full path + query.

    Deliberate difference from Starlette, which builds an absolute URL from
    the scope's scheme and Host and so downgrades https to http behind a
    TLS-terminating proxy (starlette#1396, #2748).  A relative reference
    (RFC 9110 allows it) keeps whatever scheme and host the client used.
    """
    full_path: str = scope["path"]
    # `path` carries the root_path prefix (ASGI); swap only the routed tail.
    prefix = (
        full_path[: len(full_path) - len(route_path)]
        if full_path.endswith(route_path)
        else scope.get("root_path", "")
    )
    location = prefix + toggled_route_path
    # "//evil.example" or "/\\evil.example" in a relative Location is read as
    # another host (an open redirect): the toolkit's one policy encodes it.
    location = safe_location_path(quote(location, safe=_PATH_SAFE))
    query: bytes = scope.get("query_string", b"")
    if query:
        # The query is already percent-encoded on the wire; re-quoting with "%"
        # safe keeps it, while any raw control byte (CR/LF: header injection)
        # or non-ASCII byte a lax server let through gets encoded.
        location += "?" + quote(query.decode("latin-1"), safe=_PATH_SAFE + "?%")
    return location


async def redirect(send: Send, location: str) -> None:
    """Send a 307 Temporary Redirect (method and body are kept by the client)."""
    await send_plain(send, status.HTTP_307_TEMPORARY_REDIRECT, "", {"location": location})
