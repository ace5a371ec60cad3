"""App-owned tasks: work that outlives the request, in a task group owned by the lifespan.

A per-request background task (Starlette's model) keeps the request's ASGI
call, its server concurrency slot and the server's graceful-shutdown wait busy
until the task ends; it is not a job queue.  `AppTasks` is the other model:
`await tasks.spawn(func, ...)` returns at once and the work runs in a task group
opened at lifespan startup, bounded by `max_concurrency`, drained at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, ParamSpec

import anyio
from anyio.abc import TaskGroup

from flagstone_contract import APP_TASKS_KEY, ASGIApp, Message, Receive, Scope, Send

from ._tasks import BackgroundTask, logger

__all__ = [
    "AppTasks",
    "AppTasksFullError",
    "AppTasksMiddleware",
    "AppTasksNotRunningError",
]

P = ParamSpec("P")


_HOW_TO_START = (
    "Serve the app with the lifespan protocol on (e.g. `uvicorn --lifespan on`) and make "
    "sure AppTasksMiddleware wraps the app the server calls; in tests, enter the test "
    "client as a context manager (`with TestClient(app):` or `async with ...`) so startup "
    "runs.  Without the middleware, open the task group in your own lifespan with "
    "`async with tasks.lifespan(): ...`."
)


class AppTasksFullError(RuntimeError):
    """`spawn()` refused a task: `max_concurrency` tasks run and `when_full="reject"`.

    Backpressure, not a bug: an HTTP endpoint usually answers 503 with a
    `Retry-After` header when it catches this.
    """


class AppTasksNotRunningError(RuntimeError):
    """`spawn()` was called while no task group is open: before lifespan startup or during shutdown."""


class AppTasks:
    """A lifespan-owned task group with a concurrency bound and graceful shutdown.

    `AppTasks(*, max_concurrency=100, when_full="wait", shutdown_timeout=10.0)`

    - `await tasks.spawn(func, *args, **kwargs)` starts `func` in the task group
      and returns; async functions are awaited, sync ones run in a worker thread
      under this package's thread limiter (see `thread_limiter()`).
    - At most `max_concurrency` tasks run at once (`None`: no bound, which lets a
      traffic burst grow memory without limit).  When full, `spawn` waits for a
      free slot (`when_full="wait"`, the backpressure reaches the caller; wrap it
      in `anyio.fail_after` to bound the wait) or raises `AppTasksFullError`
      (`when_full="reject"`).
    - A failing task is logged on ``flagstone.background`` with its name and
      traceback and never disturbs the other tasks or the app.
    - At shutdown new spawns are refused, running tasks get up to
      `shutdown_timeout` seconds to finish, and the rest are cancelled, each
      logged by name.  A sync task stuck in its thread is abandoned rather than
      allowed to block shutdown.

    The task group is open while `AppTasksMiddleware` runs the lifespan, or inside
    `async with tasks.lifespan():`.  Spawning at any other time raises
    `AppTasksNotRunningError`, which says how to fix it.
    """

    def __init__(
        self,
        *,
        max_concurrency: int | None = 100,
        when_full: Literal["wait", "reject"] = "wait",
        shutdown_timeout: float = 10.0,
    ) -> None:
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ValueError(
                f"max_concurrency must be a whole number >= 1 or None, got {max_concurrency!r}"
            )
        if when_full not in ("wait", "reject"):
            raise ValueError(f'when_full must be "wait" or "reject", got {when_full!r}')
        if not isinstance(shutdown_timeout, int | float) or not shutdown_timeout >= 0:
            raise ValueError(
                f"shutdown_timeout must be a number of seconds >= 0, got {shutdown_timeout!r}"
            )
        self.max_concurrency = max_concurrency
        self.when_full = when_full
        self.shutdown_timeout = float(shutdown_timeout)
        self._task_group: TaskGroup | None = None
        self._slots: anyio.Semaphore | None = None
        self._accepting = False
        # Running tasks by an id private to this object: name and cancel scope, so
        # shutdown can cancel them one by one and say which ones it cancelled.
        self._active: dict[int, tuple[str, anyio.CancelScope]] = {}
        self._next_id = 0
        self._idle: anyio.Event | None = None
        # Tells "the lifespan never started" (a setup mistake worth a long
        # explanation) from "it already ended" (a late spawn during shutdown).
        self._has_run = False

    @property
    def active(self) -> int:
        """How many tasks are running right now."""
        return len(self._active)

    @property
    def accepting(self) -> bool:
        """Whether `spawn()` would accept a task now (the task group is open, not draining)."""
        return self._accepting

    @classmethod
    def from_scope(cls, scope: Scope) -> AppTasks:
        """Return the `AppTasks` that an `AppTasksMiddleware` put in this scope.

        Raises `LookupError` naming the fix when no `AppTasksMiddleware` wraps the app.
        """
        tasks = scope.get(APP_TASKS_KEY)
        if not isinstance(tasks, cls):
            raise LookupError(
                f"no AppTasks in the scope (key {APP_TASKS_KEY!r}): wrap the ASGI app with "
                "AppTasksMiddleware(app, tasks), or keep a reference to your AppTasks and "
                "call tasks.spawn() on it directly."
            )
        return tasks

    async def spawn(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Start `func(*args, **kwargs)` in the app's task group and return.

        Waits for a free slot or raises `AppTasksFullError` when `max_concurrency`
        tasks already run (see `when_full`).  Raises `AppTasksNotRunningError` when
        the task group is not open (lifespan not started, or shutting down).
        """
        task = BackgroundTask(func, *args, **kwargs)
        self._check_accepting(task.name)
        slots = self._slots
        if slots is not None:
            if self.when_full == "reject":
                try:
                    slots.acquire_nowait()
                except anyio.WouldBlock:
                    raise AppTasksFullError(
                        f"app task {task.name} rejected: {self.max_concurrency} tasks "
                        f'already run (max_concurrency) and when_full="reject". Retry later '
                        f'(answer 503), raise max_concurrency, or use when_full="wait".'
                    ) from None
            else:
                await slots.acquire()
                if not self._accepting:
                    # Shutdown began while we waited for a slot: the slot came
                    # from a task that finished or was cancelled by the drain.
                    slots.release()
                    self._check_accepting(task.name)
        assert self._task_group is not None  # set whenever _accepting is true
        task_id = self._next_id
        self._next_id += 1
        # Registered before start_soon so a drain that starts before the task's
        # first step still sees (and can cancel) it.
        scope = anyio.CancelScope()
        self._active[task_id] = (task.name, scope)
        self._task_group.start_soon(self._run, task, task_id, scope, name=task.name)

    def _check_accepting(self, name: str) -> None:
        if self._accepting:
            return
        if self._task_group is not None or self._has_run:
            raise AppTasksNotRunningError(
                f"app task {name} not started: the app is shutting down (or has shut "
                "down) and AppTasks accepts no new tasks."
            )
        raise AppTasksNotRunningError(
            f"app task {name} not started: AppTasks is not running, because the ASGI "
            f"lifespan has not started it. {_HOW_TO_START}"
        )

    async def _run(self, task: BackgroundTask, task_id: int, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                try:
                    # abandon_on_cancel: a sync task's thread cannot be interrupted;
                    # at shutdown we stop waiting for it instead of hanging.
                    await task._run(abandon_on_cancel=True)
                except anyio.get_cancelled_exc_class():
                    logger.warning("app task %s was cancelled", task.name)
                    raise
                except Exception as exc:
                    # Logged and contained: one failing task must not take down the
                    # task group, and with it every other task and the lifespan.
                    logger.error("app task %s failed", task.name, exc_info=exc)
        finally:
            self._active.pop(task_id, None)
            if self._slots is not None:
                self._slots.release()
            if not self._active and self._idle is not None:
                self._idle.set()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[AppTasks]:
        """Open the task group for the duration of the block; drain and close it on exit.

        For apps that run their own lifespan function instead of using
        `AppTasksMiddleware`; enter it *inside* the resources the tasks use (a
        database pool), so the tasks drain before those close.
        """
        self._check_not_running()
        body_error: Exception | None = None
        async with anyio.create_task_group() as task_group:
            self._open(task_group)
            try:
                yield self
            except Exception as exc:
                # Raised again below, outside the task group: a task group wraps
                # whatever crosses it in an ExceptionGroup, and the server (or the
                # lifespan's caller) must see the app's startup error as itself.
                body_error = exc
            finally:
                try:
                    await self.drain()
                finally:
                    self._close()
                    task_group.cancel_scope.cancel()
        if body_error is not None:
            raise body_error

    def _check_not_running(self) -> None:
        if self._task_group is not None:
            raise RuntimeError(
                "this AppTasks is already running under another lifespan; "
                "give each application its own AppTasks."
            )

    def _open(self, task_group: TaskGroup) -> None:
        self._task_group = task_group
        # Created here, inside the event loop that will use it: anyio primitives
        # belong to one loop (and a trio one cannot serve asyncio).
        if self.max_concurrency is not None:
            self._slots = anyio.Semaphore(self.max_concurrency)
        self._idle = None
        # A task cancelled before its first step never reaches its `finally`;
        # whatever a previous lifespan left behind is gone with its task group.
        self._active.clear()
        self._accepting = True
        self._has_run = True

    def _close(self) -> None:
        self._accepting = False
        self._task_group = None

    async def drain(self) -> None:
        """Stop accepting tasks; wait up to `shutdown_timeout` for running ones; cancel the rest.

        Called at lifespan shutdown (before the app's own shutdown code runs).
        Calling it again is harmless.
        """
        self._accepting = False
        if not self._active:
            return
        logger.info(
            "waiting up to %gs for %d app task(s) to finish", self.shutdown_timeout, self.active
        )
        self._idle = anyio.Event()
        with anyio.move_on_after(self.shutdown_timeout):
            await self._idle.wait()
        if not self._active:
            return
        logger.warning(
            "shutdown_timeout (%gs) elapsed with %d app task(s) still running; cancelling: %s",
            self.shutdown_timeout,
            self.active,
            ", ".join(name for name, _ in self._active.values()),
        )
        for _, scope in list(self._active.values()):
            scope.cancel()
        # Wait for the cancelled tasks to unwind (each logs its own cancellation).
        # Bounded: cancelled async code stops at its next await, and sync tasks
        # are abandoned in their threads.  (Only a task that shields itself from
        # cancellation can still hold shutdown; that is its author's decision.)
        await self._idle.wait()


class AppTasksMiddleware:
    """Run an `AppTasks` task group for the lifespan of any ASGI app.

    `AppTasksMiddleware(app, tasks=None)` (a new `AppTasks()` when `tasks` is
    None; it is available as `.tasks`):

    - lifespan: opens the task group before the app sees `lifespan.startup`, and
      at `lifespan.shutdown` drains it *before* passing the message on, so the
      app's own shutdown code closes resources only after the tasks are done.
      If the wrapped app does not speak the lifespan protocol (it returns or
      raises before receiving `lifespan.startup`), the middleware answers the
      lifespan messages itself so app tasks still work.
    - http and websocket: puts the `AppTasks` at `scope["flagstone.app_tasks"]`
      (read it with `AppTasks.from_scope(scope)`) and passes the request on.
    """

    def __init__(self, app: ASGIApp, tasks: AppTasks | None = None) -> None:
        self.app = app
        self.tasks = tasks if tasks is not None else AppTasks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (see the class docstring)."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
        elif kind == "http" or kind == "websocket":
            await self.app({**scope, APP_TASKS_KEY: self.tasks}, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        startup_received = False

        async def lifespan_receive() -> Message:
            nonlocal startup_received
            message = await receive()
            if message["type"] == "lifespan.startup":
                startup_received = True
            elif message["type"] == "lifespan.shutdown":
                # Drain first: the app's shutdown code may close a database pool
                # or a client session the tasks still use.
                await self.tasks.drain()
            return message

        async with self.tasks.lifespan():
            try:
                await self.app(scope, lifespan_receive, send)
            except Exception:
                if startup_received:
                    raise  # a real startup/shutdown failure of the app: the server reports it
                logger.info(
                    "the app raised on the lifespan scope before receiving lifespan.startup; "
                    "AppTasksMiddleware answers the lifespan protocol for it",
                    exc_info=True,
                )
                await _answer_lifespan(lifespan_receive, send)
                return
            if not startup_received:
                await _answer_lifespan(lifespan_receive, send)


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    # Minimal lifespan protocol on behalf of an app that ignores it: the server
    # still waits for startup.complete before serving, then shutdown.complete.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
