"""Router dispatch: Starlette's semantics (order, 405, redirects, 404, scope keys) over the index."""

from __future__ import annotations

from typing import Any

import pytest
from routing_helpers import asgi, call, call_websocket, echo_scope, make_scope, text_app

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    HTTPException,
    Middleware,
    Receive,
    Scope,
    Send,
)
from flagstone_routing import BaseRoute, Host, Match, Mount, Route, Router, URLPath, WebSocketRoute

pytestmark = pytest.mark.anyio


# --- first match in declaration order -------------------------------------------------


async def test_first_full_match_in_declaration_order_wins() -> None:
    router = Router(
        [
            Route("/users/me", text_app("me")),
            Route("/users/{name}", text_app("by name")),
            Route("/users/{id:int}", text_app("by id")),
        ]
    )
    assert (await call(router, "/users/me")).text == "me"
    assert (await call(router, "/users/42")).text == "by name"  # declared before the int route


async def test_param_route_declared_first_shadows_static_route() -> None:
    router = Router([Route("/{page}", text_app("page")), Route("/about", text_app("about"))])
    assert (await call(router, "/about")).text == "page"


async def test_full_match_after_a_partial_one_still_wins() -> None:
    router = Router(
        [
            Route("/items", text_app("get"), methods=["GET"]),
            Route("/items", text_app("post"), methods=["POST"]),
        ]
    )
    assert (await call(router, "/items", "POST")).text == "post"


async def test_mount_prefix_shadows_later_routes_like_starlette() -> None:
    inner = Router([Route("/x", text_app("inner"))])
    router = Router([Mount("/api", app=inner), Route("/api/y", text_app("outer"))])
    # The Mount is a FULL match for everything under /api: a 404 inside it
    # does not fall through (Starlette's behaviour, kept for compatibility).
    assert (await call(router, "/api/x")).text == "inner"
    assert (await call(router, "/api/y")).status == 404


async def test_convertor_mismatch_falls_through_to_later_routes() -> None:
    router = Router([Route("/n/{v:int}", text_app("int")), Route("/n/{v}", text_app("str"))])
    assert (await call(router, "/n/12")).text == "int"
    assert (await call(router, "/n/ab")).text == "str"


async def test_path_convertor_and_empty_tail() -> None:
    router = Router([Route("/files/{rest:path}", echo_scope)])
    assert "('rest', 'a/b/c.txt')" in (await call(router, "/files/a/b/c.txt")).text
    assert "('rest', '')" in (await call(router, "/files/")).text


async def test_routes_mixing_literals_and_params_in_one_segment() -> None:
    router = Router(
        [Route("/img/{name}.{ext}", echo_scope), Route("/v{major:int}/ping", echo_scope)]
    )
    assert "('ext', 'png'), ('name', 'cat')" in (await call(router, "/img/cat.png")).text
    assert "('major', 2)" in (await call(router, "/v2/ping")).text


# --- 405 -----------------------------------------------------------------------------------


async def test_405_allow_lists_every_route_matching_the_path_in_canonical_order() -> None:
    router = Router(
        [
            Route("/things/{id}", text_app("d"), methods=["DELETE"]),
            Route("/things/{id}", text_app("p"), methods=["POST", "PUT"]),
            Route("/things/{name}", text_app("g"), methods=["GET"]),
            Route("/other", text_app("o"), methods=["PATCH"]),
        ]
    )
    response = await call(router, "/things/1", "PATCH")
    assert response.status == 405
    assert response.headers["allow"] == "GET, HEAD, POST, PUT, DELETE"
    assert response.text == "Method Not Allowed"


async def test_405_allow_order_puts_unknown_methods_last_alphabetically() -> None:
    router = Router([Route("/x", text_app("x"), methods=["purge", "LINK", "get"])])
    response = await call(router, "/x", "POST")
    assert response.headers["allow"] == "GET, HEAD, LINK, PURGE"


async def test_405_raises_http_exception_when_exception_handlers_are_installed() -> None:
    router = Router([Route("/x", text_app("x"), methods=["GET"])])
    scope = make_scope("/x", "POST")
    scope[EXCEPTION_HANDLERS_KEY] = ({}, {})
    with pytest.raises(HTTPException) as info:
        await call(router, scope=scope)
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD"}


async def test_head_is_served_by_get_routes() -> None:
    router = Router([Route("/x", text_app("x"), methods=["GET"])])
    assert (await call(router, "/x", "HEAD")).status == 200


async def test_raw_asgi_route_without_methods_accepts_any_method() -> None:
    router = Router([Route("/x", text_app("x"))])
    assert (await call(router, "/x", "BREW")).status == 200


async def test_custom_partial_route_keeps_its_own_handle() -> None:
    class Teapot(BaseRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            return (
                (Match.PARTIAL, {"endpoint": "teapot"})
                if scope["path"] == "/tea"
                else (Match.NONE, {})
            )

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await text_app("teapot", 418)(scope, receive, send)

    router = Router([Teapot()])
    response = await call(router, "/tea")
    assert (response.status, response.text) == (418, "teapot")


# --- 404 -----------------------------------------------------------------------------------


async def test_404_plain_when_used_as_the_outermost_app() -> None:
    response = await call(Router([]), "/nothing")
    assert response.status == 404
    assert response.text == "Not Found"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


async def test_404_raises_http_exception_when_exception_handlers_are_installed() -> None:
    scope = make_scope("/nothing")
    scope[EXCEPTION_HANDLERS_KEY] = ({}, {})
    with pytest.raises(HTTPException) as info:
        await call(Router([]), scope=scope)
    assert info.value.status_code == 404


async def test_custom_default_app() -> None:
    router = Router([], default=text_app("fallback", 200))
    assert (await call(router, "/anything")).text == "fallback"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"extensions": {"websocket.http.response": {}}},
        {EXCEPTION_HANDLERS_KEY: ({}, {})},
    ],
    ids=["plain", "server-offers-denial", "handlers-installed"],
)
async def test_websocket_not_found_closes_normally_as_in_starlette(extra: dict[str, Any]) -> None:
    sent = await call_websocket(Router([]), "/ws", **extra)
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


async def test_http_route_does_not_match_a_websocket_and_vice_versa() -> None:
    @asgi
    async def ws(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    router = Router([Route("/a", text_app("http")), WebSocketRoute("/a", ws)])
    assert (await call(router, "/a")).text == "http"
    sent = await call_websocket(router, "/a")
    assert sent[0] == {"type": "websocket.accept"}


# --- redirect_slashes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("/users/", b"", "/users"),
        ("/users", b"", None),
        ("/docs", b"", "/docs/"),
        ("/users/", b"page=2&q=a%20b", "/users?page=2&q=a%20b"),
    ],
)
async def test_redirect_slashes_uses_a_relative_location(
    path: str, query: bytes, location: str | None
) -> None:
    router = Router([Route("/users", text_app("users")), Route("/docs/", text_app("docs"))])
    response = await call(router, path, query_string=query, scheme="https")
    if location is None:
        assert response.status == 200
    else:
        assert response.status == 307
        # Relative: the client keeps https (no downgrade behind a proxy) and its host.
        assert response.headers["location"] == location


async def test_redirect_slashes_reaches_a_mount_without_its_slash() -> None:
    router = Router([Mount("/api", routes=[Route("/", text_app("root"))])])
    response = await call(router, "/api")
    assert (response.status, response.headers["location"]) == (307, "/api/")
    assert (await call(router, "/api/")).text == "root"


async def test_redirect_keeps_the_root_path_and_the_mount_prefix() -> None:
    router = Router([Mount("/api", routes=[Route("/items", text_app("items"))])])
    response = await call(router, "/prefix/api/items/", root_path="/prefix")
    assert response.headers["location"] == "/prefix/api/items"


async def test_redirect_also_offered_for_a_partial_match() -> None:
    router = Router([Route("/x", text_app("x"), methods=["POST"])])
    response = await call(router, "/x/", "GET")
    assert response.status == 307


async def test_redirect_slashes_off() -> None:
    router = Router([Route("/users", text_app("users"))], redirect_slashes=False)
    assert (await call(router, "/users/")).status == 404


@pytest.mark.parametrize(
    ("path", "location"),
    [
        # A protocol-relative open redirect: the second slash is encoded (the
        # contract's one policy), so the same path, not another host, is asked for.
        ("//evil.example.html/", "/%2Fevil.example.html"),
        ("/\\evil.example.html/", "/%5Cevil.example.html"),  # browsers read "\" as "/"
        ("/caf\u00e9.html/", "/caf%C3%A9.html"),  # non-ASCII path: encoded, header stays ASCII
        ("/50%.html/", "/50%25.html"),  # a literal percent sign in the decoded path
    ],
)
async def test_redirect_location_cannot_leave_the_site(path: str, location: str) -> None:
    router = Router([Route("/{p:path}.html", text_app("p"))])
    response = await call(router, path)
    assert response.status == 307
    assert response.headers["location"] == location


async def test_redirect_location_encodes_control_bytes_in_the_query() -> None:
    router = Router([Route("/x", text_app("x"))])
    response = await call(router, "/x/", query_string=b"a=1\r\nSet-Cookie:%20x")
    assert response.headers["location"] == "/x?a=1%0D%0ASet-Cookie:%20x"


# --- scope keys ----------------------------------------------------------------------------------


async def test_scope_keys_on_a_full_match() -> None:
    seen: dict[str, Any] = {}

    @asgi
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await text_app("ok")(scope, receive, send)

    route = Route("/u/{id:int}", endpoint)
    router = Router([route])
    await call(router, "/u/5")
    assert seen["route"] is route
    assert seen["endpoint"] is endpoint
    assert seen["router"] is router
    assert seen["path_params"] == {"id": 5}


async def test_outermost_router_wins_scope_router() -> None:
    seen: dict[str, Any] = {}

    @asgi
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await text_app("ok")(scope, receive, send)

    inner = Router([Route("/leaf", endpoint)])
    outer = Router([Mount("/in", app=inner)])
    await call(outer, "/in/leaf")
    assert seen["router"] is outer


async def test_mounts_two_deep_merge_params_and_grow_root_path() -> None:
    router = Router(
        [
            Mount(
                "/orgs/{org}",
                routes=[Mount("/repos/{repo}", routes=[Route("/issues/{n:int}", echo_scope)])],
            )
        ]
    )
    text = (await call(router, "/srv/orgs/acme/repos/rocket/issues/7", root_path="/srv")).text
    assert "path=/srv/orgs/acme/repos/rocket/issues/7" in text  # path keeps the full path
    assert "root_path=/srv/orgs/acme/repos/rocket" in text
    assert "app_root_path=/srv" in text  # the first Mount records the server's root_path
    assert "path_params=[('n', 7), ('org', 'acme'), ('repo', 'rocket')]" in text
    assert "route=/issues/{n:int}" in text  # innermost route wins


async def test_inner_path_params_win_over_outer_ones() -> None:
    router = Router([Mount("/{id}", routes=[Route("/{id}", echo_scope)])])
    assert "('id', 'inner')" in (await call(router, "/outer/inner")).text


async def test_root_path_outside_path_still_routes_top_level() -> None:
    # A server that strips root_path itself: the path is used as it is.
    router = Router([Route("/x", text_app("x"))])
    assert (await call(router, "/x", root_path="/api")).text == "x"


async def test_mount_with_any_asgi_app_sees_prefix_in_root_path() -> None:
    router = Router([Mount("/static", app=echo_scope)])
    text = (await call(router, "/static/css/site.css")).text
    assert "root_path=/static" in text
    assert "path=/static/css/site.css" in text


async def test_root_mount_with_empty_path() -> None:
    router = Router(
        [Route("/first", text_app("first")), Mount("", routes=[Route("/x", text_app("x"))])]
    )
    assert (await call(router, "/x")).text == "x"
    assert (await call(router, "/first")).text == "first"


# --- hosts --------------------------------------------------------------------------------------


async def test_host_routing_with_params_and_port_ignored() -> None:
    api = Router([Route("/users", echo_scope)])
    router = Router(
        [Host("{sub}.example.org", app=api, name="sub"), Route("/users", text_app("default"))]
    )
    text = (await call(router, "/users", headers=[(b"host", b"API.example.org:8080")])).text
    assert "('sub', 'api')" in text
    assert (await call(router, "/users", headers=[(b"host", b"example.com")])).text == "default"


@pytest.mark.parametrize(
    "host",
    [
        b"evil.example.org/abc?x=",  # CVE-2026-48710: Host used to rewrite the URL path
        b"a b.example.org",
        b"x.example.org:99999",
        b"user@x.example.org",
        b"",
    ],
)
async def test_malformed_host_headers_never_match(host: bytes) -> None:
    router = Router(
        [Host("{sub}.example.org", app=text_app("host")), Route("/", text_app("fallback"))]
    )
    assert (await call(router, "/", headers=[(b"host", host)])).text == "fallback"


@pytest.mark.parametrize(
    "header",
    [b"api.example.org:3600", b"API.example.org:3600", b"api.example.org", b"api.example.org:80"],
)
async def test_host_pattern_port_is_left_out_of_matching(header: bytes) -> None:
    # As in Starlette: the port reaches the reversed URL only, never the match.
    router = Router(
        [Host("api.example.org:3600", app=text_app("api")), Route("/", text_app("fallback"))]
    )
    assert (await call(router, "/", headers=[(b"host", header)])).text == "api"


async def test_host_with_ipv6_literal() -> None:
    router = Router([Host("[::1]", app=text_app("v6"))])
    assert (await call(router, "/", headers=[(b"host", b"[::1]:8000")])).text == "v6"


async def test_host_port_with_leading_zeros_is_a_port() -> None:
    # Starlette (and RFC 3986) read ":000080" as port 80; only > 65535 is bad.
    router = Router([Host("{sub}.example.org", app=text_app("host")), Route("/", text_app("no"))])
    headers = [(b"host", b"api.example.org:000080")]
    assert (await call(router, "/", headers=headers)).text == "host"


@pytest.mark.parametrize(
    "host",
    [
        b"[:::]",  # hex and colons, but not an IPv6 address
        b"[1:2:3:4:5:6:7:8:9]",
        b"[fe80::1%25eth0]",  # a zone id names the client's interface
        b"[::1",
    ],
)
async def test_invalid_ip_literal_never_matches(host: bytes) -> None:
    router = Router([Host("{anything}", app=text_app("host")), Route("/", text_app("fallback"))])
    assert (await call(router, "/", headers=[(b"host", host)])).text == "fallback"


async def test_host_matches_an_ipvfuture_literal() -> None:
    router = Router([Host("[v1.x]", app=text_app("future")), Route("/", text_app("no"))])
    assert (await call(router, "/", headers=[(b"host", b"[v1.x]:8000")])).text == "future"


# --- routes can change ----------------------------------------------------------------------------


async def test_routes_appended_after_first_request_are_matched() -> None:
    router = Router([Route("/a", text_app("a"))])
    assert (await call(router, "/b")).status == 404
    router.routes.append(Route("/b", text_app("b")))
    assert (await call(router, "/b")).text == "b"
    router.routes.insert(0, Route("/{any}", text_app("any")))
    assert (await call(router, "/b")).text == "any"
    del router.routes[0]
    assert (await call(router, "/a")).text == "a"
    router.routes[0] = Route("/a", text_app("replaced"))
    assert (await call(router, "/a")).text == "replaced"
    router.routes += [Route("/c", text_app("c"))]
    assert (await call(router, "/c")).text == "c"
    router.routes.pop()
    assert (await call(router, "/c")).status == 404
    router.routes = [Route("/new", text_app("new"))]
    assert (await call(router, "/new")).text == "new"
    router.routes.clear()
    assert (await call(router, "/new")).status == 404


async def test_add_route_mount_and_host_helpers() -> None:
    router = Router()
    router.add_route("/r", text_app("r"), methods=["GET"], name="r")
    router.mount("/m", text_app("m"), name="m")
    router.host("h.example", text_app("h"), name="h")
    assert (await call(router, "/r")).text == "r"
    assert (await call(router, "/m/x")).text == "m"
    assert (await call(router, "/zzz", headers=[(b"host", b"h.example")])).text == "h"
    assert router.url_path_for("r") == "/r"


async def test_mount_routes_mutation_reaches_the_inner_router() -> None:
    mount = Mount("/api", routes=[])
    router = Router([mount])
    mount.routes.append(Route("/late", text_app("late")))
    assert (await call(router, "/api/late")).text == "late"


# --- middleware -------------------------------------------------------------------------------------


def _tagging(app: Any, tag: str) -> Any:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tag", tag.encode())]
            await send(message)

        await app(scope, receive, tagged_send)

    return middleware


async def test_router_mount_and_route_middleware() -> None:
    from flagstone_contract import Middleware

    router = Router(
        [
            Route("/r", text_app("r"), middleware=[Middleware(_tagging, "route")]),
            Mount("/m", app=text_app("m"), middleware=[Middleware(_tagging, "mount")]),
        ],
        middleware=[Middleware(_tagging, "router")],
    )
    response = await call(router, "/r")
    assert [v for k, v in response.messages[0]["headers"] if k == b"x-tag"] == [b"route", b"router"]
    response = await call(router, "/m/x")
    assert [v for k, v in response.messages[0]["headers"] if k == b"x-tag"] == [b"mount", b"router"]


# --- the route objects as standalone apps ----------------------------------------------------------


async def test_a_route_is_an_asgi_app_on_its_own() -> None:
    route = Route("/x", text_app("x"), methods=["GET"])
    assert (await call(route, "/x")).text == "x"
    assert (await call(route, "/y")).status == 404
    assert (await call(route, "/x", "POST")).status == 405


def test_route_validation_errors() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        Route("x", text_app("x"))
    with pytest.raises(ValueError, match="exactly one of"):
        Mount("/m")
    with pytest.raises(ValueError, match="exactly one of"):
        Mount("/m", app=text_app("x"), routes=[])
    with pytest.raises(ValueError, match="empty or start with"):
        Mount("m", app=text_app("x"))
    with pytest.raises(ValueError, match="must not start with"):
        Host("/x", app=text_app("x"))


def test_methods_as_a_string_is_a_type_error_naming_the_fix() -> None:
    # Starlette takes methods="POST" as {"P", "O", "S", "T"}: every request 405.
    with pytest.raises(TypeError, match=r"not the string 'POST': write methods=\['POST'\]"):
        Route("/", text_app("x"), methods="POST")
    with pytest.raises(TypeError, match=r"methods=\['POST'\]"):
        Router().add_route("/", text_app("x"), methods="POST")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda mw: Route("/", text_app("x"), middleware=mw), id="Route"),
        pytest.param(
            lambda mw: WebSocketRoute("/", text_app("x"), middleware=mw), id="WebSocketRoute"
        ),
        pytest.param(lambda mw: Mount("/m", app=text_app("x"), middleware=mw), id="Mount"),
    ],
)
def test_one_middleware_instead_of_a_list_is_a_type_error(make: Any) -> None:
    with pytest.raises(TypeError, match=r"write middleware=\[Middleware\("):
        make(Middleware(object))


def test_mount_of_a_route_list_as_app_names_routes() -> None:
    with pytest.raises(TypeError, match=r"for a list of routes write routes=\[\.\.\.\]"):
        Mount("/m", [Route("/", text_app("x"))])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an ASGI app"):
        Mount("/m", app="not an app")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Route("x", text_app("x")), "Routed paths must start with '/'"),
        (lambda: Mount("m", app=text_app("x")), "Routed paths must start with '/'"),
        (lambda: Mount("/m"), "Either 'app=...', or 'routes=' must be specified"),
        (lambda: Host("/x", app=text_app("x")), "Host must not start with '/'"),
    ],
    ids=["route-path", "mount-path", "mount-without-app", "host-with-slash"],
)
def test_definition_errors_are_starlettes_assertions(build: Any, message: str) -> None:
    # Starlette asserts these, with these texts; ours are ValueErrors too.
    with pytest.raises(AssertionError) as info:
        build()
    assert str(info.value) == message


def test_route_methods_are_upper_cased_and_get_implies_head() -> None:
    route = Route("/x", text_app("x"), methods=["get", "post"])
    assert route.methods == {"GET", "HEAD", "POST"}


def test_url_path_for_result_is_a_urlpath() -> None:
    router = Router([WebSocketRoute("/ws/{room}", text_app("x"), name="ws")])
    url = router.url_path_for("ws", room="lobby")
    assert isinstance(url, URLPath)
    assert (url, url.protocol) == ("/ws/lobby", "websocket")


async def test_foreign_objects_in_routes_fail_with_a_clear_message() -> None:
    router = Router([text_app("not a route")])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="wrap an ASGI app in Mount"):
        await call(router, "/")
