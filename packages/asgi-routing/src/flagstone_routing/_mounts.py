"""Routes that hand a request to another app: `Mount` (by path prefix) and `Host`.

Both return only FULL or NONE, as in Starlette, so a broad Mount shadows
every later route and a 404 inside it does not fall through.  Both expose
`lifespan_app`, which is how the router finds the apps to send lifespan
events to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from flagstone_contract import (
    ASGIApp,
    Middleware,
    Receive,
    Scope,
    Send,
    limit_request_body,
    wrap_middleware,
)
from flagstone_contract.http import split_host

from ._adapters import EndpointAdapter
from ._compile import (
    Segment,
    compile_path,
    definition_error,
    get_route_path,
    regex_is_template,
    segment_shape,
)
from ._convertors import Convertor
from ._routes import (
    BaseRoute,
    Match,
    RouteInfo,
    allow_header,
    check_middleware_list,
    convert_params,
    replace_params,
)
from ._urls import NoMatchFound, URLPath

__all__ = ["Host", "Mount"]


# A mounted app may be another framework's (a Starlette app inside a flagstone
# Router): its routes are not BaseRoutes and raise their own NoMatchFound.
# These helpers treat them by duck typing so reversal and introspection
# still work across the boundary.


def _child_url_path_for(route: Any, name: str, params: Mapping[str, Any]) -> Any:
    """The child's URL path, or None when it has no route called `name` with `params`."""
    try:
        return route.url_path_for(name, **params)
    except NoMatchFound:
        return None
    except Exception as exc:
        if type(exc).__name__ == "NoMatchFound":  # another framework's
            return None
        raise


def _child_reverse_names(route: Any) -> Iterator[tuple[str, frozenset[str]]]:
    if isinstance(route, BaseRoute):
        yield from route.reverse_names()
    elif getattr(route, "name", None):
        yield route.name, frozenset(getattr(route, "param_convertors", None) or ())


def _child_describe(route: Any, prefix: str, host: str | None) -> Iterator[RouteInfo]:
    if isinstance(route, BaseRoute):
        yield from route.describe(prefix, host)
        return
    methods = getattr(route, "methods", None)
    ordered = tuple(allow_header(set(methods)).split(", ")) if methods else None
    path = prefix + str(getattr(route, "path", ""))
    yield RouteInfo(
        path,
        ordered,
        getattr(route, "name", None),
        "route",
        getattr(route, "endpoint", route),
        host,
    )


def _child_routes(app: Any) -> list[BaseRoute]:
    # The app's own list (not a copy): `mount.routes.append(...)` must reach
    # the inner router, which notices the change and re-indexes.
    routes: list[BaseRoute] | None = getattr(app, "routes", None)
    return routes if routes is not None else []


class Mount(BaseRoute):
    """Serve an ASGI app (or a list of routes) under a path prefix.

    `Mount("/api", routes=[...])` builds an inner `Router`; `Mount("/static",
    app=...)` accepts any ASGI app.  On a match, `root_path` grows by the
    matched prefix (`path` keeps the full path, per ASGI), `app_root_path`
    keeps the outermost root path for `url_for`, and path parameters merge.
    Mounted apps that speak the lifespan protocol get startup and shutdown
    from the router that holds the Mount.
    """

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
        convertors: Mapping[str, Convertor[Any]] | None = None,
    ) -> None:
        if path != "" and not path.startswith("/"):
            raise definition_error(
                "Routed paths must start with '/'",
                f"a Mount path must be empty or start with '/', got {path!r}",
            )
        if app is None and routes is None:
            raise definition_error(
                "Either 'app=...', or 'routes=' must be specified",
                "Mount needs exactly one of app=... (any ASGI app) or routes=[...]",
            )
        if app is not None and routes is not None:
            raise ValueError("Mount needs exactly one of app=... (any ASGI app) or routes=[...]")
        if app is not None and not callable(app):  # untyped callers
            hint = " (for a list of routes write routes=[...])" if isinstance(app, list) else ""  # type: ignore[unreachable]
            raise TypeError(f"Mount app must be an ASGI app, got {app!r}{hint}")
        check_middleware_list(middleware)
        from ._router import Router

        self.path = path.rstrip("/")
        self.name = name
        self.max_body_size = max_body_size
        base_app: Any = app if app is not None else Router(routes=routes)
        self.app: ASGIApp = wrap_middleware(base_app, middleware)
        self._base_app = base_app
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}", convertors
        )

    # Defaults for a subclass that skips `__init__` (it sets `path`, `app`,
    # `path_regex`, `path_format` and `param_convertors`).
    name: str | None = None
    max_body_size: int | None = None
    # Assigning `app` drops the unwrapped app, so `routes` and lifespan follow.
    _DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {"app": ("_base_app",)}

    _base_app: Any = None

    def _unwrapped_app(self) -> Any:
        # The mounted app outside `middleware=`; the current `app` once it was reassigned.
        return self._base_app if self._base_app is not None else self.app

    @property
    def routes(self) -> list[BaseRoute]:
        """The mounted app's routes (empty for an app without `routes`)."""
        return _child_routes(self._unwrapped_app())

    @property
    def lifespan_app(self) -> Any:
        """The app that receives lifespan events (the mounted app, outside its middleware)."""
        return self._unwrapped_app()

    def index_shape(self) -> list[Segment] | None:
        """The prefix segments, then "anything below" (None for a hand-set `path_regex`)."""
        template = self.path + "/{path:path}"
        if not regex_is_template(self.path_regex, template, self.param_convertors):
            return None
        return segment_shape(template, self.param_convertors)

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Pass the adapter down to an inner flagstone Router that has none of its own."""
        base_app = self._unwrapped_app()
        if adapter is not None and _is_flagstone_router(base_app):
            base_app.inherit_adapter(adapter)

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` with the route path already computed."""
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return Match.NONE, {}
        params = convert_params(found, self.param_convertors)
        if params is None:
            return Match.NONE, {}
        remaining_path = "/" + params.pop("path")
        matched_path = route_path[: -len(remaining_path)]
        outer = scope.get("path_params")
        root_path = scope.get("root_path", "")
        return Match.FULL, {
            "path_params": {**outer, **params} if outer else params,
            # The first mount records the server's root_path, so url_for in a
            # mounted app still builds URLs from the outermost application.
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + matched_path,
            "endpoint": self.app,
            "route": self,
        }

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL when the path is under the prefix (http and websocket), else NONE."""
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        return self.match_path(scope, get_route_path(scope))

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """`name` with `path=` for the mount itself, or `"mount:child"` for what it holds."""
        if self.name is not None and name == self.name and "path" in path_params:
            params = dict(path_params)
            params["path"] = str(params["path"]).lstrip("/")
            path, remaining = replace_params(self.path_format, self.param_convertors, params)
            if not remaining:
                return URLPath(path)
        elif (
            self.name is None or name.startswith(self.name + ":")
        ) and self.param_convertors.keys() - {"path"} <= path_params.keys():
            # Every prefix parameter must be given: Starlette leaves "{ver}" in
            # the URL when one is missing.
            child_name = name if self.name is None else name[len(self.name) + 1 :]
            params = dict(path_params)
            path_kwarg = params.get("path")
            params["path"] = ""
            prefix, remaining = replace_params(self.path_format, self.param_convertors, params)
            if path_kwarg is not None:
                remaining["path"] = path_kwarg
            for route in self.routes:
                url = _child_url_path_for(route, child_name, remaining)
                if url is None:
                    continue
                return URLPath(prefix.rstrip("/") + str(url), protocol=url.protocol)
        raise NoMatchFound(name, path_params, self.reverse_names())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the mounted app (with this mount's body limit, if any)."""
        if self.max_body_size is not None and scope["type"] == "http":
            await limit_request_body(self.max_body_size, self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """The mount's own name (with `path`) and its children's, qualified."""
        own = frozenset(self.param_convertors)
        if self.name is not None:
            yield self.name, own
        for route in self.routes:
            for child, params in _child_reverse_names(route):
                full = child if self.name is None else f"{self.name}:{child}"
                yield full, params | (own - {"path"})

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """The children with this prefix, or one row for a mounted app without routes."""
        routes = self.routes
        if not routes:
            yield RouteInfo(
                prefix + self.path + "/{path:path}",
                None,
                self.name,
                "mount",
                self._unwrapped_app(),
                host,
            )
            return
        for route in routes:
            for info in _child_describe(route, prefix + self.path, host):
                name = info.name
                if self.name is not None and name is not None:
                    name = f"{self.name}:{name}"
                yield RouteInfo(info.path, info.methods, name, info.kind, info.endpoint, info.host)

    def __eq__(self, other: object) -> bool:
        # Starlette's value equality (path and mounted app); the app is
        # compared outside any `middleware=`, whose instances never compare equal.
        if not isinstance(other, Mount):
            return NotImplemented
        return self.path == other.path and self._unwrapped_app() == other._unwrapped_app()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Starlette's text: an unnamed mount shows `name=''`.
        app = self._unwrapped_app()
        return f"{type(self).__name__}(path={self.path!r}, name={self.name or ''!r}, app={app!r})"


def _host_name(scope: Scope) -> str | None:
    """The Host header's host, lower-cased and without its port; None if invalid.

    The one validator (`flagstone_contract.http.split_host`) also decides
    which Host headers `Request.url` trusts, so a header that builds a URL
    is exactly a header that can match a `Host` route.  Anything else
    (spaces, "/", "@", a port > 65535) never matches: such headers were used
    to make URLs built from Host disagree with the path routed
    (CVE-2026-48710).
    """
    for key, value in scope.get("headers", ()):
        if key == b"host":
            valid = split_host(value.decode("latin-1"))
            return None if valid is None else valid.host.lower()
    return None


class Host(BaseRoute):
    """Route by the `Host` header: `Host("{sub}.example.org", app=..., name=...)`.

    The header is lower-cased and its port ignored; malformed hosts never match.
    """

    def __init__(
        self,
        host: str,
        app: ASGIApp,
        name: str | None = None,
        *,
        convertors: Mapping[str, Convertor[Any]] | None = None,
    ) -> None:
        if host.startswith("/"):
            raise definition_error("Host must not start with '/'", f"got {host!r}")
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host, convertors)

    name: str | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        """The app's routes (empty for an app without `routes`)."""
        return _child_routes(self.app)

    @property
    def lifespan_app(self) -> Any:
        """The app that receives lifespan events."""
        return self.app

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Pass the adapter down to an inner flagstone Router that has none of its own."""
        if adapter is not None and _is_flagstone_router(self.app):
            self.app.inherit_adapter(adapter)  # type: ignore[attr-defined]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL when the Host header matches the pattern, else NONE."""
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        host = _host_name(scope)
        if host is None:
            return Match.NONE, {}
        found = self.host_regex.match(host)
        if found is None:
            return Match.NONE, {}
        params = convert_params(found, self.param_convertors)
        if params is None:
            return Match.NONE, {}
        outer = scope.get("path_params")
        return Match.FULL, {
            "path_params": {**outer, **params} if outer else params,
            "endpoint": self.app,
            "route": self,
        }

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """Host matching ignores the path."""
        return self.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """`name` with `path=` for the host itself, or `"host:child"` for its routes."""
        if self.name is not None and name == self.name and "path" in path_params:
            params = dict(path_params)
            path = str(params.pop("path"))
            host, remaining = replace_params(self.host_format, self.param_convertors, params)
            if not remaining:
                return URLPath(path, host=host)
        elif (
            self.name is None or name.startswith(self.name + ":")
        ) and self.param_convertors.keys() <= path_params.keys():
            child_name = name if self.name is None else name[len(self.name) + 1 :]
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            for route in self.routes:
                url = _child_url_path_for(route, child_name, remaining)
                if url is None:
                    continue
                return URLPath(str(url), protocol=url.protocol, host=host)
        raise NoMatchFound(name, path_params, self.reverse_names())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the app."""
        await self.app(scope, receive, send)

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """The host's own name (with `path`) and its children's, qualified."""
        own = frozenset(self.param_convertors)
        if self.name is not None:
            yield self.name, own | {"path"}
        for route in self.routes:
            for child, params in _child_reverse_names(route):
                full = child if self.name is None else f"{self.name}:{child}"
                yield full, params | own

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """The children under this host, or one row for an app without routes."""
        routes = self.routes
        if not routes:
            yield RouteInfo(prefix + "/{path:path}", None, self.name, "mount", self.app, self.host)
            return
        for route in routes:
            for info in _child_describe(route, prefix, self.host):
                name = info.name
                if self.name is not None and name is not None:
                    name = f"{self.name}:{name}"
                yield RouteInfo(info.path, info.methods, name, info.kind, info.endpoint, info.host)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host):
            return NotImplemented
        return self.host == other.host and self.app == other.app

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = self.name or ""  # Starlette's text: an unnamed host shows `name=''`
        return f"{type(self).__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"


def _is_flagstone_router(app: Any) -> bool:
    from ._router import Router

    return isinstance(app, Router)
