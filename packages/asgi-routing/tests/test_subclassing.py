"""The subclassing contract: routes and routers work from their public attributes.

Frameworks subclass `Route`, `WebSocketRoute` and `Router` in three shapes,
each tested here: a subclass that never calls `__init__` and sets the public
attributes itself, one that calls `super().__init__`, and attributes
changed after construction (after the router has indexed the route).  Each
route table is larger than the index's small-table shortcut, so the segment
index itself is exercised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from routing_helpers import asgi, call, call_websocket, make_scope, read_body, text_app

from flagstone_contract import ASGIApp, Receive, Scope, Send
from flagstone_routing import (
    BaseRoute,
    EndpointAdapter,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
)

pytestmark = pytest.mark.anyio


def filler(count: int = 6) -> list[BaseRoute]:
    """Routes that never match the paths under test, so the trie index is in use."""
    return [Route(f"/filler{i}/{{x:int}}", text_app(f"filler {i}")) for i in range(count)]


def text_adapter(prefix: str) -> Callable[[Callable[..., Any]], ASGIApp]:
    """A framework's own endpoint adapter: `func(path_params) -> str`."""

    def adapt(func: Callable[..., Any]) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await text_app(prefix + func(scope["path_params"]))(scope, receive, send)

        return app

    return adapt


class BareRoute(Route):
    """Sets the public attributes itself and never calls `Route.__init__` (FastAPI's shape)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: set[str]) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = endpoint.__name__
        self.methods = methods
        self.include_in_schema = False
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.app = text_app(f"bare {path}")


class BareRouteWithoutApp(Route):
    """Like `BareRoute`, but leaves `app` to be derived from `endpoint`."""

    def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
        self.path = path
        self.endpoint = endpoint
        self.methods = {"GET", "HEAD"}
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)


def user(params: dict[str, Any]) -> str:
    return f"user {params['id']!r}"


# --- a subclass that never calls __init__ --------------------------------------------


async def test_bare_subclass_matches_handles_and_reverses_through_the_index() -> None:
    route = BareRoute("/users/{id:int}", user, methods={"GET", "HEAD"})
    router = Router([*filler(), route])
    assert (await call(router, "/users/7")).text == "bare /users/{id:int}"
    assert router.url_path_for("user", id=7) == "/users/7"
    assert route.include_in_schema is False
    assert route.max_body_size is None  # a class default the subclass need not set


async def test_bare_subclass_answers_405_with_its_methods() -> None:
    router = Router([*filler(), BareRoute("/users/{id:int}", user, methods={"GET", "HEAD"})])
    response = await call(router, "/users/7", "DELETE")
    assert response.status == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_bare_subclass_works_as_a_standalone_app() -> None:
    route = BareRoute("/users/{id:int}", user, methods={"GET"})
    assert route.matches(make_scope("/users/7"))[0] is Match.FULL
    assert (await call(route, "/users/7")).text == "bare /users/{id:int}"
    assert (await call(route, "/nope")).status == 404


async def test_bare_subclass_without_app_adapts_its_endpoint_with_the_routers_adapter() -> None:
    adapter = EndpointAdapter(http=text_adapter("adapted "), websocket=text_adapter(""))
    router = Router([*filler(), BareRouteWithoutApp("/u/{id:int}", user)], endpoint_adapter=adapter)
    assert (await call(router, "/u/3")).text == "adapted user 3"


async def test_bare_subclass_without_app_and_an_asgi_endpoint_calls_the_endpoint() -> None:
    router = Router([*filler(), BareRouteWithoutApp("/raw", text_app("raw endpoint"))])
    assert (await call(router, "/raw")).text == "raw endpoint"


async def test_bare_websocket_route_subclass() -> None:
    @asgi
    async def accept(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    class BareWebSocketRoute(WebSocketRoute):
        def __init__(self, path: str, endpoint: ASGIApp) -> None:
            self.path = path
            self.endpoint = endpoint
            self.name = "ws"
            self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    route = BareWebSocketRoute("/ws/{room}", accept)
    router = Router([*filler(), route])
    sent = await call_websocket(router, "/ws/lobby")
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert router.url_path_for("ws", room="lobby") == "/ws/lobby"


# --- a subclass that calls super().__init__ ------------------------------------------


async def test_subclass_overriding_matches_is_asked_and_still_indexed() -> None:
    class TaggingRoute(Route):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            match, child = super().matches(scope)
            if match is not Match.NONE:
                child["tag"] = "seen by TaggingRoute.matches"
            return match, child

    @asgi
    async def show_tag(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(scope["tag"])(scope, receive, send)

    router = Router([*filler(), TaggingRoute("/tagged/{id:int}", show_tag, methods=["GET"])])
    assert (await call(router, "/tagged/1")).text == "seen by TaggingRoute.matches"
    assert (await call(router, "/tagged/1", "POST")).status == 405


async def test_subclass_passing_a_wrapper_then_exposing_the_original_endpoint() -> None:
    # A framework hands __init__ its wrapper, then sets `endpoint` back to the
    # user's function for documentation: the wrapper keeps serving.
    def original(params: dict[str, Any]) -> str:
        return "original"

    def wrapper(params: dict[str, Any]) -> str:
        return "wrapper"

    class WrappingRoute(Route):
        def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
            super().__init__(path, wrapper)
            self.endpoint = endpoint

    adapter = EndpointAdapter(http=text_adapter(""), websocket=text_adapter(""))
    route = WrappingRoute("/w", original)
    router = Router([*filler(), route], endpoint_adapter=adapter)
    assert (await call(router, "/w")).text == "wrapper"
    assert route.endpoint is original


async def test_subclass_overriding_handle_decides_its_own_405() -> None:
    class OwnMethodNotAllowed(Route):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            if self.methods and scope["method"] not in self.methods:
                await text_app("custom 405", 405)(scope, receive, send)
                return
            await super().handle(scope, receive, send)

    router = Router([*filler(), OwnMethodNotAllowed("/x", text_app("x"), methods=["GET"])])
    assert (await call(router, "/x")).text == "x"
    assert (await call(router, "/x", "POST")).text == "custom 405"


# --- attributes changed after construction (and after indexing) ----------------------


async def test_setting_app_after_the_router_indexed_the_route() -> None:
    route = Route("/a", text_app("before"))
    router = Router([*filler(), route])
    assert (await call(router, "/a")).text == "before"
    route.app = text_app("after")
    assert (await call(router, "/a")).text == "after"


async def test_setting_app_on_a_function_route_replaces_the_adapted_endpoint() -> None:
    adapter = EndpointAdapter(http=text_adapter("adapted "), websocket=text_adapter(""))
    route = Route("/u/{id:int}", user)
    router = Router([*filler(), route], endpoint_adapter=adapter)
    assert (await call(router, "/u/1")).text == "adapted user 1"
    route.app = text_app("framework app")
    assert (await call(router, "/u/1")).text == "framework app"


async def test_replacing_path_regex_with_a_hand_written_one_reindexes() -> None:
    route = Route("/old", text_app("moved"))
    router = Router([*filler(), route])
    assert (await call(router, "/old")).text == "moved"
    # A regex that is not the template's own: the route is asked on every request.
    route.path_regex = re.compile(r"^/(new|newer)$")
    assert (await call(router, "/newer")).text == "moved"
    assert (await call(router, "/old")).status == 404


async def test_replacing_path_and_compiled_parts_together_keeps_the_index() -> None:
    route = Route("/old/{id:int}", text_app("renamed"), name="r")
    router = Router([*filler(), route])
    route.path = "/new/{slug}"
    route.path_regex, route.path_format, route.param_convertors = compile_path(route.path)
    assert (await call(router, "/new/abc")).text == "renamed"
    assert (await call(router, "/old/1")).status == 404
    assert router.url_path_for("r", slug="abc") == "/new/abc"


async def test_replacing_param_convertors_changes_conversion() -> None:
    @asgi
    async def show(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(repr(scope["path_params"]["id"]))(scope, receive, send)

    route = Route("/n/{id:int}", show)
    router = Router([*filler(), route])
    assert (await call(router, "/n/5")).text == "5"
    _, _, route.param_convertors = compile_path("/n/{id:str}")
    assert (await call(router, "/n/5")).text == "'5'"


async def test_changing_methods_after_construction() -> None:
    route = Route("/m", text_app("m"), methods=["GET"])
    router = Router([*filler(), Route("/m", text_app("put"), methods=["PUT"]), route])
    route.methods = {"POST"}
    assert (await call(router, "/m", "POST")).text == "m"
    response = await call(router, "/m", "GET")
    assert response.status == 405
    assert response.headers["allow"] == "POST, PUT"


async def test_a_route_shared_by_two_routers_reindexes_both() -> None:
    route = Route("/shared", text_app("shared"))
    first, second = Router([*filler(), route]), Router([route, *filler()])
    assert (await call(first, "/shared")).text == (await call(second, "/shared")).text
    route.path_regex = re.compile("^/elsewhere$")
    assert (await call(first, "/elsewhere")).text == "shared"
    assert (await call(second, "/elsewhere")).text == "shared"


async def test_setting_a_mounts_app_moves_its_routes_and_lifespan_app() -> None:
    mount = Mount("/m", routes=[Route("/a", text_app("a"), name="a")], name="m")
    router = Router([*filler(), mount])
    replacement = Router([Route("/b", text_app("b"), name="b")])
    mount.app = replacement
    assert (await call(router, "/m/b")).text == "b"
    assert mount.routes is replacement.routes
    assert mount.lifespan_app is replacement
    assert router.url_path_for("m:b") == "/m/b"
    with pytest.raises(NoMatchFound):
        router.url_path_for("m:a")


# --- Router: every request goes through the overridable `app` ------------------------


class CountingRouter(Router):
    """A framework router that adds behaviour by overriding `app`."""

    seen: list[str]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope["path"])
        await super().app(scope, receive, send)


@pytest.mark.parametrize("with_middleware", [False, True], ids=["bare", "middleware"])
async def test_router_subclass_overriding_app_sees_every_request(with_middleware: bool) -> None:
    from flagstone_contract import Middleware

    class Passthrough:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)

    middleware = [Middleware(Passthrough)] if with_middleware else None
    router = CountingRouter([*filler(), Route("/a", text_app("a"))], middleware=middleware)
    router.seen = []
    assert (await call(router, "/a")).text == "a"
    assert (await call(router, "/missing")).status == 404
    assert router.seen == ["/a", "/missing"]


async def test_router_subclass_without_init_sets_routes_only() -> None:
    class BareRouter(Router):
        def __init__(self, routes: list[BaseRoute]) -> None:
            self.routes = routes

    router = BareRouter([*filler(), Route("/a", text_app("a"), name="a")])
    assert (await call(router, "/a")).text == "a"
    assert (await call(router, "/a/")).status == 307  # redirect_slashes defaults on
    assert (await call(router, "/zzz")).status == 404
    assert router.url_path_for("a") == "/a"
    router.routes.append(Route("/b", text_app("b")))
    assert (await call(router, "/b")).text == "b"


async def test_router_attributes_changed_after_construction() -> None:
    router = Router([*filler(), Route("/a", text_app("a"))])
    assert (await call(router, "/a/")).status == 307
    router.redirect_slashes = False
    assert (await call(router, "/a/")).status == 404
    router.default = text_app("custom default", 404)
    assert (await call(router, "/zzz")).text == "custom default"
    router.routes = [Route("/c", text_app("c"))]
    assert (await call(router, "/c")).text == "c"


async def test_a_copied_route_changed_after_copying_leaves_the_original_alone() -> None:
    import copy

    original = Route("/items", text_app("items"))
    router = Router([*filler(), original])
    assert (await call(router, "/items")).text == "items"
    moved = copy.copy(original)
    moved.path = "/v2/items"
    moved.path_regex, moved.path_format, moved.param_convertors = compile_path(moved.path)
    router.routes.append(moved)
    assert (await call(router, "/items")).text == "items"
    assert (await call(router, "/v2/items")).text == "items"
    assert original.path == "/items"


@pytest.mark.parametrize("skip_init", [False, True], ids=["super-init", "no-init"])
async def test_router_subclass_overriding_not_found_answers_misses(skip_init: bool) -> None:
    class OwnNotFound(Router):
        def __init__(self, routes: list[BaseRoute]) -> None:
            if skip_init:
                self.routes = routes
            else:
                super().__init__(routes)

        async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
            await text_app("custom miss", 404)(scope, receive, send)

    router = OwnNotFound([*filler(), Route("/a", text_app("a"))])
    assert (await call(router, "/nothing/here")).text == "custom miss"


# --- what the router resolves once per index (the dispatch fast path) -----------------


async def test_setting_max_body_size_after_the_router_indexed_the_route() -> None:
    route = Route("/up", read_body, methods=["POST"])
    router = Router([*filler(), route])
    assert (await call(router, "/up", "POST", body=b"x" * 50)).text == "50"
    route.max_body_size = 10
    assert (await call(router, "/up", "POST", body=b"x" * 50)).status == 413
    route.max_body_size = None
    assert (await call(router, "/up", "POST", body=b"x" * 50)).text == "50"


async def test_class_level_max_body_size_of_a_subclass_is_honoured() -> None:
    class SmallBodies(Route):
        max_body_size = 4

    router = Router([*filler(), SmallBodies("/up", read_body, methods=["POST"])])
    response = await call(router, "/up", "POST", body=b"x" * 5)
    assert response.status == 413


async def test_subclass_matches_answering_full_for_any_method_still_gets_the_base_405() -> None:
    # The router skips `handle` only when the base matching checked the
    # method; an overridden `matches` may not have, so `handle` decides.
    class LenientRoute(Route):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            match, child = super().matches(scope)
            return (Match.FULL, child) if match is Match.PARTIAL else (match, child)

    router = Router([*filler(), LenientRoute("/x", text_app("x"), methods=["GET"])])
    assert (await call(router, "/x")).text == "x"
    response = await call(router, "/x", "POST")
    assert (response.status, response.headers["allow"]) == (405, "GET, HEAD")


async def test_subclass_app_property_is_read_per_request() -> None:
    served = iter(["first", "second"])

    class RotatingApp(Route):
        def __init__(self, path: str) -> None:
            self.path, self.endpoint = path, text_app("unused")
            self.path_regex, self.path_format, self.param_convertors = compile_path(path)

        @property  # type: ignore[override]
        def app(self) -> ASGIApp:
            return text_app(next(served))

    router = Router([*filler(), RotatingApp("/r")])
    assert (await call(router, "/r")).text == "first"
    assert (await call(router, "/r")).text == "second"


async def test_methods_mutated_in_place_are_seen_by_the_router() -> None:
    route = Route("/m", text_app("m"), methods=["GET"])
    router = Router([*filler(), route])
    assert (await call(router, "/m", "POST")).status == 405
    assert route.methods is not None
    route.methods.add("POST")
    assert (await call(router, "/m", "POST")).text == "m"


async def test_setting_endpoint_changes_the_scopes_endpoint() -> None:
    @asgi
    async def show_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(getattr(scope["endpoint"], "__name__", "?"))(scope, receive, send)

    def documented() -> None:
        """What introspection and scope["endpoint"] show."""

    route = Route("/e", show_endpoint)
    router = Router([*filler(), route])
    assert (await call(router, "/e")).text == "show_endpoint"
    route.endpoint = documented
    assert (await call(router, "/e")).text == "documented"


async def test_route_match_path_and_matches_agree_with_the_router() -> None:
    route = Route("/u/{id:int}", text_app("u"), methods=["GET"])
    scope = make_scope("/u/7", "POST", path_params={"outer": "x"})
    assert route.match_path(scope, "/u/7") == route.matches(scope)
    match, child = route.matches(scope)
    assert match is Match.PARTIAL
    assert child == {
        "endpoint": route.endpoint,
        "route": route,
        "path_params": {"outer": "x", "id": 7},
    }
    assert route.match_path(make_scope("/u/x"), "/u/x") == (Match.NONE, {})


async def test_handle_assigned_on_the_instance_is_called() -> None:
    route = Route("/h", text_app("app"))
    router = Router([*filler(), route])
    assert (await call(router, "/h")).text == "app"

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app("instance handle")(scope, receive, send)

    route.handle = handle  # type: ignore[method-assign]
    assert (await call(router, "/h")).text == "instance handle"
