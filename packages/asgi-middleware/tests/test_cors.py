"""CORSMiddleware: preflights, simple requests, Vary, and the origin tricks it must refuse."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from middleware_helpers import call, stream_app, text_app
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from flagstone_middleware import CORSMiddleware

pytestmark = pytest.mark.anyio

PREFLIGHT = {"method": "OPTIONS"}


def preflight_headers(origin: str, method: str = "GET", **extra: str) -> list[tuple[str, str]]:
    headers = [("origin", origin), ("access-control-request-method", method)]
    headers += [(k.replace("_", "-"), v) for k, v in extra.items()]
    return headers


def raw_app(seen: list[dict[str, Any]] | None = None) -> Any:
    return text_app("Homepage", seen=seen)


def starlette_app() -> Any:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("Homepage")

    return Starlette(routes=[Route("/", home, methods=["GET", "POST", "OPTIONS"])])


# Each behaviour is checked in front of a raw ASGI app and in front of Starlette.
APPS = [pytest.param(lambda: raw_app(), id="raw"), pytest.param(starlette_app, id="starlette")]


@pytest.mark.parametrize("make_app", APPS)
async def test_preflight_is_answered_without_reaching_the_app(make_app: Any) -> None:
    seen: list[dict[str, Any]] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await make_app()(scope, receive, send)

    app = CORSMiddleware(
        spy,
        allow_origins=["https://example.org"],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Token"],
        max_age=300,
    )
    result = await call(
        app,
        method="OPTIONS",
        headers=preflight_headers(
            "https://example.org", "POST", access_control_request_headers="X-Token, Accept"
        ),
    )
    assert seen == []
    assert result.status == 200
    assert result.text == "OK"
    assert result.header("access-control-allow-origin") == "https://example.org"
    assert result.header("access-control-allow-methods") == "GET, POST"
    assert result.header("access-control-max-age") == "300"
    allowed = result.header("access-control-allow-headers")
    assert allowed is not None
    assert "X-Token" in allowed
    assert "Accept" in allowed
    assert "Origin" in (result.header("vary") or "")


@pytest.mark.parametrize(
    ("config", "headers", "reason"),
    [
        pytest.param({}, preflight_headers("https://evil.example"), "origin", id="origin"),
        pytest.param({}, preflight_headers("https://example.org", "DELETE"), "method", id="method"),
        pytest.param(
            {},
            preflight_headers("https://example.org", access_control_request_headers="X-Evil"),
            "headers",
            id="headers",
        ),
        pytest.param(
            {},
            preflight_headers("https://example.org", access_control_request_private_network="true"),
            "private-network",
            id="private-network",
        ),
        pytest.param(
            {},
            preflight_headers("https://evil.example", "DELETE"),
            "origin, method",
            id="origin-and-method",
        ),
    ],
)
async def test_disallowed_preflight_is_400_with_a_reason(
    config: dict[str, Any], headers: list[tuple[str, str]], reason: str
) -> None:
    app = CORSMiddleware(raw_app(), allow_origins=["https://example.org"], **config)
    result = await call(app, method="OPTIONS", headers=headers)
    assert result.status == 400
    assert result.text == f"Disallowed CORS {reason}"


async def test_private_network_preflight_allowed_when_enabled() -> None:
    app = CORSMiddleware(
        raw_app(), allow_origins=["https://example.org"], allow_private_network=True
    )
    headers = preflight_headers(
        "https://example.org", access_control_request_private_network="true"
    )
    result = await call(app, method="OPTIONS", headers=headers)
    assert result.status == 200
    assert result.header("access-control-allow-private-network") == "true"


async def test_allow_all_headers_mirrors_the_requested_ones() -> None:
    app = CORSMiddleware(raw_app(), allow_origins=["*"], allow_headers=["*"])
    headers = preflight_headers("https://a.example", access_control_request_headers="X-A, X-B")
    result = await call(app, method="OPTIONS", headers=headers)
    assert result.status == 200
    assert result.header("access-control-allow-headers") == "X-A, X-B"
    assert result.header("access-control-allow-origin") == "*"


async def test_wildcard_methods_allow_every_method() -> None:
    app = CORSMiddleware(raw_app(), allow_origins=["*"], allow_methods=["*"])
    result = await call(
        app, method="OPTIONS", headers=preflight_headers("https://a.example", "PATCH")
    )
    assert result.status == 200
    assert "PATCH" in (result.header("access-control-allow-methods") or "")


@pytest.mark.parametrize("make_app", APPS)
async def test_simple_request_is_decorated(make_app: Any) -> None:
    app = CORSMiddleware(
        make_app(), allow_origins=["https://example.org"], expose_headers=["X-Status"]
    )
    result = await call(app, headers=[("origin", "https://example.org")])
    assert result.status == 200
    assert result.text == "Homepage"
    assert result.header("access-control-allow-origin") == "https://example.org"
    assert result.header("access-control-expose-headers") == "X-Status"
    assert result.header("vary") == "Origin"


@pytest.mark.parametrize("make_app", APPS)
async def test_wildcard_without_credentials_sends_star(make_app: Any) -> None:
    app = CORSMiddleware(make_app(), allow_origins=["*"])
    result = await call(app, headers=[("origin", "https://anyone.example")])
    assert result.header("access-control-allow-origin") == "*"
    assert result.header("access-control-allow-credentials") is None


@pytest.mark.parametrize("make_app", APPS)
async def test_wildcard_with_credentials_echoes_the_origin_never_star(make_app: Any) -> None:
    app = CORSMiddleware(make_app(), allow_origins=["*"], allow_credentials=True)
    result = await call(app, headers=[("origin", "https://anyone.example")])
    assert result.header("access-control-allow-origin") == "https://anyone.example"
    assert result.header("access-control-allow-credentials") == "true"
    assert "Origin" in (result.header("vary") or "")
    pre = await call(app, method="OPTIONS", headers=preflight_headers("https://anyone.example"))
    assert pre.header("access-control-allow-origin") == "https://anyone.example"


async def test_vary_is_merged_with_the_apps_vary() -> None:
    app = CORSMiddleware(
        text_app("x", headers=[("vary", "Accept-Encoding")]), allow_origins=["https://a.example"]
    )
    result = await call(app, headers=[("origin", "https://a.example")])
    assert result.headers("vary") == ["Accept-Encoding, Origin"]


async def test_vary_origin_even_without_an_origin_header() -> None:
    """A shared cache must not serve a no-Origin answer to a cross-origin request."""
    app = CORSMiddleware(raw_app(), allow_origins=["https://a.example"])
    result = await call(app)
    assert result.header("vary") == "Origin"
    assert result.header("access-control-allow-origin") is None


async def test_disallowed_origin_gets_no_cors_headers() -> None:
    app = CORSMiddleware(
        raw_app(), allow_origins=["https://a.example"], allow_credentials=True, expose_headers=["X"]
    )
    result = await call(app, headers=[("origin", "https://b.example")])
    assert result.status == 200  # the browser, not the server, withholds the body
    assert result.header("access-control-allow-origin") is None
    assert result.header("access-control-allow-credentials") is None
    assert result.header("vary") == "Origin"


async def test_options_without_request_method_is_not_a_preflight() -> None:
    seen: list[dict[str, Any]] = []
    app = CORSMiddleware(raw_app(seen), allow_origins=["*"])
    result = await call(app, method="OPTIONS", headers=[("origin", "https://a.example")])
    assert len(seen) == 1
    assert result.text == "Homepage"


async def test_websocket_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await send({"type": "websocket.close", "code": 1000})

    await call(CORSMiddleware(app, allow_origins=["*"]), type="websocket", scheme="ws")
    assert seen == ["websocket"]


# --- hostile origins ---------------------------------------------------------------

REGEX = r"https://.*\.example\.com"


@pytest.mark.parametrize(
    ("config", "origin"),
    [
        pytest.param(
            {"allow_origin_regex": REGEX},
            "https://evil.example.com.attacker.net",
            id="regex-partial-match-suffix",
        ),
        pytest.param(
            {"allow_origin_regex": REGEX},
            "https://attacker.net/.example.com",
            id="regex-path-smuggled",
        ),
        pytest.param(
            {"allow_origin_regex": REGEX}, "https://a.example.com@attacker.net", id="regex-userinfo"
        ),
        pytest.param(
            {"allow_origin_regex": r"https://.*example\.com"},
            "https://attacker.net#.example.com",
            id="regex-fragment",
        ),
        pytest.param(
            {"allow_origin_regex": REGEX}, "https://a.example.com.", id="regex-trailing-dot"
        ),
        pytest.param(
            {"allow_origin_regex": REGEX},
            "https://a.example.com:99999",
            id="regex-port-out-of-range",
        ),
        pytest.param(
            {"allow_origin_regex": REGEX}, "https://a.example.com\r\nx: y", id="regex-crlf"
        ),
        pytest.param({"allow_origin_regex": r".*"}, "null", id="regex-null"),
        pytest.param({"allow_origins": ["*"]}, "null", id="star-null"),
        pytest.param(
            {"allow_origins": ["*"], "allow_credentials": True}, "null", id="star-credentials-null"
        ),
        pytest.param({"allow_origins": ["*"]}, "https://user:pw@a.example", id="star-userinfo"),
        pytest.param({"allow_origins": ["*"]}, "https://a.example/path", id="star-path"),
        pytest.param({"allow_origins": ["*"]}, "", id="star-empty"),
        pytest.param(
            {"allow_origins": ["https://example.com"]}, "https://EXAMPLE.com", id="list-case"
        ),
        pytest.param(
            {"allow_origins": ["https://example.com"]},
            "https://example.com.",
            id="list-trailing-dot",
        ),
        pytest.param(
            {"allow_origins": ["https://example.com"]}, "http://example.com", id="list-scheme"
        ),
        pytest.param(
            {"allow_origins": ["https://example.com"]},
            "https://example.com:443",
            id="list-explicit-port",
        ),
        pytest.param(
            {"allow_origins": ["https://example.com"]},
            "https://example.com.attacker.net",
            id="list-suffix",
        ),
        pytest.param({"allow_origins": ["https://example.com"]}, "null", id="list-null"),
    ],
)
async def test_hostile_origins_are_refused(config: dict[str, Any], origin: str) -> None:
    app = CORSMiddleware(raw_app(), **config)
    assert not app.is_allowed_origin(origin)
    simple = await call(app, headers=[("origin", origin.replace("\r\n", " "))])
    assert simple.header("access-control-allow-origin") is None
    pre = await call(app, method="OPTIONS", headers=preflight_headers(origin.replace("\r\n", " ")))
    assert pre.status == 400
    assert pre.header("access-control-allow-origin") is None


@pytest.mark.parametrize(
    ("config", "origin"),
    [
        pytest.param({"allow_origin_regex": REGEX}, "https://a.example.com", id="regex"),
        pytest.param(
            {"allow_origin_regex": REGEX + r"(:[0-9]+)?"},
            "https://a.b.example.com:8443",
            id="regex-port",
        ),
        pytest.param({"allow_origins": ["null"]}, "null", id="null-listed"),
        pytest.param({"allow_origins": ["*", "null"]}, "null", id="star-and-null-listed"),
        pytest.param({"allow_origins": ["*"]}, "http://[::1]:3000", id="star-ipv6"),
    ],
)
async def test_legitimate_origins_are_allowed(config: dict[str, Any], origin: str) -> None:
    app = CORSMiddleware(raw_app(), **config)
    result = await call(app, headers=[("origin", origin)])
    assert result.header("access-control-allow-origin") in (origin, "*")


# --- the app's own headers: the decorated start is the same whatever path builds it --------


@pytest.mark.parametrize(
    ("app_headers", "vary"),
    [
        pytest.param([("vary", "*")], ["*"], id="vary-star-stays"),
        pytest.param([("vary", "Accept, origin")], ["Accept, origin"], id="vary-lists-origin"),
        pytest.param(
            [("vary", "Accept"), ("vary", "Cookie")], ["Accept, Cookie, Origin"], id="vary-twice"
        ),
        pytest.param([], ["Origin"], id="no-vary"),
    ],
)
@pytest.mark.parametrize("origin", [None, "https://a.example", "https://b.example"])
async def test_vary_origin_merges_with_the_apps_vary(
    app_headers: list[tuple[str, str]], vary: list[str], origin: str | None
) -> None:
    app = CORSMiddleware(text_app("x", headers=app_headers), allow_origins=["https://a.example"])
    result = await call(app, headers=[("origin", origin)] if origin else [])
    assert result.headers("vary") == vary
    assert result.text == "x"


@pytest.mark.parametrize("credentials", [False, True])
async def test_the_apps_own_cors_headers_are_replaced_for_an_allowed_origin(
    credentials: bool,
) -> None:
    own = [
        ("access-control-allow-origin", "https://stale.example"),
        ("access-control-allow-credentials", "false"),
        ("access-control-expose-headers", "X-Old"),
    ]
    app = CORSMiddleware(
        text_app("x", headers=own),
        allow_origins=["https://a.example"],
        allow_credentials=credentials,
        expose_headers=["X-New"],
    )
    result = await call(app, headers=[("origin", "https://a.example")])
    assert result.headers("access-control-allow-origin") == ["https://a.example"]
    assert result.headers("access-control-expose-headers") == ["X-New"]
    expected = ["true"] if credentials else ["false"]
    assert result.headers("access-control-allow-credentials") == expected


async def test_the_apps_own_cors_headers_stay_for_a_disallowed_origin() -> None:
    own = [("access-control-allow-origin", "https://stale.example")]
    app = CORSMiddleware(text_app("x", headers=own), allow_origins=["https://a.example"])
    result = await call(app, headers=[("origin", "https://b.example")])
    assert result.headers("access-control-allow-origin") == ["https://stale.example"]
    assert result.headers("vary") == ["Origin"]


async def test_start_without_headers_and_list_shaped_headers_are_decorated() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {"type": "http.response.start", "status": 204}
        if scope["path"] == "/lists":
            start["headers"] = [[b"x-own", b"1"]]
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    cors = CORSMiddleware(app, allow_origins=["https://a.example"])
    bare = await call(cors, headers=[("origin", "https://a.example")])
    assert bare.header("access-control-allow-origin") == "https://a.example"
    assert bare.header("vary") == "Origin"
    lists = await call(cors, path="/lists", headers=[("origin", "https://a.example")])
    assert lists.header("x-own") == "1"
    assert lists.header("access-control-allow-origin") == "https://a.example"


async def test_streamed_body_passes_through_untouched() -> None:
    app = CORSMiddleware(stream_app([b"a", b"b", b"c"]), allow_origins=["https://a.example"])
    result = await call(app, headers=[("origin", "https://a.example")])
    assert result.header("access-control-allow-origin") == "https://a.example"
    assert result.body == b"abc"


async def test_the_last_origin_header_counts() -> None:
    app = CORSMiddleware(raw_app(), allow_origins=["https://a.example"])
    headers = [("origin", "https://b.example"), ("origin", "https://a.example")]
    result = await call(app, headers=headers)
    assert result.header("access-control-allow-origin") == "https://a.example"


class OnlyStagingOrigins(CORSMiddleware):
    """A subclass deciding origins itself, as Starlette users do."""

    def is_allowed_origin(self, origin: str) -> bool:
        return origin.endswith(".staging.example")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://a.example", False), ("https://x.staging.example", True)],
)
async def test_a_subclass_is_allowed_origin_decides(origin: str, allowed: bool) -> None:
    app = OnlyStagingOrigins(raw_app(), allow_origins=["https://a.example"])
    simple = await call(app, headers=[("origin", origin)])
    assert (simple.header("access-control-allow-origin") == origin) is allowed
    pre = await call(app, method="OPTIONS", headers=preflight_headers(origin))
    assert (pre.status == 200) is allowed


@pytest.mark.parametrize(
    ("requested", "allowed"),
    [
        pytest.param("X-Token", True, id="one"),
        pytest.param("x-token, ACCEPT", True, id="any-case"),
        pytest.param(" X-Token ,\tContent-Type ", True, id="spaces-and-tabs"),
        pytest.param("X-Token, X-Evil", False, id="one-not-allowed"),
        pytest.param("X-Token,", False, id="trailing-comma"),
        pytest.param("", False, id="empty"),
        pytest.param("X-Token X-Evil", False, id="no-comma"),
    ],
)
async def test_preflight_requested_headers_are_checked_name_by_name(
    requested: str, allowed: bool
) -> None:
    app = CORSMiddleware(raw_app(), allow_origins=["https://a.example"], allow_headers=["X-Token"])
    headers = preflight_headers("https://a.example", access_control_request_headers=requested)
    result = await call(app, method="OPTIONS", headers=headers)
    assert result.status == (200 if allowed else 400)
    if not allowed:
        assert result.text == "Disallowed CORS headers"


# --- allow_origins=["*"] with allow_credentials=True ------------------------------------


def test_wildcard_with_credentials_logs_one_warning_naming_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="flagstone.middleware"):
        CORSMiddleware(raw_app(), allow_origins=["*"], allow_credentials=True)
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "allow_origins=['https://app.example.com']" in record.getMessage()
    assert "strict=True" in record.getMessage()


def test_wildcard_with_credentials_is_not_a_python_warning() -> None:
    # Ported test suites run with warnings as errors (Starlette's, FastAPI's):
    # Starlette accepts this configuration, so constructing it must not raise there.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CORSMiddleware(raw_app(), allow_origins=["*"], allow_credentials=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"allow_origins": ["*"]}, id="star-without-credentials"),
        pytest.param(
            {"allow_origins": ["https://a.example"], "allow_credentials": True},
            id="listed-with-credentials",
        ),
    ],
)
def test_safe_configurations_log_nothing_even_when_strict(
    caplog: pytest.LogCaptureFixture, kwargs: dict[str, Any]
) -> None:
    with caplog.at_level("DEBUG", logger="flagstone.middleware"):
        CORSMiddleware(raw_app(), **kwargs)
        CORSMiddleware(raw_app(), **kwargs, strict=True)
    assert caplog.records == []


def test_strict_refuses_wildcard_with_credentials() -> None:
    with pytest.raises(ValueError, match=r"allow_origins=\['\*'\] with allow_credentials=True"):
        CORSMiddleware(raw_app(), allow_origins=["*"], allow_credentials=True, strict=True)
