"""HTTPConnection: the scope-backed properties shared by requests and websockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagstone_requests import (
    URL,
    Address,
    HTTPConnection,
    Request,
    WebSocket,
    empty_receive,
    empty_send,
)

ScopeFactory = Callable[..., dict[str, Any]]


def test_connection_is_a_mapping_over_the_scope(http_scope: ScopeFactory) -> None:
    scope = http_scope("/p")
    conn = HTTPConnection(scope)
    assert conn["path"] == "/p"
    assert len(conn) == len(scope)
    assert set(conn) == set(scope)
    # Identity comparison, not by contents.
    assert conn != HTTPConnection(scope)
    assert conn == conn
    assert len({conn, conn}) == 1


def test_websocket_scope_is_accepted_lifespan_is_not(http_scope: ScopeFactory) -> None:
    assert HTTPConnection(http_scope(type="websocket")).url.path == "/"
    with pytest.raises(ValueError, match="'lifespan'"):
        HTTPConnection({"type": "lifespan"})
    with pytest.raises(ValueError, match="'websocket'"):
        Request(http_scope(type="websocket"))
    # Starlette asserts the scope type: the error is an AssertionError too.
    with pytest.raises(AssertionError):
        HTTPConnection({"type": "lifespan"})
    with pytest.raises(AssertionError):
        Request(http_scope(type="websocket"))
    with pytest.raises(AssertionError):
        WebSocket(http_scope(), empty_receive, empty_send)


def test_url_headers_query_params(http_scope: ScopeFactory) -> None:
    conn = HTTPConnection(
        http_scope(
            "/items",
            headers=[("host", "example.com"), ("x-a", "1")],
            query_string=b"q=1&q=2",
        )
    )
    assert conn.url == URL("http://example.com/items?q=1&q=2")
    assert conn.url is conn.url  # cached
    assert conn.headers["x-a"] == "1"
    assert conn.headers is conn.headers
    assert conn.query_params.getlist("q") == ["1", "2"]
    assert conn.query_params is conn.query_params


def test_base_url_uses_app_root_path_then_root_path(http_scope: ScopeFactory) -> None:
    scope = http_scope("/api/x", root_path="/api", query_string=b"a=1")
    assert str(HTTPConnection(scope).base_url) == "http://testserver/api/"
    scope["app_root_path"] = "/outer"
    assert str(HTTPConnection(scope).base_url) == "http://testserver/outer/"
    assert str(HTTPConnection(http_scope("/x")).base_url) == "http://testserver/"


def test_path_params_client_app(http_scope: ScopeFactory) -> None:
    app = object()
    conn = HTTPConnection(http_scope(path_params={"id": 3}, app=app))
    assert conn.path_params == {"id": 3}
    assert conn.client == Address("127.0.0.1", 50000)
    assert conn.app is app
    assert HTTPConnection(http_scope(client=None)).client is None
    assert HTTPConnection(http_scope()).path_params == {}


def test_cookies_merge_headers_and_are_lenient(http_scope: ScopeFactory) -> None:
    conn = HTTPConnection(
        http_scope(
            headers=[
                ("cookie", 'a=1; b="quoted \\"x\\" \\101"; flag'),
                ("cookie", "a=2; empty="),
            ]
        )
    )
    assert conn.cookies == {"a": "2", "b": 'quoted "x" A', "": "flag", "empty": ""}
    assert HTTPConnection(http_scope()).cookies == {}


def test_session_needs_a_middleware(http_scope: ScopeFactory) -> None:
    with pytest.raises(AssertionError) as info:
        HTTPConnection(http_scope()).session  # noqa: B018
    assert str(info.value) == "SessionMiddleware must be installed to access request.session"
    session = {"user": "x"}
    assert HTTPConnection(http_scope(session=session)).session is session


def test_auth_and_user(http_scope: ScopeFactory) -> None:
    conn = HTTPConnection(http_scope(auth="creds", user="alice"))
    assert conn.auth == "creds"
    assert conn.user == "alice"
    with pytest.raises(AssertionError) as info:
        HTTPConnection(http_scope()).auth  # noqa: B018
    assert str(info.value) == "AuthenticationMiddleware must be installed to access request.auth"
    with pytest.raises(AssertionError) as info:
        HTTPConnection(http_scope()).user  # noqa: B018
    assert str(info.value) == "AuthenticationMiddleware must be installed to access request.user"


def test_state_is_backed_by_scope_state(http_scope: ScopeFactory) -> None:
    scope = http_scope(state={"db": "pool"})
    conn = HTTPConnection(scope)
    assert conn.state.db == "pool"
    conn.state.extra = 1
    assert scope["state"]["extra"] == 1
    fresh = http_scope()
    HTTPConnection(fresh).state.x = 1
    assert fresh["state"] == {"x": 1}


def test_missing_lifespan_state_names_the_server_cause(http_scope: ScopeFactory) -> None:
    # Regression: daphne runs no lifespan and sends no scope["state"]; the
    # bare AttributeError did not say why a lifespan value was missing.
    scope = http_scope()
    scope.pop("state", None)
    with pytest.raises(AttributeError) as info:
        HTTPConnection(scope).state.db  # noqa: B018
    # Starlette's message; the cause is in the note.
    assert str(info.value) == "'State' object has no attribute 'db'"
    assert any('the server sent no scope["state"]' in note for note in info.value.__notes__)
    with pytest.raises(AttributeError) as plain:
        HTTPConnection(http_scope(state={})).state.db  # noqa: B018
    assert str(plain.value) == "'State' object has no attribute 'db'"
    assert "_missing_hint" not in scope["state"]


class FakeURLPath(str):
    def make_absolute_url(self, base_url: str | URL) -> URL:
        base = URL(str(base_url))
        return base.replace(path=base.path.rstrip("/") + str(self))


class FakeRouter:
    def url_path_for(self, name: str, /, **params: Any) -> FakeURLPath:
        return FakeURLPath(f"/{name}/{params['id']}")


def test_url_for_prefers_scope_router_then_app(http_scope: ScopeFactory) -> None:
    conn = HTTPConnection(http_scope(router=FakeRouter(), root_path="/api"))
    assert str(conn.url_for("user", id=3)) == "http://testserver/api/user/3"
    assert isinstance(conn.url_for("user", id=3), URL)
    via_app = HTTPConnection(http_scope(app=FakeRouter()))
    assert str(via_app.url_for("item", id=1)) == "http://testserver/item/1"


def test_url_for_without_router_says_what_to_install(http_scope: ScopeFactory) -> None:
    # Starlette's text; the guidance is a note (shown in the traceback).
    for scope in (http_scope(), http_scope(app=object())):
        with pytest.raises(RuntimeError) as info:
            HTTPConnection(scope).url_for("home")
        assert str(info.value) == (
            "The `url_for` method can only be used inside a Starlette application or with a router."
        )
        assert any("url_for('home') needs a router" in note for note in info.value.__notes__)


def test_url_for_accepts_a_plain_string_result(http_scope: ScopeFactory) -> None:
    class StrPath(str):
        def make_absolute_url(self, base_url: str | URL) -> str:
            return str(base_url) + self.lstrip("/")

    class Router:
        def url_path_for(self, name: str, /, **params: Any) -> StrPath:
            return StrPath("/" + name)

    url = HTTPConnection(http_scope(router=Router())).url_for("x")
    assert url == URL("http://testserver/x")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ('quoted="v"', {"quoted": "v"}),
        ("novalue", {"": "novalue"}),
        ("a=1; a=2", {"a": "2"}),
        ("", {}),
    ],
    ids=["pairs", "quoted", "no-equals", "later-wins", "empty"],
)
def test_cookie_parser_is_public(header: str, expected: dict[str, str]) -> None:
    from flagstone_requests import cookie_parser

    assert cookie_parser(header) == expected
