"""`ServerErrorMiddleware`: the last line of defence, turning a crash into a 500.

It answers only if nothing has been sent yet (a second `http.response.start`
would be an ASGI protocol error), and it *always* re-raises, so the server
logs the exception and error trackers see it.  As in Starlette, an HTTP
`handler` still runs for an exception raised after the response started (a
failing background task): it may report the error; its response is dropped.

Deliberate differences from Starlette:

- WebSockets are covered too.  An error before `accept()` is answered with a
  500 denial response when the server supports it, else with a close (the
  server answers 403); after `accept()` the socket is closed with 1011
  ("internal error").  Starlette lets WebSocket errors bypass it.
- The debug page escapes every piece of text it shows, exception message
  included.
- `ClientDisconnect` is not re-raised: the client left, there is nobody to
  answer and no server error, so it is noted at DEBUG (Starlette re-raises
  it and the server logs "Exception in ASGI application").  Starlette's test
  client cannot disconnect mid-body, so no ported test depends on that.  A
  `WebSocketDisconnect` still propagates, as in Starlette (its test client
  re-raises one that escapes an endpoint).
"""

from __future__ import annotations

import html
import linecache
import traceback
from typing import Any

import anyio.to_thread

from flagstone_contract import EXCEPTION_HANDLERS_KEY, ASGIApp, Message, Receive, Scope, Send

from ._exception_middleware import (
    ExceptionHandler,
    ExceptionMiddleware,
    _BoundMethod,
    _track,
    call_handler,
    connection_tracking,
    fresh_progress,
    handle_exception,
)
from ._exceptions import ClientDisconnect
from ._headers import Headers
from ._request import Request, client_gone
from ._responses import HTMLResponse, PlainTextResponse

__all__ = ["ServerErrorMiddleware"]

# Written by the error layer that dealt with an exception (answered it, or
# ran its handler), so that another `ServerErrorMiddleware` further out (App's
# outer layer when the 500 goes through user middleware) does not run the
# handler a second time for an answer that went out.  It still answers when
# nothing reached the client (a middleware in between held the 500 back).
# Private to this module.
_DEALT_WITH_KEY = "flagstone.requests.server_error_dealt_with"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
h1 {{ color: #b00020; font-size: 1.4em; }}
.frame {{ margin: 1em 0; border: 1px solid #ddd; border-radius: 4px; }}
.frame p {{ background: #f4f4f4; margin: 0; padding: .4em .8em; font-family: monospace; }}
pre {{ margin: 0; padding: .4em .8em; overflow-x: auto; }}
.here {{ background: #ffe9a8; }}
</style></head>
<body>
<h1>500 Server Error: {title}</h1>
{frames}
<h2>Traceback</h2>
<pre>{text}</pre>
</body>
</html>
"""


def _frames_html(exc: BaseException, context: int = 3) -> str:
    parts = []
    for frame in traceback.extract_tb(exc.__traceback__):
        lines = []
        first = max((frame.lineno or 1) - context, 1)
        for number in range(first, (frame.lineno or 1) + context + 1):
            line = linecache.getline(frame.filename, number)
            if not line:
                continue
            css = ' class="here"' if number == frame.lineno else ""
            lines.append(f"<span{css}>{number:>5} {html.escape(line.rstrip())}</span>")
        parts.append(
            '<div class="frame"><p>'
            f"{html.escape(frame.filename)}, line {frame.lineno}, in {html.escape(frame.name)}"
            f"</p><pre>{chr(10).join(lines)}</pre></div>"
        )
    return "\n".join(parts)


def _closing_connection(scope: Scope, send: Send) -> Send:
    """Add `connection: close` to the 500 on HTTP/1.x.

    The exception is re-raised after the 500, and servers may drop the
    connection then (uvicorn does): a client that reused it for its next
    request would see a reset instead of a response.  Saying so in the
    response makes every server close cleanly and every client open a fresh
    connection.  HTTP/2 and 3 forbid the header, so it is left off there.
    """
    if scope.get("http_version", "1.1") not in ("1.0", "1.1"):
        return send

    async def closing_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if all(name.lower() != b"connection" for name, _ in headers):
                headers.append((b"connection", b"close"))
            message = {**message, "headers": headers}
        await send(message)

    return closing_send


def debug_page(exc: BaseException, *, as_html: bool) -> str:
    """The traceback of `exc` as an HTML page or as plain text."""
    text = "".join(traceback.format_exception(exc))
    if not as_html:
        return text
    title = html.escape(f"{type(exc).__name__}: {exc}")
    return _PAGE.format(title=title, frames=_frames_html(exc), text=html.escape(text))


def _accepts_html(scope: Scope) -> bool:
    return any("text/html" in accept for accept in Headers(scope=scope).getlist("accept"))


class ServerErrorMiddleware:
    """Answer an unhandled exception with a 500, then re-raise it for the server log.

    HTTP: `handler(request, exc)` (sync handlers run in a thread) renders the
    500 if given; with `debug=True` a traceback page is sent instead, HTML
    when `Accept` includes `text/html`, else plain text; otherwise a plain
    "Internal Server Error".  WebSocket: closed with 1011 after `accept()`,
    else a 500 denial response (or a close when the server lacks the denial
    extension); `handler` is HTTP-only, as in Starlette.  Nothing is sent if
    the response has already started.
    """

    # The constructor's defaults: a subclass that skips `__init__` sets `app`.
    handler: ExceptionHandler | None = None
    debug: bool = False

    def __init__(
        self, app: ASGIApp, handler: ExceptionHandler | None = None, debug: bool = False
    ) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        tracked_send: Send
        if kind == "http":
            if type(send) is _BoundMethod and send.__func__ is _track:  # type: ignore[attr-defined]
                # `progress_of(send)`, inlined: `send` is already tracked by an
                # error layer further out (App's outer layer, with pass-through
                # user middleware in between).  What goes through it is what
                # we would record, so one record and one layer serve both.
                progress = send.__self__  # type: ignore[attr-defined]
                tracked_send = send
            else:
                # `tracking(send, progress)`, inlined: every request passes here.
                progress = fresh_progress()
                progress.downstream = send
                tracked_send = progress.track
        elif kind == "websocket":
            progress, tracked_send = connection_tracking(kind, send)
        else:
            await self.app(scope, receive, send)
            return
        app = self.app
        try:
            if type(app) is ExceptionMiddleware:
                # Nothing between the two layers (App's default stack): one
                # `progress` and one tracking layer serve both, and the
                # exception layer runs in this frame (`call_tracked` inlined:
                # one coroutine less per request).
                # Same package: its private table is ours to read.
                tables = app._tables or app._handler_tables()
                scope[EXCEPTION_HANDLERS_KEY] = tables
                try:
                    await app.app(scope, receive, tracked_send)
                except Exception as exc:
                    await handle_exception(scope, receive, tracked_send, exc, tables, progress)
            else:
                await app(scope, receive, tracked_send)
        except ClientDisconnect:
            # The client left mid-body (a raw app or middleware read it): no
            # one to answer and no server error to log; see client_gone.
            client_gone(scope)
        except Exception as exc:
            dealt_with = scope.get(_DEALT_WITH_KEY) is exc
            scope[_DEALT_WITH_KEY] = exc
            started = progress.committed
            accepted = progress.accepted
            try:
                if kind == "http" and not started:
                    await self._send_http_error(scope, receive, send, exc)
                elif kind == "http" and self.handler and not (self.debug or dealt_with):
                    # Too late to answer, but the handler still hears of it
                    # (as in Starlette: it may report the error).
                    await call_handler(self.handler, Request(scope, receive, send), exc)
                elif kind == "websocket" and not started:
                    await self._close_websocket(scope, receive, send, accepted)
            except Exception as answer_error:
                # Never let a failure to answer (client gone, a broken custom
                # handler) replace the exception that caused it.
                exc.add_note(f"flagstone: sending the 500 response failed too: {answer_error!r}")
            # Always re-raise: the server logs it, error trackers see it.
            raise

    async def _send_http_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None:
        response: Any
        if self.debug:
            as_html = _accepts_html(scope)
            # Reading source files for the page is blocking I/O: off the loop.
            page = await anyio.to_thread.run_sync(lambda: debug_page(exc, as_html=as_html))
            cls = HTMLResponse if as_html else PlainTextResponse
            response = cls(page, status_code=500)
        elif self.handler is not None:
            response = await call_handler(self.handler, Request(scope, receive, send), exc)
        else:
            response = PlainTextResponse("Internal Server Error", status_code=500)
        if response is not None:
            await response(scope, receive, _closing_connection(scope, send))

    async def _close_websocket(
        self, scope: Scope, receive: Receive, send: Send, accepted: bool
    ) -> None:
        if accepted:
            await send({"type": "websocket.close", "code": 1011, "reason": "Internal Server Error"})
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            # A response on a websocket scope is sent as the denial response.
            await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
        else:
            await send({"type": "websocket.close", "code": 1011, "reason": ""})
