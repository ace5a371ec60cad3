"""The router's side of the ASGI lifespan protocol, mounted apps included.

Starlette runs only the top-level router's lifespan; apps under `Mount` or
`Host` never hear startup or shutdown (starlette#649, open since 2019, most
often hit by mounted MCP servers).  Here the router's own lifespan runs
first, then every mounted app (in declaration order) gets the lifespan
protocol; shutdown runs in reverse.  A mounted `Mount(routes=...)` is a
Router, so this recurses naturally.

How it runs without a task group (routing depends on nothing but the
contract, so it cannot spawn tasks portably across asyncio and trio): the
mounted apps are *nested*.  Each is called with a `send` that, when the app
reports `lifespan.startup.complete`, starts the next app from inside that
call; after the last one the router reports startup to the server and
waits, still inside those nested calls, for the server's shutdown.  Then the
calls return one by one: each app's `send` returns and its next `receive()`
yields `lifespan.shutdown`, so apps stop in reverse order.  Every app sees
an ordinary ASGI conversation; its own task groups stay open around that
`send`.

"Does not speak lifespan": the app returns before answering
`lifespan.startup`, or raises before it even read that message.  Such an
app is left alone (its exception is not an error: many apps `assert
scope["type"] == "http"`).  An app that raises *after* reading
`lifespan.startup` does speak lifespan, so that is its startup failing,
reported like an app that answers `lifespan.startup.failed`: the whole
startup fails with a message naming the mount (and, for an exception, its
traceback); the apps already started are shut down first.
"""

from __future__ import annotations

import inspect
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

from flagstone_contract import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AppType", "Lifespan", "normalize_lifespan", "run_lifespan"]

AppType = TypeVar("AppType")
"""The application a lifespan receives (`Lifespan[App]`, `Lifespan[MyFramework]`)."""

# Starlette's shapes: a lifespan yields nothing, or a mapping merged into the
# lifespan state.  Generic in the app type, so frameworks annotate
# `lifespan: Lifespan[MyApp]`.
_StatelessLifespan = Callable[[AppType], AbstractAsyncContextManager[None]]
_StatefulLifespan = Callable[[AppType], AbstractAsyncContextManager[Mapping[str, Any]]]
Lifespan = _StatelessLifespan[AppType] | _StatefulLifespan[AppType]
"""`lifespan(app)` returning an async context manager (`@asynccontextmanager`); subscript with the app type."""


def normalize_lifespan(lifespan: Any) -> Lifespan[Any] | None:
    """Accept an `@asynccontextmanager` lifespan (or a bare async generator, with a warning)."""
    if lifespan is None:
        return None
    if inspect.isasyncgenfunction(lifespan):
        warnings.warn(
            "a bare async generator lifespan is deprecated: decorate it with "
            "@contextlib.asynccontextmanager",
            DeprecationWarning,
            stacklevel=3,
        )
        return asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        raise TypeError(
            f"lifespan={lifespan!r} is a sync generator; write it as an async generator "
            "decorated with @contextlib.asynccontextmanager"
        )
    decorated = _decorated_generator(lifespan)
    if decorated is not None:
        raise TypeError(decorated)
    if not callable(lifespan):
        raise TypeError(
            f"lifespan must be a callable returning an async context manager, got {lifespan!r}"
        )
    return lifespan  # type: ignore[no-any-return]


@asynccontextmanager
async def _no_lifespan(app: Any) -> AsyncIterator[None]:
    yield None


def _sync_generator(app: Any) -> Iterator[None]:  # only its decorated code is used
    yield None  # pragma: no cover


# The code object every `@asynccontextmanager` / `@contextmanager` wrapper
# shares (contextlib's inner `helper`): how a decorated function is recognised
# without calling it.
_ASYNC_CM_CODE = getattr(_no_lifespan, "__code__", None)
_SYNC_CM_CODE = getattr(contextmanager(_sync_generator), "__code__", None)


def _decorated_generator(lifespan: Any) -> str | None:
    """What is wrong with a lifespan decorated on the wrong kind of generator, or None.

    `@asynccontextmanager` over a sync generator fails only at startup with
    contextlib's "'generator' object is not an async iterator", and
    `@contextmanager` with "'_GeneratorContextManager' object does not
    support the asynchronous context manager protocol": neither names the fix.
    """
    code = getattr(lifespan, "__code__", None)
    wrapped = getattr(lifespan, "__wrapped__", None)
    if code is None or wrapped is None:
        return None
    if code is _ASYNC_CM_CODE and inspect.isgeneratorfunction(wrapped):
        return (
            f"lifespan={wrapped.__qualname__} is @asynccontextmanager over a sync generator "
            f"(def with yield): write it `async def {wrapped.__name__}(app): ... yield ...`"
        )
    if code is _SYNC_CM_CODE:
        return (
            f"lifespan={wrapped.__qualname__} is a @contextmanager (sync): decorate an async "
            f"generator `async def {wrapped.__name__}(app)` with @contextlib.asynccontextmanager"
        )
    return None


class _MountedLifespans:
    """The nested conversation with the mounted apps (see the module docstring)."""

    def __init__(
        self, apps: Sequence[tuple[str, ASGIApp]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.apps = apps
        self.scope = scope
        self.server_receive = receive
        self.server_send = send
        self.startup_failure: str | None = None
        self.shutdown_failures: list[str] = []
        self.startup_reported = False
        self.error: Exception | None = None

    async def run(self) -> None:
        await self._continue(0)
        if self.error is not None:
            raise self.error

    async def _continue(self, index: int) -> None:
        # Never let an error raise *through* a mounted app's `send`: the app
        # would report it as its own failure.  It is kept and re-raised once
        # every app has unwound.  Cancellation (BaseException) does go through.
        try:
            await self._start(index)
        except Exception as exc:
            if self.error is None:
                self.error = exc

    async def _start(self, index: int) -> None:
        if index == len(self.apps):
            await self.server_send({"type": "lifespan.startup.complete"})
            self.startup_reported = True
            await self.server_receive()  # lifespan.shutdown: the server is stopping
            return
        label, app = self.apps[index]
        phase = "new"

        async def receive() -> Message:
            nonlocal phase
            if phase == "new":
                phase = "asked"
                return {"type": "lifespan.startup"}
            return {"type": "lifespan.shutdown"}

        async def send(message: Message) -> None:
            nonlocal phase
            kind = message["type"]
            if kind == "lifespan.startup.complete" and phase == "asked":
                phase = "running"
                await self._continue(index + 1)
            elif kind == "lifespan.startup.failed" and phase == "asked":
                phase = "failed"
                self.startup_failure = f"{label}: {message.get('message', '')}"
            elif (
                kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed")
                and phase == "running"
            ):
                phase = "stopped"
                if kind == "lifespan.shutdown.failed":
                    self.shutdown_failures.append(f"{label}: {message.get('message', '')}")
            else:
                raise RuntimeError(
                    f"{label} sent {kind!r} out of order in the lifespan protocol (phase {phase})"
                )

        try:
            await app(dict(self.scope), receive, send)
        except Exception as exc:
            if phase == "running":
                self.shutdown_failures.append(f"{label}: {type(exc).__name__}: {exc}")
            elif phase == "asked":
                # It read `lifespan.startup`, so it speaks lifespan: raising
                # now is its startup failing (a database it cannot reach), not
                # "lifespan unsupported".  Swallowing it would start the
                # server with a broken app and nothing in the log.
                phase = "failed"
                trace = "".join(traceback.format_exception(exc))
                self.startup_failure = (
                    f"{label}: raised during lifespan startup: {type(exc).__name__}: {exc}\n{trace}"
                )
            # phase new: raised before reading anything (`assert scope["type"]
            # == "http"`): the app does not speak lifespan; left alone.
            # phase failed/stopped: it already reported.
        if phase in ("new", "asked"):
            await self._continue(index + 1)


def _mounted_apps(routes: Sequence[Any]) -> list[tuple[str, ASGIApp]]:
    apps: list[tuple[str, ASGIApp]] = []
    seen: set[int] = set()
    for route in routes:
        app = getattr(route, "lifespan_app", None)
        # One app mounted twice (two prefixes, or a Host and a Mount) starts once.
        if app is not None and id(app) not in seen:
            seen.add(id(app))
            where = getattr(route, "path", None)
            if where is None:
                where = getattr(route, "host", "")
            apps.append((f"{type(route).__name__}({where!r})", app))
    return apps


async def run_lifespan(
    router: Any, lifespan: Lifespan[Any] | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve a lifespan scope: the router's own lifespan, then its mounted apps."""
    await receive()  # lifespan.startup
    mounted = _MountedLifespans(_mounted_apps(router.routes), scope, receive, send)
    try:
        router.prepare()  # surface a missing endpoint adapter at startup, not on a request
        # Deliberate difference: a bare Router (no App around it) passes itself,
        # where Starlette passes None.
        context = (lifespan or _no_lifespan)(scope.get("app", router))
        async with context as state:
            if state is not None:
                if "state" not in scope:
                    raise RuntimeError('The server does not support "state" in the lifespan scope.')
                scope["state"].update(state)
            await mounted.run()
        if not mounted.startup_reported:
            await send(
                {"type": "lifespan.startup.failed", "message": mounted.startup_failure or ""}
            )
            return
    except BaseException:
        # Report, then re-raise so the server logs the traceback (as Starlette).
        message = traceback.format_exc()
        started = mounted.startup_reported
        kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
        await send({"type": kind, "message": message})
        raise
    if mounted.shutdown_failures:
        await send(
            {"type": "lifespan.shutdown.failed", "message": "\n".join(mounted.shutdown_failures)}
        )
    else:
        await send({"type": "lifespan.shutdown.complete"})
