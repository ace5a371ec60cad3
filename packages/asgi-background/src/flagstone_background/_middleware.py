"""`BackgroundMiddleware`: after-response tasks for any ASGI app.

The middleware puts a `RequestTasks` queue at `scope["flagstone.background"]`
(`BACKGROUND_KEY` in the contract).  Anything inside it, a raw ASGI app, a
framework endpoint or another middleware, calls
`scope[BACKGROUND_KEY].add_task(func, *args, **kwargs)`; the tasks run once the
app returned and its response is known to be complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec

from flagstone_contract import BACKGROUND_KEY, ASGIApp, Message, Receive, Scope, Send

from ._tasks import BackgroundTask, BackgroundTasks, _task_name, logger, run_tasks

__all__ = ["BackgroundMiddleware", "RequestTasks"]

P = ParamSpec("P")


class RequestTasks(BackgroundTasks):
    """The per-request queue `BackgroundMiddleware` puts in the scope.

    A `BackgroundTasks` (same `add_task`, same failure policy) that knows whether
    its response completed:

    - `add_task(func, *args, **kwargs)` runs only if the client got the whole
      response (the final `http.response.body` was sent and no `http.disconnect`
      arrived first).
    - `add_task_always(func, *args, **kwargs)` also runs when the app raised or
      the client disconnected, and after an earlier task failed (even with
      `fail_fast`): use it for cleanup such as releasing a lock or a temporary
      file.  (Not on cancellation: a cancelled request is being torn down by
      the server and must not be held open by new work.)

    Once the tasks have run (or been skipped), the queue is closed: adding a task
    then raises `RuntimeError` instead of silently never running it.
    """

    __slots__ = ("_always", "_closed")

    def __init__(self, *, fail_fast: bool = True) -> None:
        # The fields of BackgroundTasks.__init__, set here directly: one of these
        # is built per request, and the chained constructor call showed up in
        # profiles of the middleware.
        self.tasks = []
        self.fail_fast = fail_fast
        self.is_async = True
        self._name = "RequestTasks"
        # ids of the add_task_always tasks; None until there is one (the usual case).
        self._always: set[int] | None = None
        self._closed = False

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run `func(*args, **kwargs)` after the response, if it completed."""
        if self._closed:
            self._refuse(func)
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    def add_task_always(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run `func(*args, **kwargs)` after the app returned, even if the response failed."""
        if self._closed:
            self._refuse(func)
        task = BackgroundTask(func, *args, **kwargs)
        if self._always is None:
            self._always = set()
        self._always.add(id(task))
        self.tasks.append(task)

    @staticmethod
    def _refuse(func: object) -> NoReturn:
        raise RuntimeError(
            f"cannot add background task {_task_name(func)}: this request's tasks already "
            "ran. Add tasks before the app returns, or use AppTasks.spawn() for work "
            "that outlives the request."
        )

    async def run_completed(self) -> None:
        """Run every task: the response completed.  Closes the queue."""
        self._closed = True
        if self.tasks:
            await run_tasks(self.tasks, fail_fast=self.fail_fast, always=self._always or ())

    async def run_failed(self, reason: str) -> None:
        """Run only the `add_task_always` tasks; log the skipped ones.  Closes the queue."""
        self._closed = True
        marked = self._always or set()
        always = [task for task in self.tasks if id(task) in marked]
        skipped = [task.name for task in self.tasks if id(task) not in marked]
        if skipped:
            # Not silent: a skipped task is a decision the operator may need to see.
            logger.info(
                "skipped %d background task(s) because %s: %s",
                len(skipped),
                reason,
                ", ".join(skipped),
            )
        await run_tasks(always, fail_fast=self.fail_fast)


class _ResponseWatch:
    """Follows one request's messages to learn whether the client got the whole response."""

    __slots__ = ("complete", "disconnected", "expects_trailers", "receive", "send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.complete = False
        self.disconnected = False
        self.expects_trailers = False

    @property
    def delivered(self) -> bool:
        """Whether the client got the whole response."""
        return self.complete and not self.disconnected

    async def watch_receive(self) -> Message:
        message = await self.receive()
        # A disconnect before the last body message means the client will not get
        # the whole response, even if the app goes on sending: servers drop (or
        # fail) sends after a disconnect.  One after completion is the normal end.
        if message["type"] == "http.disconnect" and not self.complete:
            self.disconnected = True
        return message

    async def watch_send(self, message: Message) -> None:
        # Await the server first: if `send` raises (ASGI spec 2.4 servers raise
        # OSError on a closed connection) the message never reached the client
        # and the response must not count as complete.
        await self.send(message)
        kind = message["type"]
        if kind == "http.response.start":
            # With the trailers extension the response ends with the last
            # `http.response.trailers` message, not with the last body chunk.
            self.expects_trailers = bool(message.get("trailers", False))
        elif kind == "http.response.body":
            if not message.get("more_body", False) and not self.expects_trailers:
                self.complete = True
        elif kind == "http.response.trailers":
            if not message.get("more_trailers", False):
                self.complete = True
        elif kind == "http.response.pathsend":
            # pathsend replaces the body messages and is final by definition.
            self.complete = True


class BackgroundMiddleware:
    """Run tasks scheduled through the scope after the response, for any ASGI app.

    `BackgroundMiddleware(app, *, fail_fast=True)` puts a `RequestTasks` queue at
    `scope[BACKGROUND_KEY]` for HTTP and WebSocket scopes (lifespan passes
    through) and, once the app returns, runs:

    - HTTP: every task if the final `http.response.body` (`more_body` false; the
      last trailers message with the trailers extension; or a pathsend) was sent
      and the client had not disconnected before that; otherwise only tasks added
      with `add_task_always`, and the skipped ones are logged.
    - WebSocket: every task if the app returned normally, else the "always" ones.

    Tasks run after the app returned, inside the same ASGI call, so the client
    already has the whole body (as with Starlette's `Response(background=...)`).
    Failures follow `BackgroundTasks`' policy (`fail_fast`, on by default: the
    first failure skips the later `add_task` tasks, never the "always" ones):
    logged by name with their traceback, then re-raised to the server: bare
    for one failure, as an `ExceptionGroup` for several.  If the app itself
    raised, its exception is re-raised after the tasks that still apply
    ("always" ones; all of them if the response had already completed), with a
    note naming any task that failed.

    A `BackgroundMiddleware` nested inside another (or under any framework that
    already set the key) reuses the existing queue, so no task runs twice.
    """

    fail_fast: bool = True  # the default, for a subclass that skips `__init__` (it sets `app`)

    def __init__(self, app: ASGIApp, *, fail_fast: bool = True) -> None:
        self.app = app
        self.fail_fast = fail_fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (see the class docstring)."""
        kind = scope["type"]
        if (kind != "http" and kind != "websocket") or BACKGROUND_KEY in scope:
            await self.app(scope, receive, send)
            return
        tasks = RequestTasks(fail_fast=self.fail_fast)
        # A copy, not an in-place write: the server's scope dict is not ours to
        # change, and an outer middleware must not see an inner queue.
        scope = {**scope, BACKGROUND_KEY: tasks}
        if kind == "websocket":
            await self._websocket(tasks, scope, receive, send)
            return
        watch = _ResponseWatch(receive, send)
        try:
            await self.app(scope, watch.watch_receive, watch.watch_send)
        except Exception as exc:
            # Cancellation (a BaseException) is not caught: the server is tearing
            # the request down and nothing new may start, so the queue is dropped.
            await _run_after_app_error(tasks, exc, watch.delivered)
            raise
        if not tasks.tasks:
            # Nothing queued (most requests): nothing to run or log either way,
            # only the queue to close, as running it would.
            tasks._closed = True
            return
        if watch.delivered:
            await tasks.run_completed()
        elif watch.disconnected:
            await tasks.run_failed("the client disconnected before the response completed")
        else:
            await tasks.run_failed("the app returned without completing the response")

    async def _websocket(
        self, tasks: RequestTasks, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            await _run_after_app_error(tasks, exc, delivered=False)
            raise
        # A websocket app that returned normally has done its job.
        await tasks.run_completed()


async def _run_after_app_error(tasks: RequestTasks, app_error: Exception, delivered: bool) -> None:
    try:
        if delivered:
            # The app raised *after* the client got the whole response (typically
            # a response's own background task failed): the response did not
            # fail, so every scheduled task still runs.
            await tasks.run_completed()
        else:
            await tasks.run_failed(f"the app raised {type(app_error).__name__}")
    except Exception as task_error:
        # The app's exception stays the one the server sees (it is the first
        # thing that went wrong); task failures were already logged with their
        # tracebacks, and the note keeps them visible next to it.
        app_error.add_note(
            f"background tasks scheduled by this request also failed: {task_error!r}"
        )
