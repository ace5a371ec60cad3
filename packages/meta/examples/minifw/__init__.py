"""minifw: a decorator-based mini framework built on flagstone's extension points.

The proof that flagstone is a foundation (docs/building-a-framework.md): it
is written the way real frameworks are written on Starlette, and each piece
uses one documented extension point.

- `APIRoute` subclasses `Route` *without* calling its `__init__`: it sets the
  public attributes (`path`, `endpoint`, `name`, `methods`, `path_regex`,
  `path_format`, `param_convertors`, `app`) and relies on the base class's
  `matches`, `handle` and `url_path_for`; it overrides `matches` to tag the
  scope.
- `APIWebSocketRoute` subclasses `WebSocketRoute` *with* `super().__init__`.
- `APIRouter` subclasses `Router` and overrides `app`; `include_router`
  copies routes and changes their public attributes after construction.
- `MiniFW` subclasses `App` and calls `App.__init__`; `MiniAPI` is the same
  application in FastAPI's shape: its own `__init__` that never calls
  `App.__init__`, and its own `build_middleware_stack`.
- Endpoints run inside `wrap_app_handling_exceptions`, so the 422 handler
  answers validation errors raised inside the framework's own wrapper.
- Path, query and JSON-body parameters are injected by type; a lifespan is
  typed `Lifespan[MiniFW]`; `StaticFiles` is mounted when
  flagstone-staticfiles is installed.
"""

from ._app import MiniAPI, MiniFW
from ._params import Body, File, Query, RequestValidationError, jsonable
from ._routing import APIRoute, APIRouter, APIWebSocketRoute

__all__ = [
    "APIRoute",
    "APIRouter",
    "APIWebSocketRoute",
    "Body",
    "File",
    "MiniAPI",
    "MiniFW",
    "Query",
    "RequestValidationError",
    "jsonable",
]
