"""Routes: `Route`, `WebSocketRoute`, their base class, and what all routes share.

Each route decides for itself whether a scope matches (`matches`, exactly
Starlette's semantics: FULL, PARTIAL for a method mismatch, or NONE) and how
it reverses (`url_path_for`).  The router never second-guesses a route: its
index only skips routes that cannot match (see `_matcher.py`), then asks the
remaining candidates in declaration order.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flagstone_contract import (
    ASGIApp,
    Middleware,
    Receive,
    Scope,
    Send,
    limit_request_body,
    wrap_middleware,
)

from ._adapters import EndpointAdapter, HandlerAdapter, default_adapter, is_function_endpoint
from ._compile import PARAM_RE, Segment, compile_path, get_route_path, segment_shape
from ._convertors import Convertor, PathConvertor, StringConvertor
from ._replies import method_not_allowed, not_found
from ._urls import NoMatchFound, URLPath

__all__ = [
    "BaseRoute",
    "Match",
    "Route",
    "RouteInfo",
    "WebSocketRoute",
    "allow_header",
    "convert_params",
    "replace_params",
]


class Match(enum.Enum):
    """How a route matches a scope: not at all, path only (wrong method), or fully."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


# Canonical verb order for `Allow`: a stable header whatever the hash seed
# (Starlette joins a set, so its order changes between processes).
_VERB_ORDER = {
    verb: i
    for i, verb in enumerate(
        ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY", "TRACE", "CONNECT")
    )
}


def allow_header(methods: set[str]) -> str:
    """The methods in canonical order (standard verbs first, then the rest alphabetically)."""
    return ", ".join(sorted(methods, key=lambda m: (_VERB_ORDER.get(m, len(_VERB_ORDER)), m)))


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One row of a router's introspection: what answers which full path.

    `path` includes every mount prefix; `name` is what `url_path_for` takes
    (`"mount:child"` through named mounts); `methods` is None for "any
    method" (raw ASGI endpoints, mounted apps); `kind` is `"http"`,
    `"websocket"`, `"mount"` (a mounted app without routes) or `"route"`
    (a custom route class); `host` is set under a `Host`.
    """

    path: str
    methods: tuple[str, ...] | None
    name: str | None
    kind: str
    endpoint: Any
    host: str | None = None


def get_name(endpoint: Any) -> str:
    """The default route name: the endpoint's `__name__`, or its class name."""
    return str(getattr(endpoint, "__name__", None) or type(endpoint).__name__)


def replace_params(
    path_format: str, convertors: Mapping[str, Convertor[Any]], params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill `{name}` placeholders in one pass; return the path and the unused params.

    One pass, so a value that itself looks like `{other}` is kept verbatim.
    """
    remaining = dict(params)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in convertors or name not in params:
            return match.group(0)
        remaining.pop(name, None)
        return convertors[name].to_string(params[name])

    return PARAM_RE.sub(substitute, path_format), remaining


_NO_MATCH: tuple[Match, Scope] = (Match.NONE, {})
_FULL = Match.FULL
_PARTIAL = Match.PARTIAL


def _converting(convertors: Mapping[str, Convertor[Any]]) -> dict[str, Convertor[Any]]:
    # str and path convertors return the text unchanged: skipping them saves
    # a call per parameter on every request.
    return {
        name: convertor
        for name, convertor in convertors.items()
        if type(convertor) not in (StringConvertor, PathConvertor)
    }


def convert_params(
    match: re.Match[str], convertors: Mapping[str, Convertor[Any]]
) -> dict[str, Any] | None:
    # A convertor that refuses the text (int() on 5,000 digits raises
    # ValueError past Python's digit limit) means "this route does not
    # match" - a 404, never a 500 a client can trigger at will.
    params = match.groupdict()
    if not convertors:
        return params
    try:
        for key, convertor in convertors.items():
            params[key] = convertor.convert(params[key])
    except (ValueError, OverflowError):
        return None
    return params


class BaseRoute:
    """Base class of everything a `Router` holds.

    Subclasses implement `matches(scope) -> (Match, child_scope)`,
    `url_path_for(name, /, **params)` and `handle(scope, receive, send)`.
    A route is also an ASGI app on its own: a scope it does not match gets
    a 404 (or a refused websocket).
    """

    # Which scope types the route can match; the router indexes by type.
    scope_types: tuple[str, ...] = ("http", "websocket")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Whether `scope` matches, and the scope updates a match implies."""
        raise NotImplementedError()  # pragma: no cover

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """Reverse `name` with exactly `path_params`, or raise `NoMatchFound`."""
        raise NotImplementedError()  # pragma: no cover

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a scope this route matched."""
        raise NotImplementedError()  # pragma: no cover

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Use the route as a standalone ASGI app."""
        match, child_scope = self.matches(scope)
        if match is Match.NONE:
            await not_found(scope, receive, send)
            return
        scope.update(child_scope)
        await self.handle(scope, receive, send)

    # --- hooks the Router uses; safe defaults for custom route classes ----------

    def index_shape(self) -> list[Segment] | None:
        """The path shape for the router's index; None means "try on every request"."""
        return None

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` given the path the router matches (custom routes read the scope)."""
        return self.matches(scope)

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Receive the dispatching router's endpoint adapter (first binding wins)."""

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """`(name, params)` pairs `url_path_for` accepts, for `NoMatchFound` messages."""
        return iter(())

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """Introspection rows for this route, under a mount `prefix`."""
        name = getattr(self, "name", None)
        yield RouteInfo(prefix + str(getattr(self, "path", "")), None, name, "route", self, host)


class _EndpointRoute(BaseRoute):
    """What Route and WebSocketRoute share: a path template and an adapted endpoint."""

    path: str
    name: str
    endpoint: Callable[..., Any]
    param_convertors: dict[str, Convertor[Any]]
    _app: ASGIApp | None

    def _setup(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None,
        middleware: Sequence[Middleware] | None,
        adapter: HandlerAdapter | None,
        convertors: Mapping[str, Convertor[Any]] | None,
    ) -> None:
        """Compile the path and wrap the endpoint: ASGI apps now, functions when adapted."""
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self._middleware = middleware
        self._compile(path, convertors)
        self._app = None
        if not is_function_endpoint(endpoint):
            self._app = wrap_middleware(endpoint, middleware)
        elif adapter is not None:
            self._adapt(adapter, middleware)

    def _compile(self, path: str, convertors: Mapping[str, Convertor[Any]] | None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"routed paths must start with '/', got {path!r}")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path, convertors)
        self._shape = segment_shape(path, self.param_convertors)
        self._converting = _converting(self.param_convertors)

    def index_shape(self) -> list[Segment] | None:
        """The segment shape of this route's path template."""
        return self._shape

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """This route's name and its parameter names."""
        yield self.name, frozenset(self.param_convertors)

    def _adapt(self, adapter: HandlerAdapter, middleware: Sequence[Middleware] | None) -> None:
        self._app = wrap_middleware(adapter(self.endpoint), middleware)

    def _child_scope(self, scope: Scope, route_path: str) -> Scope | None:
        """The scope changes of a path match (params merged with outer ones), else None."""
        found = self.path_regex.fullmatch(route_path)
        if found is None:
            return None
        params = convert_params(found, self._converting)
        if params is None:
            return None
        outer = scope.get("path_params")
        return {
            "endpoint": self.endpoint,
            "route": self,
            "path_params": {**outer, **params} if outer else params,
        }

    @property
    def app(self) -> ASGIApp:
        """The ASGI app the route calls (the adapted endpoint inside the route middleware)."""
        if self._app is None:
            self.bind_adapter(None)
        assert self._app is not None
        return self._app

    def _reverse(self, name: str, path_params: Mapping[str, Any], protocol: Any) -> URLPath:
        if name != self.name or set(path_params) != set(self.param_convertors):
            raise NoMatchFound(name, path_params, self.reverse_names())
        path, _ = replace_params(self.path_format, self.param_convertors, path_params)
        return URLPath(path, protocol=protocol)


class Route(_EndpointRoute):
    """An HTTP route: `Route("/users/{id:int}", endpoint, methods=["GET"], name=...)`.

    A plain function or bound method endpoint is a request handler adapted by
    the endpoint adapter (flagstone-requests by default) and defaults to
    `methods=["GET"]`; anything else (a class such as `HTTPEndpoint`, an
    ASGI app) is called as ASGI and accepts every method unless `methods`
    is given.  GET implies HEAD.  `middleware` wraps only this route's
    endpoint; `max_body_size` bounds the request body (innermost limit wins).
    """

    scope_types = ("http",)
    # A class-level default, so a subclass that sets the limit as a class
    # attribute (or skips __init__) is honoured by `handle`.
    max_body_size: int | None = None

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
        adapter: HandlerAdapter | None = None,
        convertors: Mapping[str, Convertor[Any]] | None = None,
    ) -> None:
        self.include_in_schema = include_in_schema
        if max_body_size is not None:  # else keep a subclass's class-level limit
            self.max_body_size = max_body_size
        if methods is None and is_function_endpoint(endpoint):
            methods = ["GET"]
        self.methods: set[str] | None = None
        if methods is not None:
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")
        self._allow = allow_header(self.methods) if self.methods is not None else ""
        self._setup(path, endpoint, name, middleware, adapter, convertors)

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Adapt a function endpoint with the router's adapter, unless already adapted."""
        if self._app is None:
            chosen = adapter or default_adapter(f"Route({self.path!r}, {self.name})")
            self._adapt(chosen.http, self._middleware)

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` with the route path already computed (the router's fast path)."""
        child = self._child_scope(scope, route_path)
        if child is None:
            return _NO_MATCH
        if self.methods is not None and scope["method"] not in self.methods:
            return _PARTIAL, child
        return _FULL, child

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL on path and method, PARTIAL on path only, else NONE (HTTP scopes only)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        return self.match_path(scope, get_route_path(scope))

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of this route when `name` and the parameter names match exactly."""
        return self._reverse(name, path_params, "http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 405 (with `Allow`) on a method mismatch, else call the endpoint."""
        if self.methods is not None and scope["method"] not in self.methods:
            await method_not_allowed(scope, send, self._allow)
            return
        app = self._app or self.app
        if self.max_body_size is not None:
            await limit_request_body(self.max_body_size, app, scope, receive, send)
        else:
            await app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """One row: the full path, methods in canonical order, name."""
        methods = tuple(self._allow.split(", ")) if self.methods is not None else None
        yield RouteInfo(prefix + self.path, methods, self.name, "http", self.endpoint, host)

    def __repr__(self) -> str:
        methods = self._allow.split(", ") if self.methods is not None else None
        return f"Route(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(_EndpointRoute):
    """A websocket route; a function endpoint is adapted by the websocket adapter."""

    scope_types = ("websocket",)

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] | None = None,
        adapter: HandlerAdapter | None = None,
        convertors: Mapping[str, Convertor[Any]] | None = None,
    ) -> None:
        self._setup(path, endpoint, name, middleware, adapter, convertors)

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Adapt a function endpoint with the router's adapter, unless already adapted."""
        if self._app is None:
            chosen = adapter or default_adapter(f"WebSocketRoute({self.path!r}, {self.name})")
            self._adapt(chosen.websocket, self._middleware)

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` with the route path already computed."""
        child = self._child_scope(scope, route_path)
        return _NO_MATCH if child is None else (_FULL, child)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL or NONE, for websocket scopes only."""
        if scope["type"] != "websocket":
            return Match.NONE, {}
        return self.match_path(scope, get_route_path(scope))

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of this route (protocol "websocket") when name and params match."""
        return self._reverse(name, path_params, "websocket")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the endpoint."""
        await (self._app or self.app)(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """One row: the full path and name."""
        yield RouteInfo(prefix + self.path, None, self.name, "websocket", self.endpoint, host)

    def __repr__(self) -> str:
        return f"WebSocketRoute(path={self.path!r}, name={self.name!r})"
