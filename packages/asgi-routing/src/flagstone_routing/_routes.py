"""Routes: `Route`, `WebSocketRoute`, their base class, and what all routes share.

Each route decides for itself whether a scope matches (`matches`, exactly
Starlette's semantics: FULL, PARTIAL for a method mismatch, or NONE) and how
it reverses (`url_path_for`).  The router never second-guesses a route: its
index only skips routes that cannot match (see `_matcher.py`), then asks the
remaining candidates in declaration order.
"""

from __future__ import annotations

import enum
import functools
import re
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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

from ._adapters import EndpointAdapter, HandlerAdapter, default_adapter, is_function_endpoint
from ._compile import (
    PARAM_RE,
    Segment,
    compile_path,
    definition_error,
    get_route_path,
    regex_is_template,
    segment_shape,
)
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


def check_middleware_list(middleware: object) -> None:
    """Refuse one `Middleware` where a list of them belongs (it would be iterated as one)."""
    if isinstance(middleware, Middleware):
        raise TypeError(
            f"middleware must be a list of Middleware, not one: write middleware=[{middleware!r}]"
        )


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
    """The default route name: the endpoint's `__name__`, or its class name (Starlette's rule)."""
    return str(getattr(endpoint, "__name__", None) or type(endpoint).__name__)


def replace_params(
    path_format: str, convertors: Mapping[str, Convertor[Any]], params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill `{name}` placeholders of `path_format` in one pass; return the path and unused params.

    Each value goes through its convertor's `to_string`.  One pass, so a
    value that itself looks like `{other}` is kept verbatim.  A framework
    reversing its own templates uses it as Starlette's `replace_params`.
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

    Routers that index a route watch it: assigning any public attribute
    (`route.path_regex = ...`, `route.app = ...`) makes them re-index on
    their next request, so nothing is read per request that a change
    could leave stale.
    """

    # Which scope types the route can match; the router indexes by type.
    scope_types: tuple[str, ...] = ("http", "websocket")

    # Routers to tell when a public attribute changes (weakly: a route may
    # outlive, or be shared by, routers).
    _watchers: list[weakref.ref[Any]]

    # Caches derived from public attributes: {public attribute: caches to drop}.
    _DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name.startswith("_"):
            return
        state = self.__dict__
        for cache in self._DERIVED.get(name, ()):
            state.pop(cache, None)
        watchers = state.get("_watchers")
        if watchers:
            for ref in watchers:
                router = ref()
                if router is not None:
                    router._invalidate()

    def watched_by(self, router: Any) -> None:
        """Tell `router` (by calling its `_invalidate()`) whenever a public attribute changes."""
        watchers: list[weakref.ref[Any]] | None = self.__dict__.get("_watchers")
        if watchers is None:
            watchers = []
            self._watchers = watchers
        # Compared by identity, since routers compare by value.
        if not any(ref() is router for ref in watchers):
            watchers[:] = [ref for ref in watchers if ref() is not None]
            watchers.append(weakref.ref(router))

    def __getstate__(self) -> dict[str, Any]:
        # A copy (`copy.copy(route)`, as frameworks do to re-prefix a route)
        # is a new route: the routers watching the original do not hold it.
        state = dict(self.__dict__)
        state.pop("_watchers", None)
        return state

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

    def path_matcher(self) -> Callable[[Scope, str], tuple[Match, Scope]]:
        """What the router calls per request: `match_path`, unless a subclass overrode `matches`.

        A subclass that overrides `matches` (to add to the child scope, as
        frameworks do) but not `match_path` must have its `matches` called.
        """
        cls = type(self)
        if _defining_class(cls, "match_path") is _defining_class(cls, "matches"):
            return self.match_path
        matches = self.matches
        return lambda scope, route_path: matches(scope)

    def full_match_handler(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """What the router calls per request on a FULL match: `handle`, unless cheaper is equal.

        Resolved once per router index (any public attribute assignment
        drops the index), so a route whose `handle` is the base class's may
        hand back the work `handle` would do without re-deciding it per
        request.  A subclass overriding `handle` always gets its `handle`.
        """
        return self.handle

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Receive the dispatching router's endpoint adapter (first binding wins)."""

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """`(name, params)` pairs `url_path_for` accepts, for `NoMatchFound` messages."""
        return iter(())

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """Introspection rows for this route, under a mount `prefix`."""
        name = getattr(self, "name", None)
        yield RouteInfo(prefix + str(getattr(self, "path", "")), None, name, "route", self, host)


def _base_handle(route: BaseRoute, base: type) -> bool:
    """Whether `route.handle` is `base.handle`: not overridden, on its class or the instance."""
    return getattr(route.handle, "__func__", None) is base.__dict__["handle"]


def _defining_class(cls: type, attribute: str) -> type:
    for klass in cls.__mro__:
        if attribute in vars(klass):
            return klass
    return object  # pragma: no cover - BaseRoute defines both


class _EndpointRoute(BaseRoute):
    """What Route and WebSocketRoute share: a path template and an adapted endpoint.

    The subclassing contract (docs/building-a-framework.md): every method
    works from the public attributes `path`, `endpoint`, `name`,
    `path_regex`, `path_format`, `param_convertors` (and `app`, derived
    from `endpoint` when not set), whether or not `__init__` ran.  What is
    derived from them is computed on first use and dropped when the
    attribute is assigned again.
    """

    path: str
    name: str | None = None
    endpoint: Callable[..., Any]
    path_regex: re.Pattern[str]
    path_format: str
    param_convertors: dict[str, Convertor[Any]]

    # The endpoint given to `__init__` and the route middleware: what `app`
    # is derived from.  Starlette derives `app` once, in `__init__`, so a
    # subclass that passes a wrapper and then sets `self.endpoint` to the
    # original function (for docs) keeps serving through the wrapper.
    _handler: Callable[..., Any] | None = None
    _middleware: Sequence[Middleware] | None = None

    # What the hot path reads: plain attributes with class-level defaults, so
    # an instance lookup stays the interpreter's fastest kind (a descriptor or
    # a `__getattr__` on the class would slow every attribute read).  `_app`
    # mirrors the public `app`; `_matcher` is built on first use and dropped
    # when an attribute it captured is assigned.
    _app: ASGIApp | None = None
    _matcher: Callable[[Scope, str], tuple[Match, Scope]] | None = None

    # `_matcher` closes over these (see `_build_matcher`); `methods` is read
    # per request instead, so a set mutated in place is seen.
    _DERIVED: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "param_convertors": ("_matcher",),
        "path_regex": ("_matcher",),
        "endpoint": ("_matcher",),
    }
    # Whether a path match is only PARTIAL when the method is not in `methods`.
    _checks_methods: ClassVar[bool] = False

    @property
    def app(self) -> ASGIApp:
        """The ASGI app `handle` calls: set it, or it is derived from `endpoint` on first use."""
        app = self._app
        if app is None:
            self.bind_adapter(None)
            app = self._app
            assert app is not None
        return app

    @app.setter
    def app(self, app: ASGIApp) -> None:
        self._app = app

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
        if not path.startswith("/"):
            raise definition_error("Routed paths must start with '/'", f"got {path!r}")
        check_middleware_list(middleware)
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self._handler = endpoint
        self._middleware = middleware
        self.path_regex, self.path_format, self.param_convertors = compile_path(path, convertors)
        if not is_function_endpoint(endpoint):
            self.app = wrap_middleware(endpoint, middleware)
        elif adapter is not None:
            self.app = wrap_middleware(adapter(endpoint), middleware)

    def _has_app(self) -> bool:
        # Set (or bound) already, or provided by a subclass's own `app`.
        return self._app is not None or type(self).app is not _EndpointRoute.__dict__["app"]

    def _bind(self, adapter: HandlerAdapter | None, what: str) -> None:
        if self._has_app():
            return
        handler = self._handler if self._handler is not None else self.endpoint
        if is_function_endpoint(handler):
            if adapter is None:
                chosen = default_adapter(f"{what}({self.path!r}, {self.name})")
                adapter = chosen.http if what == "Route" else chosen.websocket
            handler = adapter(handler)
        self.app = wrap_middleware(handler, self._middleware)

    def index_shape(self) -> list[Segment] | None:
        """The segment shape of the path template, when `path_regex` is the template's own."""
        if not regex_is_template(self.path_regex, self.path, self.param_convertors):
            return None
        return segment_shape(self.path, self.param_convertors)

    def reverse_names(self) -> Iterator[tuple[str, frozenset[str]]]:
        """This route's name and its parameter names."""
        if self.name is not None:
            yield self.name, frozenset(self.param_convertors)

    def match_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """`matches` with the route path already computed (the router's fast path)."""
        matcher = self._matcher
        if matcher is None:
            matcher = self._matcher = self._build_matcher()
        return matcher(scope, route_path)

    def path_matcher(self) -> Callable[[Scope, str], tuple[Match, Scope]]:
        """The matching closure itself when neither `matches` nor `match_path` is overridden."""
        cls = type(self)
        base = _EndpointRoute.__dict__["match_path"]
        if cls.match_path is base and _defining_class(cls, "matches") in _BASE_ROUTES:
            matcher = self._matcher
            if matcher is None:
                matcher = self._matcher = self._build_matcher()
            return matcher
        return super().path_matcher()

    def _build_matcher(self) -> Callable[[Scope, str], tuple[Match, Scope]]:
        # One closure per route, rebuilt when `path_regex`, `param_convertors`
        # or `endpoint` is assigned (`_DERIVED`): what it captures is what
        # those attributes held, and the router calls it with no method
        # lookups or frames in between.
        fullmatch = self.path_regex.fullmatch
        converting = _converting(self.param_convertors)
        endpoint = self.endpoint
        route: Any = self  # a Route when `checks_methods` (it has `methods`)
        checks_methods = self._checks_methods

        def match(scope: Scope, route_path: str) -> tuple[Match, Scope]:
            found = fullmatch(route_path)
            if found is None:
                return _NO_MATCH
            if converting:
                params = convert_params(found, converting)
                if params is None:
                    return _NO_MATCH
            else:
                params = found.groupdict()
            outer = scope.get("path_params")
            child = {
                "endpoint": endpoint,
                "route": route,
                "path_params": {**outer, **params} if outer else params,
            }
            if checks_methods:
                methods = route.methods
                if methods is not None and scope["method"] not in methods:
                    return _PARTIAL, child
            return _FULL, child

        return match

    def _ready_app(self) -> ASGIApp | None:
        """`app` when it can be called without reading the attribute per request.

        None when not bound yet, or when a subclass defines its own `app`
        (a property may compute it per access, so it is read per request).
        """
        if type(self).app is not _EndpointRoute.__dict__["app"]:
            return None
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

    Subclassing: see `_EndpointRoute`; a subclass that skips `__init__`
    also sets `methods` (a set of upper-case verbs, or None for any) and
    may set `include_in_schema` and `max_body_size` (defaults True, None).
    """

    scope_types = ("http",)
    # A class-level default, so a subclass that sets the limit as a class
    # attribute (or skips __init__) is honoured by `handle`.
    max_body_size: int | None = None

    methods: set[str] | None = None
    include_in_schema: bool = True
    _checks_methods = True

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
        if isinstance(methods, str):
            # A string is a sequence of one-letter "methods": Starlette takes
            # methods="POST" as {"P", "O", "S", "T"} and answers every request 405.
            raise TypeError(
                f"methods must be a list of HTTP methods, not the string {methods!r}: "
                f"write methods=[{methods!r}]"
            )
        if methods is None and is_function_endpoint(endpoint):
            methods = ["GET"]
        self.methods = None
        if methods is not None:
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")
        self._setup(path, endpoint, name, middleware, adapter, convertors)

    def bind_adapter(self, adapter: EndpointAdapter | None) -> None:
        """Adapt a function endpoint with the router's adapter, unless `app` is already set."""
        self._bind(adapter.http if adapter is not None else None, "Route")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL on path and method, PARTIAL on path only, else NONE (HTTP scopes only)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        return self.match_path(scope, get_route_path(scope))

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of this route when `name` and the parameter names match exactly."""
        return self._reverse(name, path_params, "http")

    def full_match_handler(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """`app` itself (under `max_body_size`, decided now) when `handle` is the base one.

        A FULL match from the base matching already checked the method, so
        all `handle` would add per request is re-reading the limit.
        """
        app = self._ready_app()
        cls = type(self)
        if (
            app is None
            or not _base_handle(self, Route)
            or _defining_class(cls, "matches") is not Route
            or cls.match_path is not _EndpointRoute.__dict__["match_path"]
        ):
            return self.handle
        limit = self.max_body_size
        if limit is None:
            return app
        return functools.partial(limit_request_body, limit, app)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 405 (with `Allow`) on a method mismatch, else call `app`."""
        methods = self.methods
        if methods is not None and scope["method"] not in methods:
            await method_not_allowed(scope, send, allow_header(methods))
            return
        app = self._app or self.app
        if self.max_body_size is not None:
            await limit_request_body(self.max_body_size, app, scope, receive, send)
        else:
            await app(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """One row: the full path, methods in canonical order, name."""
        methods = self._ordered_methods()
        yield RouteInfo(prefix + self.path, methods, self.name, "http", self.endpoint, host)

    def _ordered_methods(self) -> tuple[str, ...] | None:
        if self.methods is None:
            return None
        return tuple(allow_header(self.methods).split(", "))

    def __eq__(self, other: object) -> bool:
        # Starlette's value equality: `app.routes == [Route("/", home)]`.
        if not isinstance(other, Route):
            return NotImplemented
        return (
            self.path == other.path
            and self.endpoint == other.endpoint
            and self.methods == other.methods
        )

    # Equal routes must hash alike, and every attribute compared is mutable:
    # routes are unhashable, as in Starlette.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Starlette's text: the methods sorted, `[]` for a route taking any
        # (an endpoint class).
        methods = sorted(self.methods or [])
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(_EndpointRoute):
    """A websocket route; a function endpoint is adapted by the websocket adapter.

    Subclassing: see `_EndpointRoute` (the same public attributes as `Route`
    except `methods`).
    """

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
        """Adapt a function endpoint with the router's adapter, unless `app` is already set."""
        self._bind(adapter.websocket if adapter is not None else None, "WebSocketRoute")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL or NONE, for websocket scopes only."""
        if scope["type"] != "websocket":
            return Match.NONE, {}
        return self.match_path(scope, get_route_path(scope))

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of this route (protocol "websocket") when name and params match."""
        return self._reverse(name, path_params, "websocket")

    def full_match_handler(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """`app` itself when `handle` is the base one (all it does is call `app`)."""
        app = self._ready_app()
        if app is None or not _base_handle(self, WebSocketRoute):
            return self.handle
        return app

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call `app`."""
        await (self._app or self.app)(scope, receive, send)

    def describe(self, prefix: str = "", host: str | None = None) -> Iterator[RouteInfo]:
        """One row: the full path and name."""
        yield RouteInfo(prefix + self.path, None, self.name, "websocket", self.endpoint, host)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WebSocketRoute):
            return NotImplemented
        return self.path == other.path and self.endpoint == other.endpoint

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r})"


# The classes whose `matches` is the base one (it calls `match_path`).
_BASE_ROUTES = (Route, WebSocketRoute)
