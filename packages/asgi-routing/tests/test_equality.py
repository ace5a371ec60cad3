"""Value equality of routes and routers: `app.routes == [Route(...), ...]` assertions work."""

from __future__ import annotations

from typing import Any

import pytest
from routing_helpers import text_app

from flagstone_routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute

home = text_app("home")
other = text_app("other")


def build_table() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        WebSocketRoute("/ws", home),
        Mount("/api", routes=[Route("/users", home, methods=["GET", "POST"])]),
        Mount("/static", app=other),
        Host("api.example.org", app=other),
    ]


def test_a_route_table_equals_an_identical_one_built_again() -> None:
    assert build_table() == build_table()
    assert Router(build_table()) == Router(build_table())


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (Route("/", home), Route("/x", home)),
        (Route("/", home), Route("/", other)),
        (Route("/", home, methods=["GET"]), Route("/", home, methods=["POST"])),
        (WebSocketRoute("/ws", home), WebSocketRoute("/ws", other)),
        (Route("/ws", home), WebSocketRoute("/ws", home)),
        (Mount("/a", app=home), Mount("/b", app=home)),
        (Mount("/a", routes=[Route("/", home)]), Mount("/a", routes=[Route("/", other)])),
        (Host("a.example", app=home), Host("b.example", app=home)),
        (Router([Route("/", home)]), Router([Route("/", other)])),
    ],
    ids=[
        "route-path",
        "route-endpoint",
        "route-methods",
        "websocket-endpoint",
        "http-vs-websocket",
        "mount-path",
        "mount-routes",
        "host-pattern",
        "router-routes",
    ],
)
def test_routes_that_differ_are_not_equal(left: Any, right: Any) -> None:
    assert left != right


def test_get_implies_head_on_both_sides() -> None:
    assert Route("/", home, methods=["get"]) == Route("/", home, methods=["GET", "HEAD"])


def test_a_mount_compares_its_app_outside_its_middleware() -> None:
    from flagstone_contract import Middleware

    class Passthrough:
        def __init__(self, app: Any) -> None:
            self.app = app

    with_middleware = Mount("/a", app=home, middleware=[Middleware(Passthrough)])
    assert with_middleware == Mount("/a", app=home)


def test_comparing_with_something_else_is_false_not_an_error() -> None:
    assert Route("/", home) != "/"
    assert Router() != []


@pytest.mark.parametrize(
    "value",
    [
        Route("/", home),
        WebSocketRoute("/", home),
        Mount("/a", app=home),
        Host("h", app=home),
        Router(),
    ],
    ids=["route", "websocket-route", "mount", "host", "router"],
)
def test_equal_values_are_unhashable_as_in_starlette(value: Any) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(value)


def test_subclasses_compare_by_the_same_attributes() -> None:
    class MyRoute(Route):
        pass

    assert MyRoute("/", home) == Route("/", home)


class ClassEndpoint:
    """A class endpoint (an ASGI app per connection), as `HTTPEndpoint` is."""

    def __init__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope

    def __await__(self) -> Any:
        return iter(())


@pytest.mark.parametrize(
    ("route", "text"),
    [
        pytest.param(
            Route("/", ClassEndpoint),
            "Route(path='/', name='ClassEndpoint', methods=[])",
            id="class-endpoint-takes-any-method",
        ),
        pytest.param(
            Route("/", home, methods=["PUT", "DELETE"]),
            "Route(path='/', name='app', methods=['DELETE', 'PUT'])",
            id="methods-sorted",
        ),
        pytest.param(
            Mount("/api", routes=[]),
            "Mount(path='/api', name='', app=Router(routes=0))",
            id="unnamed-mount",
        ),
        pytest.param(
            Host("api.example.org", app=Router()),
            "Host(host='api.example.org', name='', app=Router(routes=0))",
            id="unnamed-host",
        ),
    ],
)
def test_repr_is_starlettes(route: Any, text: str) -> None:
    assert repr(route) == text
