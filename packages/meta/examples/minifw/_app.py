"""`MiniFW`: flagstone's `App` with an `APIRouter`, a 422 handler and optional static files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flagstone import App, JSONResponse, Lifespan, Mount, Request, Response

from ._params import RequestValidationError
from ._routing import APIRouter, Endpoint


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """422 with every problem, as the framework's users expect."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": exc.errors}, status_code=422)


class MiniFW(App):
    """The application: decorators delegate to its `APIRouter`."""

    def __init__(self, *, lifespan: Lifespan[MiniFW] | None = None, debug: bool = False) -> None:
        super().__init__(
            debug=debug,
            exception_handlers={RequestValidationError: validation_error_handler},
        )
        # App reads `router` when it builds its stack (on the first call), so
        # a framework may replace it with its own router class here.
        self.router = APIRouter(lifespan=lifespan)

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
