"""Routes and routers of minifw: flagstone's classes, subclassed as frameworks do."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flagstone import (
    ASGIApp,
    BaseRoute,
    JSONResponse,
    Match,
    Receive,
    Request,
    Response,
    Route,
    Router,
    Scope,
    Send,
    WebSocket,
    WebSocketRoute,
    compile_path,
    get_name,
    is_async_callable,
    run_in_threadpool,
    wrap_app_handling_exceptions,
)

from ._params import Param, inspect_endpoint, jsonable, solve

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


async def _call(endpoint: Callable[..., Any], values: dict[str, Any]) -> Any:
    if is_async_callable(endpoint):
        return await endpoint(**values)
    return await run_in_threadpool(endpoint, **values)


class APIRoute(Route):
    """An HTTP route whose endpoint takes typed parameters and returns data or a response.

    It never calls `Route.__init__`: it sets the public attributes itself,
    builds its own `app`, and inherits `matches`, `handle`, `url_path_for`.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
        status_code: int = 200,
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.methods = {method.upper() for method in methods}
        if "GET" in self.methods:
            self.methods.add("HEAD")
        self.include_in_schema = True
        self.status_code = status_code
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.params: list[Param] = inspect_endpoint(endpoint, path)
        self.app = self.get_route_handler()

    def get_route_handler(self) -> ASGIApp:
        """The ASGI app of this route: solve parameters, call, render, inside the app's handlers."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive, send)

            async def run(scope: Scope, receive: Receive, send: Send) -> None:
                result = await _call(self.endpoint, await solve(self.params, request))
                if not isinstance(result, Response):
                    result = JSONResponse(jsonable(result), status_code=self.status_code)
                await result(scope, receive, send)

            try:
                await wrap_app_handling_exceptions(run, request)(scope, receive, send)
            finally:
                await request.close()

        return app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """The base class's match, plus the route in `scope["minifw.route"]`."""
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["minifw.route"] = self
        return match, child_scope


class APIWebSocketRoute(WebSocketRoute):
    """A WebSocket route with injected parameters; it calls `super().__init__`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str | None = None):
        self.params = inspect_endpoint(endpoint, path)
        super().__init__(path, self._session, name=name or get_name(endpoint))
        # Starlette-style frameworks expose the user's function, not the wrapper.
        self.endpoint = endpoint

    async def _session(self, websocket: WebSocket) -> None:
        # A bound method is a handler: flagstone's `websocket_session` adapts
        # it, and applies the app's exception handlers to what it raises.
        await _call(self.endpoint, await solve(self.params, websocket))


class APIRouter(Router):
    """A router with decorators and `include_router`; it overrides `app` to count requests."""

    def __init__(self, *, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.requests_seen = 0

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every request passes here (flagstone's `Router.__call__` always calls `app`)."""
        if scope["type"] in ("http", "websocket"):
            self.requests_seen += 1
            scope.setdefault("minifw.router", self)
        await super().app(scope, receive, send)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        """Add an `APIRoute` under this router's prefix."""
        self.routes.append(APIRoute(self.prefix + path, endpoint, **options))

    def api_route(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@router.api_route(path, methods=[...])`."""

        def decorator(endpoint: Endpoint) -> Endpoint:
            self.add_api_route(path, endpoint, **options)
            return endpoint

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@router.get(path)`."""
        return self.api_route(path, methods=["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@router.post(path)`."""
        return self.api_route(path, methods=["POST"], **options)

    def websocket(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """`@router.websocket(path)`."""

        def decorator(endpoint: Endpoint) -> Endpoint:
            self.routes.append(APIWebSocketRoute(self.prefix + path, endpoint, **options))
            return endpoint

        return decorator

    def include_router(self, router: APIRouter, *, prefix: str = "") -> None:
        """Copy `router`'s routes under `prefix`, changing their public attributes."""
        for route in router.routes:
            self.routes.append(_prefixed(route, self.prefix + prefix))


def _prefixed(route: BaseRoute, prefix: str) -> BaseRoute:
    # Changed after construction, as frameworks do: path and its compiled
    # parts together (flagstone re-derives what depends on them).
    moved = copy.copy(route)
    if isinstance(moved, Route | WebSocketRoute):
        moved.path = prefix + moved.path
        moved.path_regex, moved.path_format, moved.param_convertors = compile_path(moved.path)
    return moved
