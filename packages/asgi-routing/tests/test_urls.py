"""Reversal: url_path_for through mounts and hosts, URLPath, NoMatchFound messages."""

from __future__ import annotations

import pytest
from routing_helpers import text_app

import flagstone_routing
from flagstone_routing import Host, Mount, Route, Router, URLPath, WebSocketRoute

E = text_app("x")

router = Router(
    [
        Route("/", E, name="home"),
        Route("/users/{user_id:int}", E, name="user_detail"),
        WebSocketRoute("/ws/{room}", E, name="chat"),
        Mount(
            "/api",
            name="api",
            routes=[
                Route("/items/{item}", E, name="item"),
                Mount("/v{ver:int}", name="v", routes=[Route("/ping", E, name="ping")]),
            ],
        ),
        Mount("/static", app=E, name="static"),
        Mount("/anon", routes=[Route("/inner", E, name="anon_inner")]),
        Host("{sub}.example.org", name="tenant", app=Router([Route("/dash", E, name="dash")])),
    ]
)


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("home", {}, "/"),
        ("user_detail", {"user_id": 5}, "/users/5"),
        ("chat", {"room": "lobby"}, "/ws/lobby"),
        ("api:item", {"item": "a"}, "/api/items/a"),
        ("api:v:ping", {"ver": 2}, "/api/v2/ping"),
        ("static", {"path": "/css/site.css"}, "/static/css/site.css"),
        ("anon_inner", {}, "/anon/inner"),
        ("tenant:dash", {"sub": "acme"}, "/dash"),
    ],
)
def test_url_path_for(name: str, params: dict[str, object], expected: str) -> None:
    assert router.url_path_for(name, **params) == expected


def test_protocol_and_host_are_carried() -> None:
    assert router.url_path_for("chat", room="r").protocol == "websocket"
    assert router.url_path_for("user_detail", user_id=1).protocol == "http"
    tenant = router.url_path_for("tenant:dash", sub="acme")
    assert tenant.host == "acme.example.org"
    assert tenant.make_absolute_url("https://example.org/") == "https://acme.example.org/dash"


PORTED_HOSTS = [
    ("api.example.org:3600", {}, "api.example.org:3600"),
    ("{sub}.example.org:3600", {"sub": "acme"}, "acme.example.org:3600"),
    ("[::1]:8000", {}, "[::1]:8000"),
    ("api.example.org", {}, "api.example.org"),
]


@pytest.mark.parametrize(("pattern", "params", "host"), PORTED_HOSTS)
def test_host_reversal_keeps_the_port(pattern: str, params: dict[str, str], host: str) -> None:
    app = Router([Host(pattern, name="api", app=Router([Route("/users", E, name="users")]))])
    child = app.url_path_for("api:users", **params)
    assert (str(child), child.host) == ("/users", host)
    assert child.make_absolute_url("http://testserver/") == f"http://{host}/users"
    own = app.url_path_for("api", path="/docs", **params)
    assert (str(own), own.host) == ("/docs", host)
    assert own.make_absolute_url("https://testserver") == f"https://{host}/docs"


def test_no_match_lists_the_params_routes_with_that_name_take() -> None:
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        router.url_path_for("user_detail", id=3)
    # Starlette's message; what exists is in the note.
    assert str(info.value) == 'No route exists for name "user_detail" and params "id".'
    assert info.value.__notes__ == [
        'flagstone: no route named "user_detail" takes params {"id"}; '
        'routes with that name take {"user_id"}'
    ]


def test_no_match_lists_the_names_that_exist() -> None:
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        router.url_path_for("user_detial", user_id=3)
    assert str(info.value) == 'No route exists for name "user_detial" and params "user_id".'
    message = info.value.__notes__[0]
    assert message.startswith(
        'flagstone: no route named "user_detial" (given params {"user_id"}); route names:'
    )
    for name in (
        '"home"',
        '"user_detail"',
        '"api:item"',
        '"api:v:ping"',
        '"static"',
        '"tenant:dash"',
    ):
        assert name in message


def test_no_match_for_mount_child_names_its_full_params() -> None:
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        router.url_path_for("api:v:ping")
    assert 'routes with that name take {"ver"}' in info.value.__notes__[0]


def test_values_that_look_like_placeholders_are_kept() -> None:
    r = Router([Route("/{a}/{b}", E, name="two")])
    assert r.url_path_for("two", a="{b}", b="x") == "/{b}/x"


def test_reversal_refuses_values_the_route_would_not_match() -> None:
    with pytest.raises(ValueError, match=r"^May not contain path separators"):
        Router([Route("/{a}", E, name="one")]).url_path_for("one", a="x/y")


@pytest.mark.parametrize(
    ("path", "protocol", "base", "expected"),
    [
        ("/a", "http", "https://example.org", "https://example.org/a"),
        ("/a", "http", "http://example.org/root/", "http://example.org/root/a"),
        ("/ws", "websocket", "https://example.org", "wss://example.org/ws"),
        ("/ws", "websocket", "http://example.org", "ws://example.org/ws"),
        ("/a", "", "https://example.org", "https://example.org/a"),
    ],
)
def test_make_absolute_url(path: str, protocol: str, base: str, expected: str) -> None:
    assert URLPath(path, protocol).make_absolute_url(base) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("//evil.example/x", "/%2Fevil.example/x"), ("/a\\b", "/a%5Cb"), ("/fine", "/fine")],
)
def test_urlpath_cannot_point_at_another_host(raw: str, safe: str) -> None:
    assert URLPath(raw) == safe


def test_urlpath_rejects_unknown_protocols() -> None:
    with pytest.raises(ValueError, match="protocol"):
        URLPath("/", "ftp")  # type: ignore[arg-type]


class NoMatchFound(Exception):  # another framework's exception of that name
    pass


class ForeignRoute:
    """A route of another framework (duck-typed, not a BaseRoute)."""

    def __init__(self, path: str, name: str) -> None:
        self.path, self.name, self.methods = path, name, {"GET", "HEAD"}
        self.param_convertors: dict[str, object] = {}

    def url_path_for(self, name: str, /, **params: object) -> URLPath:
        if name != self.name or params:
            raise NoMatchFound(name)
        return URLPath(self.path, "http")


class ForeignApp:
    def __init__(self) -> None:
        self.routes = [ForeignRoute("/a", "a"), ForeignRoute("/b", "b")]

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")


def test_reversal_and_introspection_across_another_framework_mounted() -> None:
    r = Router([Mount("/ext", app=ForeignApp(), name="ext")])
    assert r.url_path_for("ext:b") == "/ext/b"
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        r.url_path_for("ext:c")
    assert '"ext:a", "ext:b"' in info.value.__notes__[0]
    assert [(row.path, row.methods, row.name) for row in r] == [
        ("/ext/a", ("GET", "HEAD"), "ext:a"),
        ("/ext/b", ("GET", "HEAD"), "ext:b"),
    ]


def test_no_match_message_is_starlettes_with_params_in_given_order() -> None:
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        router.url_path_for("missing", b=1, a=2)
    assert str(info.value) == 'No route exists for name "missing" and params "b, a".'
    with pytest.raises(flagstone_routing.NoMatchFound) as info:
        router.url_path_for("missing")
    assert str(info.value) == 'No route exists for name "missing" and params "".'
