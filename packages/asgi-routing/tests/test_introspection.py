"""Introspection: iterate a router for full paths, methods and names; print a table."""

from __future__ import annotations

from routing_helpers import text_app

from flagstone_routing import Host, Mount, Route, RouteInfo, Router, WebSocketRoute

E = text_app("x")


def _router() -> Router:
    return Router(
        [
            Route("/", E, name="home", methods=["GET"]),
            Mount(
                "/api",
                name="api",
                routes=[
                    Mount(
                        "/v1",
                        name="v1",
                        routes=[Route("/users/{id:int}", E, name="user", methods=["POST", "GET"])],
                    )
                ],
            ),
            WebSocketRoute("/ws", E, name="ws"),
            Mount("/static", app=E, name="static"),
            Host("admin.example.org", name="admin", app=Router([Route("/panel", E, name="panel")])),
        ]
    )


def test_iterating_yields_full_paths_methods_and_names_in_priority_order() -> None:
    rows = list(_router())
    assert all(isinstance(row, RouteInfo) for row in rows)
    assert [(r.path, r.methods, r.name, r.kind, r.host) for r in rows] == [
        ("/", ("GET", "HEAD"), "home", "http", None),
        ("/api/v1/users/{id:int}", ("GET", "HEAD", "POST"), "api:v1:user", "http", None),
        ("/ws", None, "ws", "websocket", None),
        ("/static/{path:path}", None, "static", "mount", None),
        ("/panel", None, "admin:panel", "http", "admin.example.org"),
    ]


def test_describe_prints_a_readable_table() -> None:
    table = _router().describe()
    lines = table.splitlines()
    assert lines[0].split() == ["#", "METHODS", "PATH", "NAME", "HOST", "ENDPOINT"]
    assert lines[2].split()[:5] == ["2", "GET,", "HEAD,", "POST", "/api/v1/users/{id:int}"]
    assert "WEBSOCKET" in lines[3]
    assert "admin.example.org" in lines[5]
    # Columns line up: every PATH cell starts at the same offset.
    offset = lines[0].index("PATH")
    assert all(line[offset] == "/" for line in lines[1:])


def test_every_named_row_reverses() -> None:
    router = _router()
    for row in router:
        if row.kind == "http" and row.host is None and "{" not in row.path:
            assert router.url_path_for(row.name or "") == row.path
