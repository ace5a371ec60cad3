"""`App`: Starlette's application class, built from flagstone's pieces.

The stack, built once on the first call (or rebuilt by `add_middleware`
before the first call), is Starlette's:

    ServerErrorMiddleware            renders the 500 (`500` / `Exception` handlers)
      -> RequestBodyLimitMiddleware  only with `max_body_size`, as in Starlette
        -> user middleware           first listed is outermost
          -> ExceptionMiddleware     HTTPException, WebSocketException, handlers
            -> Router

So an unhandled exception propagates through user middleware as itself
(`try: await call_next(request) except ValueError:` in a
`BaseHTTPMiddleware` runs), and the 500 is sent outside them: their headers
are not on it.

`errors_through_middleware=True` (not in Starlette) adds a second
`ServerErrorMiddleware` just inside the user middleware: the 500 is rendered
there and sent through the user middleware's `send` wrappers (CORS and
security headers, request ids reach it), then the exception is re-raised;
the outer layer sees that it was dealt with and only re-raises too, so the
server still logs the original exception once.  A user middleware then sees
the exception only after the 500 went out.

In that mode the two error layers each need to know what went out through
their own `send`: the outer one what reached the server, the inner one what
reached the user middleware (which may buffer it, or answer by itself).
When every user middleware passes `send` on unchanged, the inner layer
receives the outer one's tracked `send` itself, and the two share that one
record instead of wrapping `send` twice.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from flagstone_contract import (
    BODY_IDLE_TIMEOUT_KEY,
    ASGIApp,
    Message,
    Middleware,
    Receive,
    RequestBodyLimitMiddleware,
    Scope,
    Send,
    wrap_middleware,
)
from flagstone_requests import ExceptionMiddleware, ServerErrorMiddleware, State
from flagstone_routing import BaseRoute, Router, URLPath

__all__ = ["App"]

ExceptionHandler = Callable[..., Any]
ExceptionHandlers = Mapping[Any, ExceptionHandler]


class App:
    """An ASGI application: routing, error handling and middleware in one object.

    Starlette-compatible (`Starlette(debug, routes, middleware,
    exception_handlers, lifespan, *, max_body_size)`); `scope["app"]` is set
    to the App for every connection.  `max_body_size` bounds every request
    body (413 past it) unless a router, mount or route sets its own limit.
    `body_idle_timeout` (seconds, off by default; not in Starlette) answers
    408 when a request body stalls that long between chunks, so a stalled
    upload does not hold its task and temporary files until the client
    leaves.  `errors_through_middleware=True` (not in Starlette) renders the
    500 inside the user middleware, so the headers they add are on it (see
    the module docstring).

    Subclassing without `__init__` (FastAPI's shape): a subclass that never
    calls `App.__init__` sets `router` and `state` itself; every other
    attribute read after construction (`debug`, `exception_handlers`,
    `user_middleware`, `middleware_stack`, `max_body_size`,
    `body_idle_timeout`, `errors_through_middleware`) has a class-level default below
    (docs/building-a-framework.md).
    """

    # Class-level defaults: read whether or not `__init__` ran.  The mutable
    # ones are empty and immutable here; `add_middleware` and
    # `add_exception_handler` give the instance its own copy before changing it.
    debug: bool = False
    exception_handlers: Mapping[Any, ExceptionHandler] = MappingProxyType({})
    user_middleware: Sequence[Middleware] = ()
    middleware_stack: ASGIApp | None = None
    max_body_size: int | None = None
    body_idle_timeout: float | None = None
    errors_through_middleware: bool = False

    def __init__(
        self,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: ExceptionHandlers | None = None,
        lifespan: Any = None,
        *,
        max_body_size: int | None = None,
        body_idle_timeout: float | None = None,
        errors_through_middleware: bool = False,
    ) -> None:
        if max_body_size is not None and max_body_size < 0:
            raise ValueError(f"max_body_size must be None or >= 0, not {max_body_size!r}")
        if body_idle_timeout is not None and not body_idle_timeout > 0:
            raise ValueError(f"body_idle_timeout must be None or > 0, not {body_idle_timeout!r}")
        self.body_idle_timeout = body_idle_timeout
        self.errors_through_middleware = errors_through_middleware
        self.debug = debug
        self.state = State()
        self.router = Router(routes, lifespan=lifespan)
        self.exception_handlers = dict(exception_handlers or {})
        self.user_middleware = list(middleware or [])
        self.max_body_size = max_body_size
        self.middleware_stack: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        """Build the stack described in the module docstring."""
        error_handler = None
        handlers: dict[Any, ExceptionHandler] = {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = handler
            else:
                handlers[key] = handler
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=handlers, debug=self.debug)
        if self.user_middleware:
            if self.errors_through_middleware:
                app = ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)
            app = wrap_middleware(app, self.user_middleware)
        if self.max_body_size is not None:
            # The outermost limit; routers, mounts and routes inside may
            # replace it (innermost wins) through the same counter.
            app = RequestBodyLimitMiddleware(app, self.max_body_size)
        # Directly around ExceptionMiddleware (no user middleware, no limit),
        # the error layer runs the exception layer in its own frame.
        return ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        if self.body_idle_timeout is not None and scope["type"] == "http":
            # The outermost default; a BodyIdleTimeout further in overrides it.
            scope.setdefault(BODY_IDLE_TIMEOUT_KEY, self.body_idle_timeout)
        if scope["type"] == "lifespan":
            await _serve_lifespan(self, scope, receive, send)
            return
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)

    @property
    def routes(self) -> list[BaseRoute]:
        """The router's routes (a live list)."""
        return self.router.routes

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """Reverse a route name into a path; see `Router.url_path_for`."""
        return self.router.url_path_for(name, **path_params)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Mount an ASGI app under `path`."""
        self.router.mount(path, app=app, name=name)

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Route requests for `host` to `app`."""
        self.router.host(host, app=app, name=name)

    def add_route(
        self,
        path: str,
        route: Callable[..., Any],
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Add an HTTP route for `route` (a function endpoint or ASGI app)."""
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def add_websocket_route(
        self, path: str, route: Callable[..., Any], name: str | None = None
    ) -> None:
        """Add a WebSocket route."""
        self.router.add_websocket_route(path, route, name=name)

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Add a middleware as the new outermost user middleware (Starlette's order).

        Raises RuntimeError once the app has started: the stack is built once.
        """
        if self.middleware_stack is not None:
            error = RuntimeError("Cannot add middleware after an application has started")
            error.add_note(
                "flagstone: declare it in App(middleware=[...]) or call add_middleware() before serving"
            )
            raise error
        entry = Middleware(middleware_class, *args, **kwargs)
        if isinstance(self.user_middleware, list):
            self.user_middleware.insert(0, entry)
        else:  # the class default, or a sequence a subclass set
            self.user_middleware = [entry, *self.user_middleware]

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[BaseException], handler: ExceptionHandler
    ) -> None:
        """Register a handler for an exception class or an HTTP status code.

        Raises RuntimeError once the app has started (Starlette accepts the
        call and the handler never runs).
        """
        if self.middleware_stack is not None:
            error = RuntimeError("Cannot add exception handlers after an application has started")
            error.add_note(
                "flagstone: pass App(exception_handlers={...}) or call add_exception_handler() before serving"
            )
            raise error
        if not isinstance(self.exception_handlers, dict):
            self.exception_handlers = dict(self.exception_handlers)
        self.exception_handlers[exc_class_or_status_code] = handler


async def _serve_lifespan(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the lifespan through the stack; a failure before startup is answered is reported.

    The App always speaks lifespan, so an exception before `lifespan.startup`
    was answered is the startup failing, never "lifespan unsupported": a
    middleware whose constructor raises (`Middleware(SessionMiddleware)`
    without `secret_key`; the stack is built here, on the first call) or
    whose `__call__` raises on the lifespan scope.  It is answered
    `lifespan.startup.failed` with the traceback (servers log it and stop;
    uvicorn's "auto" mode would otherwise log "lifespan unsupported" and
    serve a 500 for every request) and re-raised (the test client raises it).
    """
    received = answered = False

    async def tracking_receive() -> Message:
        nonlocal received
        message = await receive()
        received = received or message["type"] == "lifespan.startup"
        return message

    async def tracking_send(message: Message) -> None:
        nonlocal answered
        answered = answered or message["type"].startswith("lifespan.startup.")
        await send(message)

    try:
        if app.middleware_stack is None:
            app.middleware_stack = app.build_middleware_stack()
        await app.middleware_stack(scope, tracking_receive, tracking_send)
    except Exception:
        if not answered:
            if not received:
                await receive()
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
        raise
