"""`BackgroundTask` and `BackgroundTasks`: Starlette-compatible awaitables with honest errors.

Both are awaitable callables with no arguments (`await task()`), which is all a
flagstone `Response(background=...)`, a Starlette response, or this package's
middleware need from them.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Container, Sequence
from typing import Any, ParamSpec

import anyio
import anyio.to_thread

from flagstone_contract.http import is_async_callable

from ._threads import thread_limiter

__all__ = ["BackgroundTask", "BackgroundTasks", "logger", "run_tasks"]

P = ParamSpec("P")

logger = logging.getLogger("flagstone.background")


def _task_name(func: object) -> str:
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        # A callable instance: name it after its class, which is what a reader
        # of the log will find in the code.
        name = type(func).__qualname__
    module = getattr(func, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


class BackgroundTask:
    """One function call to run later: `BackgroundTask(func, *args, **kwargs)`.

    `await task()` calls `func(*args, **kwargs)`.  An `async def` function (also
    behind `functools.partial`, or an object with an `async def __call__`) is
    awaited on the event loop; a sync function runs in a worker thread under this
    package's own limiter (see `thread_limiter()`), not anyio's default one that
    sync endpoints share.  If a sync function returns an awaitable (a lambda
    around a coroutine function, a decorator that hid `async def`), that
    awaitable is awaited too instead of being dropped unawaited.

    `name` (the function's module and qualified name) is what logs and error
    messages call the task; it may be reassigned.
    """

    __slots__ = ("_name", "args", "func", "is_async", "kwargs")

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func: Callable[..., Any] = func
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs
        self.is_async = is_async_callable(func)
        # Computed on first use: most tasks succeed and are never named, and a
        # task is built on every request that schedules one.
        self._name: str | None = None

    @property
    def name(self) -> str:
        """What logs and error messages call this task: the function's module and qualified name."""
        if self._name is None:
            self._name = _task_name(self.func)
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    async def __call__(self) -> None:
        """Run the function once; exceptions propagate unchanged."""
        if self.is_async:
            # `_run`'s async branch, inlined: the common case (an `async def`
            # task, one per request that schedules one) then costs one
            # coroutine, not two.
            await self.func(*self.args, **self.kwargs)
            return
        await self._run(abandon_on_cancel=False)

    async def _run(self, *, abandon_on_cancel: bool) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
            return
        (result,) = await anyio.to_thread.run_sync(
            self._call_boxed, abandon_on_cancel=abandon_on_cancel, limiter=thread_limiter()
        )
        if inspect.isawaitable(result):
            await result

    def _call_boxed(self) -> tuple[object]:
        # Boxed in a tuple because trio refuses a worker-thread function that
        # returns a coroutine; we want to await such a result, not lose it.
        return (self.func(*self.args, **self.kwargs),)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class BackgroundTasks(BackgroundTask):
    """An ordered list of tasks run one after another: `BackgroundTasks(tasks=None)`.

    Starlette-compatible (`add_task(func, *args, **kwargs)`, `await tasks()` runs
    them in order), including how a failure is handled by default:

    - `fail_fast=True` (the default, Starlette's documented behaviour, which
      apps rely on: "charge the card, then send the receipt"): the first
      failure stops the run; the remaining tasks do not run.  The failure is
      raised as itself, logged on the ``flagstone.background`` logger with the
      task's name and its original traceback, and the skipped tasks are logged
      by name.
    - `fail_fast=False` (opt-in): **every task runs** even if an earlier one
      failed.  Each failure is logged the same way.  After the last task, a
      single failure is re-raised **as itself** (so `except ValueError` and a
      test client's `raise_server_exceptions` see the original type), and
      several are raised together as an `ExceptionGroup` named after the failed
      tasks.  `except* ValueError` catches both shapes.

    In both modes the raised exception carries a note naming the task that
    raised it (and, with `fail_fast`, the tasks that were skipped), so a
    server log says which background task failed, not only where.

    Only `Exception`s are collected: cancellation and `KeyboardInterrupt` stop
    the run immediately, because nothing after them should keep going.
    A task may add further tasks while the list runs; they run too.
    """

    __slots__ = ("fail_fast", "tasks")

    def __init__(
        self, tasks: Sequence[BackgroundTask] | None = None, *, fail_fast: bool = True
    ) -> None:
        # Deliberately not calling BackgroundTask.__init__: a list has no single
        # function.  Subclassing keeps `isinstance(x, BackgroundTask)` true, as in
        # Starlette, so code that accepts "a background task" accepts a list too.
        # (So `func`, `args` and `kwargs` stay unset, as in Starlette; `func =
        # self.__call__` would also make every instance a reference cycle that
        # only the garbage collector can free, one per request.)
        self.tasks: list[BackgroundTask] = list(tasks) if tasks else []
        self.fail_fast = fail_fast
        self.is_async = True
        self._name = type(self).__name__

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Append `func(*args, **kwargs)` to run after the tasks already added."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        """Run the tasks in order; see the class docstring for failures."""
        await run_tasks(self.tasks, fail_fast=self.fail_fast)

    async def _run(self, *, abandon_on_cancel: bool) -> None:
        await run_tasks(self.tasks, fail_fast=self.fail_fast)

    def __repr__(self) -> str:
        names = ", ".join(task.name for task in self.tasks)
        return f"<{type(self).__name__} [{names}]>"


async def run_tasks(
    tasks: list[BackgroundTask], *, fail_fast: bool, always: Container[int] = ()
) -> None:
    """Run `tasks` in order under the failure policy described on `BackgroundTasks`.

    Tasks whose `id()` is in `always` run even after a failure in `fail_fast`
    mode: they are cleanup that must happen whatever went wrong before.
    """
    failures: list[tuple[str, Exception]] = []
    skipped: list[str] = []
    index = 0
    # An index loop rather than `for task in tasks`: a task may append more
    # tasks to the same list, and those must run (or be skipped) as well.
    while index < len(tasks):
        task = tasks[index]
        index += 1
        if failures and fail_fast and id(task) not in always:
            skipped.append(task.name)
            continue
        try:
            await task()
        except Exception as exc:
            logger.error("background task %s failed", task.name, exc_info=exc)
            failures.append((task.name, exc))
    if skipped:
        logger.error(
            "skipped %d background task(s) after %s failed (fail_fast=True): %s",
            len(skipped),
            failures[0][0],
            ", ".join(skipped),
        )
    _raise_collected(failures, skipped)


# Every note this package adds starts with this, so a note from an earlier run
# can be found and replaced: an exception *instance* raised by a task on every
# request (a module-level constant) must not gain one note per request.
_NOTE_PREFIX = "flagstone background: "


def _note(exc: BaseException, text: str) -> None:
    notes = getattr(exc, "__notes__", None)
    if notes:
        notes[:] = [note for note in notes if not str(note).startswith(_NOTE_PREFIX)]
    exc.add_note(_NOTE_PREFIX + text)


def _raise_collected(failures: list[tuple[str, Exception]], skipped: list[str]) -> None:
    if not failures:
        return
    skip_text = (
        f"; skipped after it (fail_fast=True; pass fail_fast=False to run every task): "
        f"{', '.join(skipped)}"
        if skipped
        else ""
    )
    for name, exc in failures:
        _note(exc, f"raised by background task {name}")
    if len(failures) == 1:
        # Re-raised bare on purpose: the server, Sentry and a test client with
        # raise_server_exceptions see the original type and traceback, exactly as
        # with Starlette for the single-failure case.
        name, exc = failures[0]
        if skip_text:
            _note(exc, f"raised by background task {name}{skip_text}")
        raise exc
    names = ", ".join(name for name, _ in failures)
    group = ExceptionGroup(
        f"{len(failures)} background tasks failed: {names}", [exc for _, exc in failures]
    )
    if skip_text:
        group.add_note(_NOTE_PREFIX + f"the first failure was in {failures[0][0]}{skip_text}")
    raise group
