"""`Router`: Starlette's dispatch semantics over a precompiled index.

Dispatch, for an http or websocket scope:

1. `scope["router"]` is set only when absent, so the outermost router is
   the one `url_for` reverses against.
2. The index (`_matcher.RouteIndex`) yields the routes that can match the
   path, in declaration order; each is asked in turn.  The first FULL match
   updates the scope (`route`, `endpoint`, merged `path_params`, Mount's
   `root_path`) and handles the request.
3. No FULL match but some PARTIAL ones (right path, wrong method): 405 with
   an `Allow` listing the methods of *every* route that matched the path, in
   canonical verb order.  Starlette lists only the first route's methods, in
   set order that changes between processes.
4. Otherwise, for HTTP with `redirect_slashes`, the path with its trailing
   slash toggled is looked up the same way; any match gives a 307 with a
   *relative* Location (see `_replies.slash_toggled_location`).
5. Otherwise `default` (404 / refused websocket).

The index is rebuilt whenever `router.routes` changes: `routes` is a list
subclass that drops the index on every mutation, so a user who appends a
route at runtime gets it matched, and the hot path pays one attribute check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any, SupportsIndex

from flagstone_contract import (
    ASGIApp,
    Middleware,
    Receive,
    Scope,
    Send,
    limit_request_body,
    wrap_middleware,
)

from ._adapters import EndpointAdapter
from ._compile import get_route_path
from ._lifespan import Lifespan, normalize_lifespan, run_lifespan
from ._matcher import RouteIndex
from ._mounts import Host, Mount
from ._replies import method_not_allowed, not_found, redirect, slash_toggled_location
from ._routes import BaseRoute, Match, Route, RouteInfo, WebSocketRoute, allow_header
from ._urls import NoMatchFound, URLPath

__all__ = ["Router"]

_FULL = Match.FULL
_PARTIAL = Match.PARTIAL


def _failing(exc: Exception) -> ASGIApp:
    """An app raising `exc`, the error a route's endpoint adapter raised."""
    original = exc.__traceback__

    async def adapter_failed(scope: Scope, receive: Receive, send: Send) -> None:
        # Reset to the adapter's own traceback first: each raise would
        # otherwise add this request's frames to it, forever.
        raise exc.with_traceback(original)

    return adapter_failed


class _RouteList(list[BaseRoute]):
    """`router.routes`: a plain list that tells its router when it changes."""

    __slots__ = ("_on_change",)

    def __init__(self, routes: Iterable[BaseRoute], on_change: Callable[[], None]) -> None:
        super().__init__(routes)
        self._on_change = on_change

    def _changed(self) -> None:
        self._on_change()

    def append(self, route: BaseRoute) -> None:
        """Append a route (the router re-indexes on its next request)."""
        super().append(route)
        self._changed()

    def extend(self, routes: Iterable[BaseRoute]) -> None:
        """Extend with routes."""
        super().extend(routes)
        self._changed()

    def insert(self, index: SupportsIndex, route: BaseRoute) -> None:
        """Insert a route (earlier routes take priority)."""
        super().insert(index, route)
        self._changed()

    def remove(self, route: BaseRoute) -> None:
        """Remove a route."""
        super().remove(route)
        self._changed()

    def pop(self, index: SupportsIndex = -1) -> BaseRoute:
        """Remove and return a route."""
        route = super().pop(index)
        self._changed()
        return route

    def clear(self) -> None:
        """Remove every route."""
        super().clear()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """Sort the routes (this changes match priority)."""
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        """Reverse the routes (this changes match priority)."""
        super().reverse()
        self._changed()

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, routes: Iterable[BaseRoute]) -> _RouteList:  # type: ignore[override,misc]
        super().__iadd__(routes)
        self._changed()
        return self

    def __imul__(self, count: SupportsIndex) -> _RouteList:
        super().__imul__(count)
        self._changed()
        return self


class Router:
    """An ASGI app dispatching to routes in declaration order (Starlette's `Router`).

    `routes` are tried first to last; `redirect_slashes` answers a 307 to the
    same path with its trailing slash toggled when only that one matches;
    `default` serves what nothing matches (404); `lifespan` is an
    `@asynccontextmanager` function `lifespan(app)` whose yielded mapping is
    merged into the lifespan state.  `middleware` wraps the whole router;
    `max_body_size` bounds request bodies (a Mount's or Route's own limit
    wins).  `endpoint_adapter` turns plain function endpoints into ASGI apps
    (default: flagstone-requests) for this router and the routers of its
    `Mount(routes=...)`.
    """

    # Defaults for a subclass that skips `__init__` and sets only what it needs
    # (`routes`, usually; a limit may be plain class-level data).  Plain class
    # attributes where a request reads them (a descriptor or `__getattr__`
    # would slow every attribute read); `cached_property` for what only setup
    # and misses read.
    redirect_slashes: bool = True
    max_body_size: int | None = None
    endpoint_adapter: EndpointAdapter | None = None
    lifespan_context: Lifespan[Any] | None = None
    middleware_stack: ASGIApp | None = None
    _inherited_adapter: EndpointAdapter | None = None
    _index: RouteIndex | None = None

    @cached_property
    def _routes(self) -> _RouteList:
        return _RouteList((), self._invalidate)

    @cached_property
    def default(self) -> ASGIApp:
        """What answers when nothing matches (`not_found` unless `default=` was given)."""
        return self.not_found

    @cached_property
    def user_middleware(self) -> list[Middleware]:
        """The router's own middleware, first outermost (`middleware=`)."""
        return []

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Callable[[Any], Any] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
        endpoint_adapter: EndpointAdapter | None = None,
    ) -> None:
        self._routes = _RouteList(routes or (), self._invalidate)
        self.redirect_slashes = redirect_slashes
        # `self.not_found`, as in Starlette, so a subclass overriding it is used.
        if default is not None:
            self.default = default
        self.lifespan_context = normalize_lifespan(lifespan)
        if max_body_size is not None:  # else keep a subclass's class-level limit
            self.max_body_size = max_body_size
        self.endpoint_adapter = endpoint_adapter
        self.user_middleware = list(middleware or ())
        # As in Starlette: `app` is bound here, so a subclass overriding the
        # `app` method is what every request reaches (through the middleware).
        self.middleware_stack = wrap_middleware(self.app, self.user_middleware)

    # --- the route table ---------------------------------------------------------

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, in priority order.  Mutate freely: the index follows."""
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = _RouteList(routes, self._invalidate)
        self._invalidate()

    def _invalidate(self) -> None:
        """Drop the index (rebuilt on the next request): the routes or a route changed."""
        self._index = None

    def inherit_adapter(self, adapter: EndpointAdapter) -> None:
        """Use `adapter` for function endpoints unless this router has its own (called by Mount/Host)."""
        if self._inherited_adapter is not adapter:
            self._inherited_adapter = adapter
            self._invalidate()

    def prepare(self) -> RouteIndex:
        """Bind endpoint adapters and build the index now (otherwise done on first use).

        Raises what an endpoint adapter raised for a route (the lifespan
        startup calls this, so a route that cannot be served fails the
        startup).  The index is built all the same: served without a
        lifespan, only that route's requests fail, with that error.
        """
        index = self._build_index()
        if index.failures:
            raise next(iter(index.failures.values()))
        return index

    def _build_index(self) -> RouteIndex:
        adapter = self.endpoint_adapter or self._inherited_adapter
        failures: dict[int, Exception] = {}
        for position, route in enumerate(self._routes):
            if not isinstance(route, BaseRoute):
                raise TypeError(
                    f"Router routes must be Route, WebSocketRoute, Mount, Host or another "
                    f"flagstone_routing.BaseRoute, got {route!r}; wrap an ASGI app in Mount(path, app=...)"
                )
            route.watched_by(self)
            try:
                route.bind_adapter(adapter)
            except Exception as exc:
                # One endpoint a (framework's) adapter refuses must not take
                # the app's other routes down with it.
                failures[position] = exc
        index = RouteIndex(self._routes)
        for position, failure in failures.items():
            index.handlers[position] = _failing(failure)
        index.failures = failures
        self._index = index
        return index

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Append a `Route`."""
        self._routes.append(
            Route(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        )

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Append a `WebSocketRoute`."""
        self._routes.append(WebSocketRoute(path, endpoint, name=name))

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a `Mount` of `app` under `path`."""
        self._routes.append(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Append a `Host` route."""
        self._routes.append(Host(host, app=app, name=name))

    # --- reversal -------------------------------------------------------------------

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called `name` with exactly `path_params`.

        Raises `NoMatchFound` naming the routes that carry `name` and the
        params they take, or listing the names that exist.
        """
        for route in self._routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        known = [pair for route in self._routes for pair in route.reverse_names()]
        raise NoMatchFound(name, path_params, known)

    # --- introspection -----------------------------------------------------------------

    def __iter__(self) -> Iterator[RouteInfo]:
        """Every endpoint reachable through this router, mounts flattened, in priority order."""
        for route in self._routes:
            yield from route.describe()

    def describe(self) -> str:
        """A table of `iter(router)`: priority, methods, full path, name, host, endpoint."""
        rows = [("#", "METHODS", "PATH", "NAME", "HOST", "ENDPOINT")]
        for number, info in enumerate(self, start=1):
            if info.kind == "websocket":
                methods = "WEBSOCKET"
            elif info.methods is None:
                methods = "*"
            else:
                methods = ", ".join(info.methods)
            endpoint = getattr(info.endpoint, "__qualname__", None) or type(info.endpoint).__name__
            rows.append(
                (
                    str(number),
                    methods,
                    info.path or "/",
                    info.name or "-",
                    info.host or "-",
                    endpoint,
                )
            )
        widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        return "\n".join(lines)

    # --- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: `middleware_stack`, which ends in `app`."""
        stack = self.middleware_stack
        if stack is None:  # a subclass that skipped `__init__`
            stack = self.middleware_stack = wrap_middleware(self.app, self.user_middleware)
        await stack(scope, receive, send)

    def app(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Dispatch one scope (the router without its middleware); override to add behaviour.

        Returns the awaitable of whoever answers (await it, as for an `async
        def`): a plain function, so routing adds no coroutine frame of its
        own to every request.  An override may be an `async def`.
        """
        if "router" not in scope:
            scope["router"] = self
        scope_type = scope["type"]
        if scope_type == "lifespan":
            return self.lifespan(scope, receive, send)
        max_body_size = self.max_body_size
        if max_body_size is not None and scope_type == "http":
            return limit_request_body(max_body_size, self._dispatch, scope, receive, send)
        return self._dispatch(scope, receive, send)

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the lifespan protocol: own lifespan, then every mounted app's."""
        await run_lifespan(self, self.lifespan_context, scope, receive, send)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The default `default`: 404, or a refused websocket."""
        await not_found(scope, receive, send)

    def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function returning the awaitable of whoever answers (the
        # route's handler, the 405 or the miss), like `app`.
        index = self._index or self._build_index()
        matchers = index.matchers
        # `get_route_path` only matters under a root_path (a Mount, a
        # server's prefix): most requests have none.
        route_path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        scope_type = scope["type"]
        positions = index.small_tables.get(scope_type)
        if positions is None:
            positions = index.candidates(scope_type, route_path)
        partials: list[tuple[BaseRoute, Scope]] | None = None
        for position in positions:
            match, child_scope = matchers[position](scope, route_path)
            if match is _FULL:
                scope.update(child_scope)
                return index.handlers[position](scope, receive, send)
            if match is _PARTIAL:
                if partials is None:
                    partials = []
                partials.append((index.routes[position], child_scope))
        if partials is not None:
            return self._method_not_allowed(partials, scope, receive, send)
        return self._no_match(index, route_path, scope, receive, send)

    async def _method_not_allowed(
        self, partials: list[tuple[BaseRoute, Scope]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        first, first_scope = partials[0]
        scope.update(first_scope)
        if not isinstance(first, Route) or type(first).handle is not Route.handle:
            await first.handle(scope, receive, send)  # a custom route decides itself
            return
        allowed: set[str] = set()
        for route, _ in partials:
            allowed |= getattr(route, "methods", None) or set()
        await method_not_allowed(scope, send, allow_header(allowed))

    async def _no_match(
        self, index: RouteIndex, route_path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] == "http" and self.redirect_slashes and route_path != "/":
            toggled = route_path[:-1] if route_path.endswith("/") else route_path + "/"
            if self._matches_any(index, scope, toggled):
                await redirect(send, slash_toggled_location(scope, route_path, toggled))
                return
        await self.default(scope, receive, send)

    def _matches_any(self, index: RouteIndex, scope: Scope, route_path: str) -> bool:
        # Custom route classes read the path from the scope: give them a copy
        # with the toggled path (the real scope must stay untouched).
        redirect_scope = dict(scope)
        full_path: str = scope["path"]
        redirect_scope["path"] = full_path[:-1] if full_path.endswith("/") else full_path + "/"
        for position in index.candidates("http", route_path):
            match, _ = index.matchers[position](redirect_scope, route_path)
            if match is not Match.NONE:
                return True
        return False

    def __eq__(self, other: object) -> bool:
        # Value equality, so that `Mount("/api", routes=[...])` compares by its
        # routes, as `app.routes == [...]` assertions expect.
        if not isinstance(other, Router):
            return NotImplemented
        return list(self._routes) == list(other._routes)

    # Equal routers must hash alike and the routes are mutable: unhashable,
    # as in Starlette.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(routes={len(self._routes)})"
