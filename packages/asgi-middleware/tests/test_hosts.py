"""TrustedHostMiddleware and HTTPSRedirectMiddleware, with the Host tricks they must refuse."""

from __future__ import annotations

from typing import Any

import pytest
from middleware_helpers import call, text_app
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from flagstone_middleware import HTTPSRedirectMiddleware, TrustedHostMiddleware

pytestmark = pytest.mark.anyio


def starlette_app() -> Any:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("OK")

    return Starlette(routes=[Route("/{path:path}", home)])


APPS = [pytest.param(lambda: text_app("OK"), id="raw"), pytest.param(starlette_app, id="starlette")]
ALLOWED = ["example.com", "*.example.org"]
ANY = ["*"]  # an explicit choice: HTTPSRedirectMiddleware may redirect to any valid Host


# --- TrustedHostMiddleware --------------------------------------------------------------


@pytest.mark.parametrize("make_app", APPS)
@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "EXAMPLE.com",
        "example.com:8000",
        "example.com.",
        "a.example.org",
        "a.b.example.org:1",
    ],
)
async def test_allowed_hosts_pass(make_app: Any, host: str) -> None:
    result = await call(TrustedHostMiddleware(make_app(), allowed_hosts=ALLOWED), host=host)
    assert result.status == 200
    assert result.text == "OK"


@pytest.mark.parametrize("make_app", APPS)
@pytest.mark.parametrize(
    "host",
    [
        pytest.param("evil.com", id="other-host"),
        pytest.param("example.org", id="wildcard-does-not-cover-the-apex"),
        pytest.param("example.com.evil.com", id="suffix-attack"),
        pytest.param("evilexample.com", id="no-dot-boundary"),
        pytest.param("aexample.org", id="wildcard-no-dot-boundary"),
        pytest.param("example.com@evil.com", id="userinfo"),
        pytest.param("evil.com#example.com", id="fragment"),
        pytest.param("evil.com/example.com", id="path"),
        pytest.param("example.com\\evil.com", id="backslash"),
        pytest.param("example.com:99999", id="port-out-of-range"),
        pytest.param("example.com:80:80", id="two-ports"),
        pytest.param("example.com ", id="trailing-space"),
        pytest.param("", id="empty"),
        pytest.param("example.com%00", id="percent"),
        pytest.param("[::1", id="broken-ipv6"),
    ],
)
async def test_other_hosts_get_400(make_app: Any, host: str) -> None:
    seen: list[Any] = []
    inner = make_app()

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await inner(scope, receive, send)

    result = await call(TrustedHostMiddleware(spy, allowed_hosts=ALLOWED), host=host)
    assert result.status == 400
    assert result.text == "Invalid host header"
    assert seen == []


async def test_two_host_headers_are_refused() -> None:
    app = TrustedHostMiddleware(text_app("OK"), allowed_hosts=["example.com"])
    result = await call(app, host=None, headers=[("host", "example.com"), ("host", "evil.com")])
    assert result.status == 400


async def test_missing_host_is_refused_like_starlette() -> None:
    app = TrustedHostMiddleware(text_app("OK"), allowed_hosts=["testserver"])
    assert (await call(app, host=None)).status == 400


async def test_https_redirect_without_host_uses_the_server_address() -> None:
    result = await call(
        HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=["10.0.0.1"]),
        host=None,
        server=("10.0.0.1", 80),
    )
    assert result.header("location") == "https://10.0.0.1/"


async def test_redirect_without_raw_path_quotes_the_decoded_path() -> None:
    app = HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=ANY)
    scope_path = "/caf\u00e9 x"
    result = await call(app, host="a.example", path=scope_path, raw_path=b"")
    assert result.header("location") == "https://a.example/caf%C3%A9%20x"


async def test_www_redirect_keeps_path_query_and_port() -> None:
    app = TrustedHostMiddleware(text_app("OK"), allowed_hosts=["www.example.com"])
    result = await call(app, host="example.com:8080", path="/a b", raw_path=b"/a%20b", query=b"x=1")
    assert result.status == 307
    assert result.header("location") == "http://www.example.com:8080/a%20b?x=1"


async def test_www_redirect_can_be_disabled() -> None:
    app = TrustedHostMiddleware(
        text_app("OK"), allowed_hosts=["www.example.com"], www_redirect=False
    )
    assert (await call(app, host="example.com")).status == 400


@pytest.mark.parametrize(
    ("raw_path", "location"),
    [
        pytest.param(b"//evil.com/", "http://www.example.com/%2Fevil.com/", id="double-slash"),
        pytest.param(b"/\\evil.com", "http://www.example.com/%5Cevil.com", id="backslash"),
        pytest.param(
            b"/a\r\nSet-Cookie: x", "http://www.example.com/a%0D%0ASet-Cookie:%20x", id="crlf"
        ),
    ],
)
async def test_www_redirect_path_cannot_leave_the_host(raw_path: bytes, location: str) -> None:
    app = TrustedHostMiddleware(text_app("OK"), allowed_hosts=["www.example.com"])
    result = await call(app, host="example.com", raw_path=raw_path)
    assert result.header("location") == location


async def test_allow_any_is_the_default() -> None:
    result = await call(TrustedHostMiddleware(text_app("OK")), host="anything.example")
    assert result.status == 200


@pytest.mark.parametrize("pattern", ["example.*", "*example.com", "a.*.example.com"])
def test_bad_wildcard_patterns_are_refused_like_starlette(pattern: str) -> None:
    # An AssertionError, as Starlette raises, and a ValueError.
    with pytest.raises(AssertionError, match=r"like '\*\.example\.com'"):
        TrustedHostMiddleware(text_app("OK"), allowed_hosts=[pattern])
    with pytest.raises(ValueError, match=r"like '\*\.example\.com'"):
        TrustedHostMiddleware(text_app("OK"), allowed_hosts=[pattern])


async def test_websocket_with_a_bad_host_is_refused() -> None:
    app = TrustedHostMiddleware(text_app("OK"), allowed_hosts=["example.com"])
    result = await call(app, type="websocket", scheme="ws", host="evil.com")
    assert result.messages == [{"type": "websocket.close", "code": 1008}]
    denial = await call(
        app,
        type="websocket",
        scheme="ws",
        host="evil.com",
        extensions={"websocket.http.response": {}},
    )
    assert denial.status == 400


# --- HTTPSRedirectMiddleware -----------------------------------------------------------


@pytest.mark.parametrize("make_app", APPS)
@pytest.mark.parametrize(
    ("scheme", "host", "location"),
    [
        ("http", "example.com", "https://example.com/p?q=1"),
        ("http", "example.com:80", "https://example.com/p?q=1"),
        ("http", "example.com:443", "https://example.com/p?q=1"),
        ("http", "example.com:8080", "https://example.com:8080/p?q=1"),
        ("http", "[::1]:8080", "https://[::1]:8080/p?q=1"),
        ("ws", "example.com", "wss://example.com/p?q=1"),
    ],
)
async def test_redirects_to_the_secure_scheme(
    make_app: Any, scheme: str, host: str, location: str
) -> None:
    extensions = {"websocket.http.response": {}} if scheme == "ws" else None
    result = await call(
        HTTPSRedirectMiddleware(make_app(), allowed_hosts=ANY),
        scheme=scheme,
        type="websocket" if scheme == "ws" else "http",
        host=host,
        path="/p",
        query=b"q=1",
        extensions=extensions,
    )
    assert result.status == 307
    assert result.header("location") == location


async def test_308_on_request() -> None:
    result = await call(
        HTTPSRedirectMiddleware(text_app("OK"), status_code=308, allowed_hosts=ANY),
        host="a.example",
    )
    assert result.status == 308


def test_non_redirect_status_is_refused() -> None:
    with pytest.raises(ValueError, match="redirect status"):
        HTTPSRedirectMiddleware(text_app("OK"), status_code=200)


@pytest.mark.parametrize("make_app", APPS)
async def test_secure_requests_pass_through(make_app: Any) -> None:
    result = await call(HTTPSRedirectMiddleware(make_app()), scheme="https", host="a.example")
    assert result.status == 200
    assert result.text == "OK"


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("evil.com/", id="path-in-host"),
        pytest.param("example.com@evil.com", id="userinfo"),
        pytest.param("example.com\\@evil.com", id="backslash-userinfo"),
        pytest.param("evil.com?x=", id="query-in-host"),
        pytest.param("evil.com#", id="fragment"),
        pytest.param("example.com:443@evil.com", id="port-then-userinfo"),
        pytest.param("example.com\t.evil.com", id="tab"),
        pytest.param("", id="empty"),
        pytest.param("example.com:https", id="named-port"),
    ],
)
async def test_hostile_host_is_400_never_a_redirect(host: str) -> None:
    result = await call(HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=ANY), host=host)
    assert result.status == 400
    assert result.header("location") is None


@pytest.mark.parametrize(
    ("raw_path", "location"),
    [
        pytest.param(b"//evil.com", "https://a.example/%2Fevil.com", id="double-slash"),
        pytest.param(b"/\\evil.com", "https://a.example/%5Cevil.com", id="backslash"),
        pytest.param(
            b"/x\r\nLocation: //evil", "https://a.example/x%0D%0ALocation:%20//evil", id="crlf"
        ),
    ],
)
async def test_hostile_path_stays_on_the_host(raw_path: bytes, location: str) -> None:
    result = await call(
        HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=ANY),
        host="a.example",
        raw_path=raw_path,
    )
    assert result.header("location") == location


async def test_no_host_and_no_server_is_400() -> None:
    result = await call(
        HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=ANY), host=None, server=None
    )
    assert result.status == 400


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await HTTPSRedirectMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await TrustedHostMiddleware(app, ["a.example"])({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "lifespan"]


# --- HTTPSRedirectMiddleware: only to a host the application allowed --------------------


async def test_https_redirect_alone_redirects_as_starlette_and_says_what_to_configure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing configured: Starlette's redirect (a ported app and FastAPI's
    # documented use keep working), and one warning naming the settings.
    app = HTTPSRedirectMiddleware(text_app("OK"))
    with caplog.at_level("WARNING", logger="flagstone.middleware"):
        first = await call(app, host="example.com")
        second = await call(app, host="example.org")
    assert (first.status, first.header("location")) == (307, "https://example.com/")
    assert (second.status, second.header("location")) == (307, "https://example.org/")
    [record] = caplog.records  # once per middleware, not once per request
    assert record.levelname == "WARNING"
    assert "allowed_hosts=[...]" in record.getMessage()
    assert "TrustedHostMiddleware" in record.getMessage()


@pytest.mark.parametrize(
    ("host", "status", "location"),
    [
        ("example.com", 307, "https://example.com/p"),
        ("a.example.org:8443", 307, "https://a.example.org:8443/p"),
        ("evil.com", 400, None),
        ("example.com.evil.com", 400, None),
    ],
)
async def test_https_redirect_allowed_hosts(host: str, status: int, location: str | None) -> None:
    app = HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts=ALLOWED)
    result = await call(app, host=host, path="/p")
    assert (result.status, result.header("location")) == (status, location)


@pytest.mark.parametrize("host", ["example.com", "evil.com", "evil.com/x", None])
async def test_https_redirect_to_the_canonical_host(host: str | None) -> None:
    app = HTTPSRedirectMiddleware(text_app("OK"), host="example.com:8443")
    result = await call(app, host=host, path="/p", query=b"q=1")
    assert (result.status, result.header("location")) == (307, "https://example.com:8443/p?q=1")


@pytest.mark.parametrize("host", ["example.com/", "a@b", "", "example.com:x"])
def test_https_redirect_canonical_host_must_be_a_host(host: str) -> None:
    with pytest.raises(ValueError, match="host must be a host name"):
        HTTPSRedirectMiddleware(text_app("OK"), host=host)


@pytest.mark.parametrize(
    ("host", "status", "location"),
    [("example.com", 307, "https://example.com/"), ("evil.com", 400, None)],
)
async def test_https_redirect_inside_trusted_host_follows_its_verdict(
    host: str, status: int, location: str | None
) -> None:
    # Starlette's documented order: TrustedHostMiddleware first (outermost).
    app = TrustedHostMiddleware(HTTPSRedirectMiddleware(text_app("OK")), allowed_hosts=ALLOWED)
    result = await call(app, host=host)
    assert (result.status, result.header("location")) == (status, location)


@pytest.mark.parametrize(
    ("host", "status", "location"),
    [("a.example.org", 307, "https://a.example.org/"), ("evil.com", 400, None)],
)
async def test_https_redirect_around_trusted_host_uses_its_allowed_hosts(
    host: str, status: int, location: str | None
) -> None:
    inner = TrustedHostMiddleware(text_app("OK"), allowed_hosts=ALLOWED)
    result = await call(HTTPSRedirectMiddleware(inner), host=host)
    assert (result.status, result.header("location")) == (status, location)


async def test_trusted_host_allowing_anything_leaves_the_redirect_to_its_default() -> None:
    # "*" vouches for no host: the redirect falls back to Starlette's (the
    # request's Host, with the warning), as with no TrustedHostMiddleware.
    app = TrustedHostMiddleware(HTTPSRedirectMiddleware(text_app("OK")), allowed_hosts=["*"])
    assert (await call(app, host="example.com")).header("location") == "https://example.com/"


async def test_trusted_host_names_the_checked_host_in_the_scope() -> None:
    seen: list[Any] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("flagstone.trusted_host"))
        await text_app("OK")(scope, receive, send)

    await call(TrustedHostMiddleware(spy, allowed_hosts=ALLOWED), host="a.example.org:8000")
    await call(TrustedHostMiddleware(spy), host="evil.com")
    assert seen == ["a.example.org", None]


def test_allowed_hosts_as_a_string_is_a_type_error_naming_the_fix() -> None:
    with pytest.raises(TypeError, match=r"allowed_hosts=\['example.com'\]"):
        TrustedHostMiddleware(text_app("OK"), allowed_hosts="example.com")
    with pytest.raises(TypeError, match=r"allowed_hosts=\['example.com'\]"):
        HTTPSRedirectMiddleware(text_app("OK"), allowed_hosts="example.com")


async def test_https_redirect_trusts_only_the_host_that_was_checked() -> None:
    # A layer between the two rewrote Host after TrustedHostMiddleware checked it.
    async def rewrite_host(scope: Any, receive: Any, send: Any) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        await redirect({**scope, "headers": [*headers, (b"host", b"evil.com")]}, receive, send)

    redirect = HTTPSRedirectMiddleware(text_app("OK"))
    app = TrustedHostMiddleware(rewrite_host, allowed_hosts=ALLOWED)
    result = await call(app, host="example.com")
    assert (result.status, result.header("location")) == (400, None)
