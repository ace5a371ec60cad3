"""The index never changes what matches: it agrees with a plain linear scan.

A reference implementation of Starlette's loop (ask every route in order,
first FULL wins, first PARTIAL remembered) is compared with the router's
indexed dispatch over generated route tables and request paths.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import make_scope, text_app

from flagstone_routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    compile_path,
)
from flagstone_routing._compile import get_route_path
from flagstone_routing._matcher import RouteIndex

_ENDPOINT = text_app("x")

segment_templates = st.sampled_from(
    ["a", "b", "users", "{x}", "{n:int}", "{f:float}", "v{n:int}", "{x}.json", "", "{p:path}"]
)
request_segments = st.sampled_from(
    ["a", "b", "users", "1", "2.5", "v3", "z.json", "", "c/d", "x y"]
)


@st.composite
def templates(draw: st.DrawFn) -> str:
    parts = draw(st.lists(segment_templates, min_size=1, max_size=4))
    if "{p:path}" in parts:
        parts = parts[: parts.index("{p:path}") + 1]
    # Duplicate parameter names are rejected by compile_path; the table
    # builder skips those templates.
    return "/" + "/".join(parts)


@st.composite
def route_tables(draw: st.DrawFn) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for _ in range(draw(st.integers(1, 12))):
        template = draw(templates())
        kind = draw(st.sampled_from(["route", "route-methods", "mount", "ws", "host"]))
        try:
            if kind == "route":
                routes.append(Route(template, _ENDPOINT))
            elif kind == "route-methods":
                routes.append(
                    Route(
                        template,
                        _ENDPOINT,
                        methods=draw(st.sampled_from([["GET"], ["POST"], ["PUT", "DELETE"]])),
                    )
                )
            elif kind == "mount":
                routes.append(
                    Mount(
                        template.rstrip("/") if "{p:path}" not in template else "/m", app=_ENDPOINT
                    )
                )
            elif kind == "ws":
                routes.append(WebSocketRoute(template, _ENDPOINT))
            else:
                routes.append(
                    Host(draw(st.sampled_from(["a.example", "{sub}.example"])), app=_ENDPOINT)
                )
        except ValueError:
            continue  # e.g. duplicate names produced by the generator
    return routes


def linear_scan(
    routes: list[BaseRoute], scope: dict[str, object]
) -> tuple[BaseRoute | None, set[str], bool]:
    """Starlette's algorithm: (first FULL route, methods of PARTIAL routes, any partial)."""
    methods: set[str] = set()
    partial = False
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, set(), partial
        if match is Match.PARTIAL:
            partial = True
            methods |= getattr(route, "methods", None) or set()
    return None, methods, partial


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routes=route_tables(),
    parts=st.lists(request_segments, min_size=0, max_size=5),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    scope_type=st.sampled_from(["http", "websocket"]),
    host=st.sampled_from([b"a.example", b"b.example", b"other"]),
)
def test_index_agrees_with_linear_scan(
    routes: list[BaseRoute], parts: list[str], method: str, scope_type: str, host: bytes
) -> None:
    path = "/" + "/".join(parts)
    router = Router(routes)
    # Force the trie even for tiny tables (normally asked in full).
    original, RouteIndex.SMALL_TABLE = RouteIndex.SMALL_TABLE, 0
    try:
        index = router.prepare()
    finally:
        RouteIndex.SMALL_TABLE = original
    scope = make_scope(path, method, type=scope_type, headers=[(b"host", host)])
    expected_route, expected_methods, expected_partial = linear_scan(routes, dict(scope))

    route_path = get_route_path(scope)
    found: BaseRoute | None = None
    methods: set[str] = set()
    partial = False
    candidates = index.candidates(scope_type, route_path)
    assert candidates == sorted(candidates)
    for position in candidates:
        match, _ = routes[position].match_path(dict(scope), route_path)
        if match is Match.FULL:
            found = routes[position]
            break
        if match is Match.PARTIAL:
            partial = True
            methods |= getattr(routes[position], "methods", None) or set()
    assert found is expected_route
    if found is None:
        assert (methods, partial) == (expected_methods, expected_partial)


def test_index_visits_few_candidates_among_many_routes() -> None:
    routes: list[BaseRoute] = [
        Route(f"/api/v1/resource{i}/{{item_id:int}}", _ENDPOINT) for i in range(1000)
    ]
    index = Router(routes).prepare()
    assert index.candidates("http", "/api/v1/resource999/7") == [999]
    assert index.candidates("http", "/api/v1/nothing/7") == []


def test_compile_path_format_and_host_patterns() -> None:
    regex, path_format, convertors = compile_path("/users/{id:int}/{name}")
    assert path_format == "/users/{id}/{name}"
    assert set(convertors) == {"id", "name"}
    assert regex.pattern == "^/users/(?P<id>[0-9]+)/(?P<name>[^/]+)$"
    host_regex, host_format, _ = compile_path("{sub}.example.org:8080")
    assert host_format == "{sub}.example.org:8080"  # reversal keeps the port
    assert host_regex.match("API.example.org")
    assert not host_regex.match("API.example.org:8080")  # the router strips it first


def test_compile_path_rejects_duplicate_names() -> None:
    import pytest

    with pytest.raises(ValueError) as info:
        compile_path("/{id}/{id:int}")
    assert str(info.value) == "Duplicated param name id at path /{id}/{id:int}"
    with pytest.raises(ValueError) as info:
        compile_path("/{id}/{name}/{id}/{name}")
    assert str(info.value) == "Duplicated param names id, name at path /{id}/{name}/{id}/{name}"


# Runs of literal segments ("/api/v1/...") are compared in one step; every
# way a request can leave such a run must give the linear scan's answer.
CHAIN_TABLE: list[BaseRoute] = [
    *(Route(f"/api/v1/resource{i}/{{item_id:int}}", _ENDPOINT) for i in range(6)),
    Route("/api/v1", _ENDPOINT),  # ends inside the run of the routes above
    Mount("/api/v2/files", app=_ENDPOINT),  # a rest list after a run
    Route("/api/v1/resource0/{item_id:int}/deep/er/still", _ENDPOINT),
    Route("/other/{x}/a/b/c", _ENDPOINT),  # a run after a param segment
]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/resource3/7",  # through the run, then a branch
        "/api/v1",  # ends where a route ends, inside the others' run
        "/api",  # ends inside the run: nothing
        "/api/v9/resource3/7",  # leaves the run midway
        "/ap/v1/resource3/7",  # leaves the run at its first segment
        "/api/v2/files/x/y",  # the mount's rest list
        "/api/v2/files",
        "/api/v1/resource0/5/deep/er/still",  # a second run further down
        "/api/v1/resource0/5/deep/er",
        "/other/q/a/b/c",
        "/other/q/a/b/c/d",
        "/",
        "",
    ],
)
def test_runs_of_literal_segments_agree_with_linear_scan(path: str) -> None:
    original, RouteIndex.SMALL_TABLE = RouteIndex.SMALL_TABLE, 0
    try:
        index = Router(CHAIN_TABLE).prepare()
    finally:
        RouteIndex.SMALL_TABLE = original
    # The table does have runs: "a/b/c" after "/other/{x}".
    other = index._roots["http"].static[""].static["other"].param
    assert other is not None
    assert other.chain is not None
    assert other.chain[0] == ["a", "b", "c"]
    scope = make_scope(path)
    expected, _, _ = linear_scan(CHAIN_TABLE, dict(scope))
    found = None
    for position in index.candidates("http", path):
        match, _ = CHAIN_TABLE[position].match_path(dict(scope), path)
        if match is Match.FULL:
            found = CHAIN_TABLE[position]
            break
    assert found is expected
