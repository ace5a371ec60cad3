"""The lifespan protocol, run the way a server runs it: startup before the first
request, shutdown at the end, each bounded by a timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from flagstone_contract import ASGIApp, Message

from ._exceptions import AppTimeoutError, ASGIProtocolError, LifespanFailed
from ._running import DISCONNECT_GRACE, finish_or_cancel, wait_for_event
from ._scope import ASGI_VERSIONS
from ._validation import LifespanValidator

_RAISED_ON_LIFESPAN = (
    "The app raised this during lifespan startup (after reading `lifespan.startup`, before "
    "answering it), so the test client raises it, as Starlette's does. To test requests "
    "without a lifespan, use the client without `with`."
)


class LifespanRunner:
    """Runs the app's `lifespan` scope for one `with`/`async with` block."""

    def __init__(
        self,
        app: ASGIApp,
        state: dict[str, Any],
        *,
        timeout: float | None,
        raise_server_exceptions: bool,
    ) -> None:
        self._app = app
        # The same dict the client copies into every request scope: what the
        # app stores here during startup is what requests see.
        self._scope: dict[str, Any] = {
            "type": "lifespan",
            "asgi": dict(ASGI_VERSIONS),
            "state": state,
        }
        self._timeout = timeout
        self._raise = raise_server_exceptions
        self._validator = LifespanValidator()
        self._cancel_scope = anyio.CancelScope()
        self._app_done = anyio.Event()
        self._startup_requested = anyio.Event()
        self._shutdown_requested = anyio.Event()
        self._progress = anyio.Event()
        self.supported = True
        self._startup_delivered = False
        self.reply: Mapping[str, Any] | None = None
        self.app_error: Exception | None = None
        self.protocol_error: ASGIProtocolError | None = None

    async def run(self) -> None:
        """Run the app's lifespan task; never raises (errors are recorded)."""
        try:
            with self._cancel_scope:
                await self._app(self._scope, self._receive, self._send)
        except Exception as exc:
            self.app_error = exc
        finally:
            self._app_done.set()
            self._progress.set()

    async def _receive(self) -> Message:
        if self._validator.waiting_for is None and self.reply is None:
            # Sent when `startup()` asks for it (the client's `wait_startup`
            # step), so a step wrapped by a subclass runs before the app's.
            await self._startup_requested.wait()
            self._validator.waiting_for = "startup"
            self._startup_delivered = True
            return {"type": "lifespan.startup"}
        await self._shutdown_requested.wait()
        if self._validator.waiting_for == "shutdown":
            return {"type": "lifespan.shutdown"}
        # A third receive(): there is nothing more to say; wait to be cancelled.
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, raw: Message) -> None:
        try:
            message = self._validator.check(raw)
        except ASGIProtocolError as exc:
            self.protocol_error = self.protocol_error or exc
            self._progress.set()
            raise
        self.reply = message
        self._progress.set()

    async def _wait_for_reply(self, phase: str) -> Mapping[str, Any] | None:
        if not await wait_for_event(self._timeout, self._progress):
            self._cancel_scope.cancel()
            assert self._timeout is not None
            raise AppTimeoutError(
                f"lifespan {phase} (lifespan.{phase}.complete or lifespan.{phase}.failed)",
                self._timeout,
                self.reply,
            )
        self._progress = anyio.Event()
        if self.protocol_error is not None:
            raise self.protocol_error
        return (
            self.reply
            if self.reply is not None and self.reply["type"].startswith(f"lifespan.{phase}")
            else None
        )

    async def startup(self) -> None:
        """Send `lifespan.startup` and wait for the answer; raise if startup failed."""
        self._startup_requested.set()
        reply = await self._wait_for_reply("startup")
        if reply is None:
            if self.app_error is not None and self._startup_delivered:
                # It read `lifespan.startup`, so it speaks lifespan: raising
                # now is its startup failing (a database it cannot reach), and
                # is raised here, as Starlette's client does.  Swallowing it as
                # "lifespan unsupported" hid the failure until the first request.
                self.app_error.add_note(_RAISED_ON_LIFESPAN)
                raise self.app_error
            # The app returned, or raised before reading anything (`assert
            # scope["type"] == "http"`): it does not speak lifespan (the ASGI
            # spec's signal; uvicorn's "auto" mode), and requests go on
            # without it.  flagstone's App always answers, so a middleware that
            # fails to build or raises there arrives as `lifespan.startup.failed`.
            self.supported = False
            return
        if reply["type"] == "lifespan.startup.failed":
            await self._raise_failure("startup", reply)

    async def _raise_failure(self, phase: str, reply: Mapping[str, Any]) -> None:
        # Prefer the original exception: frameworks send `failed` and then
        # re-raise it, and its traceback is what the test author needs.
        await finish_or_cancel(self._app_done, self._cancel_scope, DISCONNECT_GRACE)
        if self.app_error is not None:
            raise self.app_error
        raise LifespanFailed(phase, str(reply.get("message", "")))

    async def shutdown(self) -> None:
        """Send `lifespan.shutdown`, wait for the answer and for the app to return."""
        if not self.supported:
            return
        if self._app_done.is_set():
            # The lifespan task ended early (crashed after startup): report it.
            if self.app_error is not None and self._raise:
                raise self.app_error
            return
        self._validator.waiting_for = "shutdown"
        self._shutdown_requested.set()
        reply = await self._wait_for_reply("shutdown")
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            await self._raise_failure("shutdown", reply)
        await finish_or_cancel(self._app_done, self._cancel_scope, self._timeout)
        if self.app_error is not None and self._raise:
            raise self.app_error

    async def cancel(self) -> None:
        """Stop the lifespan task without a shutdown (startup failed or timed out)."""
        await finish_or_cancel(self._app_done, self._cancel_scope, 0)
