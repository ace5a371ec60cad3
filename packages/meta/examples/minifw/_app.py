"""The applications: `MiniFW` (calls `App.__init__`) and `MiniAPI` (FastAPI's shape, never does).

Both delegate their decorators to an `APIRouter` and answer validation
errors with a 422; they differ only in how they are built, which is the
point: `App`'s methods work from its public attributes whether or not
`App.__init__` ran (docs/building-a-framework.md, section 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flagstone import (
    App,
    ASGIApp,
    ExceptionMiddleware,
    JSONResponse,
    Lifespan,
    Middleware,
    Mount,
    Request,
    RequestBodyLimitMiddleware,
    Response,
    ServerErrorMiddleware,
    State,
    wrap_middleware,
)

from ._params import RequestValidationError
from ._routing import APIRouter, Endpoint


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """422 with every problem, as the framework's users expect."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": exc.errors}, status_code=422)


class _Decorators(App):
    """What both application classes offer, on top of `App`, through their `APIRouter`."""

    @property
    def api(self) -> APIRouter:
        """The framework's router (typed)."""
        assert isinstance(self.router, APIRouter)
        return self.router

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@app.get(path)`."""
        return self.api.get(path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@app.post(path)`."""
        return self.api.post(path, **options)

    def websocket(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@app.websocket(path)`."""
        return self.api.websocket(path, **options)

    def include_router(self, router: APIRouter, *, prefix: str = "") -> None:
        """Serve `router`'s routes under `prefix`."""
        self.api.include_router(router, prefix=prefix)

    def mount_static(self, path: str, directory: str, name: str = "static") -> None:
        """Mount flagstone-staticfiles' `StaticFiles` (an ImportError says what to install)."""
        try:
            from flagstone_staticfiles import StaticFiles
        except ImportError as exc:
            raise ImportError(
                "mount_static needs flagstone-staticfiles: pip install flagstone-staticfiles"
            ) from exc
        self.routes.append(Mount(path, app=StaticFiles(directory=directory), name=name))


class MiniFW(_Decorators):
    """The application, built through `App.__init__` with its router replaced."""

    def __init__(self, *, lifespan: Lifespan[MiniFW] | None = None, debug: bool = False) -> None:
        super().__init__(
            debug=debug,
            exception_handlers={RequestValidationError: validation_error_handler},
        )
        # App reads `router` when it builds its stack (on the first call), so
        # a framework may replace it with its own router class here.
        self.router = APIRouter(lifespan=lifespan)


class MiniAPI(_Decorators):
    """The application in FastAPI's shape: its own `__init__`, never `App.__init__`.

    It sets the attributes FastAPI sets (`debug`, `state`, `router`,
    `exception_handlers`, `user_middleware`, `middleware_stack`) and builds
    its own middleware stack, as FastAPI does; everything else (`__call__`,
    `add_middleware`, `url_path_for`, `max_body_size`, ...) is `App`'s,
    working from class-level defaults.
    """

    def __init__(
        self,
        *,
        lifespan: Lifespan[MiniAPI] | None = None,
        debug: bool = False,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, Callable[..., Any]] | None = None,
    ) -> None:
        self.debug = debug
        self.state = State()
        self.router = APIRouter(lifespan=lifespan)
        self.exception_handlers = {
            RequestValidationError: validation_error_handler,
            **(exception_handlers or {}),
        }
        self.user_middleware = list(middleware or [])
        self.middleware_stack = None

    def build_middleware_stack(self) -> ASGIApp:
        """The framework's own stack: errors outside user middleware, handlers inside."""
        handlers = dict(self.exception_handlers)
        error_handler = None
        for key in (500, Exception):  # the 500 page is ServerErrorMiddleware's, as in App
            if key in handlers:
                error_handler = handlers.pop(key)
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=handlers, debug=self.debug)
        app = wrap_middleware(app, self.user_middleware)
        if self.max_body_size is not None:  # App's attribute (a class-level default here)
            app = RequestBodyLimitMiddleware(app, self.max_body_size)
        return ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)
