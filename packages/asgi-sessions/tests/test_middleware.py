"""SessionMiddleware with cookie sessions, driven as raw ASGI (no other flagstone package)."""

from __future__ import annotations

import json
import re
from base64 import b64decode, b64encode
from datetime import timedelta
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from flagstone_sessions import (
    CookieTooLargeError,
    MemoryStore,
    Session,
    SessionMiddleware,
    SessionNotSerializableError,
)

pytestmark = pytest.mark.anyio

DAY = 24 * 3600


def set_value(session: Session) -> Any:
    session["user"] = "ada"
    return dict(session)


def read(session: Session) -> Any:
    return dict(session)


def noop(session: Session) -> Any:
    return None


def append_cart(session: Session) -> Any:
    session.setdefault("cart", [])
    session["cart"].append(len(session["cart"]))
    return session["cart"]


def append_only(session: Session) -> Any:
    session["cart"].append("nested")
    return session["cart"]


def clear(session: Session) -> Any:
    session.clear()
    return None


def set_same(session: Session) -> Any:
    session["user"] = session["user"]
    return None


ACTIONS = {
    "/set": set_value,
    "/read": read,
    "/noop": noop,
    "/cart": append_cart,
    "/append": append_only,
    "/clear": clear,
    "/same": set_same,
}


def make(helpers: Any, **options: Any) -> Any:
    options.setdefault("secret_key", "secret")
    return SessionMiddleware(helpers.session_app(ACTIONS), **options)


def cookie_payload(set_cookie: str) -> dict[str, Any]:
    value = set_cookie.split(";")[0].partition("=")[2]
    return json.loads(b64decode(value.rsplit(".", 2)[0]))


# -- the basic contract ---------------------------------------------------------


async def test_session_round_trip(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    first = await jar.get("/set")
    assert first.json == {"user": "ada"}
    assert len(first.set_cookies) == 1
    second = await jar.get("/read")
    assert second.json == {"user": "ada"}


async def test_read_only_access_adds_vary_but_no_set_cookie(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    await jar.get("/set")
    response = await jar.get("/read")
    assert response.header_values("vary") == ["Cookie"]
    assert response.set_cookies == []


async def test_untouched_session_sends_neither_vary_nor_cookie(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    await jar.get("/set")
    response = await jar.get("/noop")
    assert response.header_values("vary") == []
    assert response.set_cookies == []


async def test_writing_an_equal_value_sends_no_cookie(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    await jar.get("/set")
    response = await jar.get("/same")
    assert response.set_cookies == []


async def test_nested_change_is_saved(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    await jar.get("/cart")
    response = await jar.get("/append")
    assert len(response.set_cookies) == 1
    assert (await jar.get("/read")).json == {"cart": [0, "nested"]}


async def test_emptied_session_clears_cookie(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers))
    await jar.get("/set")
    response = await jar.get("/clear")
    [set_cookie] = response.set_cookies
    assert set_cookie.startswith("session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; ")
    assert "; path=/; " in set_cookie
    assert jar.cookies == {}


async def test_emptying_an_absent_session_sends_nothing(helpers: Any) -> None:
    response = await helpers.call_http(make(helpers), "/clear")
    assert response.set_cookies == []


async def test_cookie_attributes(helpers: Any) -> None:
    app = make(
        helpers,
        session_cookie="sid",
        max_age=3600,
        path="/app",
        same_site="strict",
        https_only=True,
        domain="example.com",
        partitioned=True,
    )
    [set_cookie] = (await helpers.call_http(app, "/set")).set_cookies
    name_value, attributes = set_cookie.split("; ", 1)
    assert name_value.startswith("sid=")
    # Starlette's spelling and order, attribute for attribute.
    assert attributes == (
        "path=/app; Max-Age=3600; httponly; samesite=strict; secure; "
        "domain=example.com; partitioned"
    )


async def test_browser_session_cookie_has_no_max_age(helpers: Any) -> None:
    app = make(helpers, max_age=None)
    [set_cookie] = (await helpers.call_http(app, "/set")).set_cookies
    assert "Max-Age" not in set_cookie
    # ...and no timestamp check: an old cookie is still accepted.
    old = helpers.forge_cookie({"user": "old"}, age=400 * DAY)
    assert (await helpers.call_http(app, "/read", f"session={old}")).json == {"user": "old"}


async def test_a_negative_max_age_expires_every_session_as_in_starlette(helpers: Any) -> None:
    # Starlette's test_session_expires: the cookie is written, and refused when it comes back.
    app = make(helpers, max_age=-1)
    response = await helpers.call_http(app, "/set")
    [set_cookie] = response.set_cookies
    assert "; Max-Age=-1; " in set_cookie
    match = re.search(r"session=([^;]*);", set_cookie)
    assert match is not None
    response = await helpers.call_http(app, "/read", f"session={match[1]}")
    assert response.json == {}


async def test_max_age_accepts_timedelta(helpers: Any) -> None:
    app = make(helpers, max_age=timedelta(hours=2))
    [set_cookie] = (await helpers.call_http(app, "/set")).set_cookies
    assert "Max-Age=7200" in set_cookie


async def test_starlette_cookie_format_is_read_and_not_rewritten(helpers: Any) -> None:
    # Starlette writes base64(json.dumps(session)) signed by TimestampSigner(key)
    # with itsdangerous' default salt: existing sessions survive a port.
    legacy = helpers.forge_cookie({"user": "ada", "n": [1, 2]})
    response = await helpers.call_http(make(helpers), "/read", f"session={legacy}")
    assert response.json == {"user": "ada", "n": [1, 2]}
    assert response.set_cookies == []


async def test_written_cookie_is_starlette_compatible(helpers: Any) -> None:
    [set_cookie] = (await helpers.call_http(make(helpers), "/set")).set_cookies
    value = set_cookie.split(";")[0].partition("=")[2]
    payload = TimestampSigner("secret").unsign(value, max_age=60)
    assert json.loads(b64decode(payload)) == {"user": "ada"}


async def test_other_cookies_are_ignored(helpers: Any) -> None:
    cookie = helpers.forge_cookie({"user": "ada"})
    header = f"theme=dark; xsession=zzz; session={cookie}; other=1"
    assert (await helpers.call_http(make(helpers), "/read", header)).json == {"user": "ada"}


async def test_first_valid_of_duplicate_cookies_wins(helpers: Any) -> None:
    # Cookie tossing: a sibling subdomain plants a second "session" cookie.
    good = helpers.forge_cookie({"user": "ada"})
    header = f"session=planted-garbage; session={good}"
    response = await helpers.call_http(make(helpers), "/read", header)
    assert response.json == {"user": "ada"}
    assert response.set_cookies == []  # clearing would also drop the good one


async def test_first_of_two_valid_cookies_wins(helpers: Any) -> None:
    # Two validly signed cookies (a tossed one, or a leftover after a path or
    # domain change).  Starlette takes the last; flagstone the first that
    # verifies, which browsers make the most specific path, then the oldest.
    mine = helpers.forge_cookie({"user": "ada"})
    theirs = helpers.forge_cookie({"user": "mallory"})
    first = await helpers.call_http(make(helpers), "/read", f"session={mine}; session={theirs}")
    assert first.json == {"user": "ada"}
    assert first.set_cookies == []
    swapped = await helpers.call_http(make(helpers), "/read", f"session={theirs}; session={mine}")
    assert swapped.json == {"user": "mallory"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"session_cookie": "__Host-session"}, "needs https_only=True, path='/' and no domain"),
        (
            {"session_cookie": "__Host-session", "https_only": True, "path": "/app"},
            "path='/'",
        ),
        (
            {"session_cookie": "__Host-session", "https_only": True, "domain": "example.com"},
            "no domain",
        ),
        ({"session_cookie": "__Secure-session"}, "__Secure- cookie that is not Secure"),
    ],
    ids=["host-not-secure", "host-with-path", "host-with-domain", "secure-not-secure"],
)
def test_cookie_name_prefixes_need_their_attributes(
    helpers: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        SessionMiddleware(helpers.session_app({}), secret_key="secret", **options)


async def test_a_host_prefixed_cookie_works(helpers: Any) -> None:
    app = make(helpers, session_cookie="__Host-session", https_only=True)
    response = await helpers.call_http(app, "/set")
    [set_cookie] = response.set_cookies
    assert set_cookie.startswith("__Host-session=")
    assert "secure" in set_cookie.lower()
    assert "domain" not in set_cookie.lower()


async def test_lifespan_passes_through(helpers: Any) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert "session" not in scope

    await SessionMiddleware(app, "secret")({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_existing_vary_header_is_extended(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"].get("x")
        headers = [(b"Vary", b"Accept-Encoding")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    assert response.header_values("vary") == ["Accept-Encoding, Cookie"]


async def test_app_message_object_is_not_mutated(helpers: Any) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["a"] = 1
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    assert len(response.set_cookies) == 1
    assert start["headers"] == [(b"x", b"1")]


async def test_replaced_session_mapping_is_saved(helpers: Any) -> None:
    # Starlette saves whatever scope["session"] holds at response time.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"] = {"replaced": True}
        await send({"type": "http.response.start", "status": 200, "headers": []})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    assert cookie_payload(response.set_cookies[0]) == {"replaced": True}
    assert response.header_values("vary") == ["Cookie"]


async def test_session_replaced_by_none_clears_cookie(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"] = None
        await send({"type": "http.response.start", "status": 200, "headers": []})

    cookie = helpers.forge_cookie({"user": "ada"})
    response = await helpers.call_http(SessionMiddleware(app, "secret"), "/", f"session={cookie}")
    assert response.set_cookies[0].startswith(
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )


async def test_session_replaced_by_non_mapping_says_so(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"] = ["not", "a", "mapping"]
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(TypeError, match="replaced by a list"):
        await helpers.call_http(SessionMiddleware(app, "secret"))


# -- key rotation ---------------------------------------------------------------


async def test_old_key_is_accepted_and_rewritten_with_newest(helpers: Any) -> None:
    old_cookie = helpers.forge_cookie({"user": "ada"}, key="old")
    app = make(helpers, secret_key=["old", "new"])
    assert (await helpers.call_http(app, "/read", f"session={old_cookie}")).json == {"user": "ada"}
    response = await helpers.call_http(app, "/cart", f"session={old_cookie}")
    [set_cookie] = response.set_cookies
    value = set_cookie.split(";")[0].partition("=")[2]
    TimestampSigner("new").unsign(value)  # signed with the newest key
    with pytest.raises(Exception, match="does not match"):
        TimestampSigner("old").unsign(value)


async def test_key_list_is_not_stringified(helpers: Any) -> None:
    # Starlette's str(secret_key) would sign with "['a', 'b']".
    response = await helpers.call_http(make(helpers, secret_key=["a", "b"]), "/set")
    value = response.set_cookies[0].split(";")[0].partition("=")[2]
    TimestampSigner("b").unsign(value)


async def test_secret_object_is_read_through_str(helpers: Any) -> None:
    class Secret:
        def __str__(self) -> str:
            return "secret"

    app = make(helpers, secret_key=Secret())
    cookie = helpers.forge_cookie({"user": "ada"})
    assert (await helpers.call_http(app, "/read", f"session={cookie}")).json == {"user": "ada"}


# -- expiry ---------------------------------------------------------------------


async def test_fixed_expiry_does_not_renew_on_read(helpers: Any) -> None:
    cookie = helpers.forge_cookie({"user": "ada"}, age=10 * DAY)
    response = await helpers.call_http(make(helpers), "/read", f"session={cookie}")
    assert response.json == {"user": "ada"}
    assert response.set_cookies == []


async def test_sliding_expiry_renews_on_read(helpers: Any) -> None:
    cookie = helpers.forge_cookie({"user": "ada"}, age=10 * DAY)
    app = make(helpers, sliding_expiry=True)
    response = await helpers.call_http(app, "/read", f"session={cookie}")
    [set_cookie] = response.set_cookies
    value = set_cookie.split(";")[0].partition("=")[2]
    # A 10-day-old session renewed now is valid for less than a minute's age.
    TimestampSigner("secret").unsign(value, max_age=60)
    assert "Max-Age=1209600" in set_cookie


async def test_sliding_expiry_leaves_untouched_requests_alone(helpers: Any) -> None:
    cookie = helpers.forge_cookie({"user": "ada"}, age=DAY)
    app = make(helpers, sliding_expiry=True)
    assert (await helpers.call_http(app, "/noop", f"session={cookie}")).set_cookies == []


# -- bad cookies: empty session, cookie cleared, never a 500 --------------------

BAD_COOKIES = {
    "tampered": lambda h: h.tamper(h.forge_cookie({"user": "ada"})),
    "tampered_payload": lambda h: (
        b64encode(b'{"user":"root"}').decode() + "." + h.forge_cookie({}).split(".", 1)[1]
    ),
    "expired": lambda h: h.forge_cookie({"user": "ada"}, age=15 * DAY),
    "removed_old_key": lambda h: h.forge_cookie({"user": "ada"}, key="retired"),
    "oversize": lambda h: h.forge_cookie({"junk": "x" * 5000}),
    "not_signed": lambda h: b64encode(b'{"user":"ada"}').decode(),
    "not_base64": lambda h: h.forge_cookie(None, raw_payload=b"!!not base64!!"),
    "not_json": lambda h: h.forge_cookie(None, raw_payload=b64encode(b"{not json")),
    "not_utf8": lambda h: h.forge_cookie(None, raw_payload=b64encode(b"\xff\xfe")),
    "signed_garbage": lambda h: h.forge_cookie(None, raw_payload=b"\x00\x01garbage"),
    "json_list": lambda h: h.forge_cookie([1, 2, 3]),
    "json_string": lambda h: h.forge_cookie("user"),
    "wrong_salt": lambda h: h.forge_cookie({"user": "ada"}, salt=b"flagstone.sessions.id"),
    "empty_value": lambda h: "",
    "future_timestamp": lambda h: h.forge_cookie({"user": "ada"}, age=-3600),
    "deep_json": lambda h: h.forge_cookie(None, raw_payload=b64encode(b"[" * 2000)),
}


@pytest.mark.parametrize("make_cookie", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
async def test_bad_cookie_gives_empty_session_and_is_cleared(
    helpers: Any, make_cookie: Any
) -> None:
    app = make(helpers)
    response = await helpers.call_http(app, "/read", f"session={make_cookie(helpers)}")
    assert response.status == 200
    assert response.json == {}
    [set_cookie] = response.set_cookies
    assert set_cookie.startswith("session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; ")


@pytest.mark.parametrize("make_cookie", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
async def test_bad_cookie_is_cleared_even_when_untouched(helpers: Any, make_cookie: Any) -> None:
    response = await helpers.call_http(make(helpers), "/noop", f"session={make_cookie(helpers)}")
    assert [c.split(";")[0] for c in response.set_cookies] == ["session=null"]


async def test_bad_cookie_replaced_when_app_writes(helpers: Any) -> None:
    bad = BAD_COOKIES["tampered"](helpers)
    response = await helpers.call_http(make(helpers), "/set", f"session={bad}")
    [set_cookie] = response.set_cookies
    assert cookie_payload(set_cookie) == {"user": "ada"}


# -- loud failures at write time ------------------------------------------------


async def test_oversized_cookie_fails_loudly(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["blob"] = "x" * 3500
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(CookieTooLargeError) as info:
        await helpers.call_http(SessionMiddleware(app, "secret"))
    message = str(info.value)
    assert "4096" in message
    assert "server side" in message
    size = int(message.split(" would be ")[1].split(" ")[0])
    assert size > 4096


async def test_cookie_just_under_limit_is_sent(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["blob"] = "x" * 2800
        await send({"type": "http.response.start", "status": 200, "headers": []})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    [set_cookie] = response.set_cookies
    assert 3800 < len("set-cookie: " + set_cookie) <= 4096 + len("set-cookie: ")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (object(), "session['bad']"),
        ({"when": {1, 2}}, "session['bad']['when']"),
        ([1, 2, b"bytes"], "session['bad'][2]"),
        ({(1, 2): "tuple key"}, "session['bad']"),
    ],
    ids=["object", "nested_set", "bytes_in_list", "tuple_key"],
)
async def test_non_json_value_names_its_key(helpers: Any, value: Any, where: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["ok"] = 1
        scope["session"]["bad"] = value
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(SessionNotSerializableError) as info:
        await helpers.call_http(SessionMiddleware(app, "secret"))
    assert str(info.value).startswith(where + " is ")
    assert isinstance(info.value, TypeError)


async def test_absurdly_deep_value_is_reported(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        deep: list[Any] = []
        for _ in range(100_000):
            deep = [deep]
        scope["session"]["deep"] = deep
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(SessionNotSerializableError, match="not JSON-serialisable"):
        await helpers.call_http(SessionMiddleware(app, "secret"))


async def test_circular_value_is_reported(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        loop: list[Any] = []
        loop.append(loop)
        scope["session"]["loop"] = loop
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(SessionNotSerializableError, match="circular"):
        await helpers.call_http(SessionMiddleware(app, "secret"))


# -- changes after the response started ------------------------------------------


async def test_write_after_response_start_raises(helpers: Any) -> None:
    from flagstone_sessions import SessionReadOnlyError

    errors: list[Exception] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["early"] = 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            scope["session"]["late"] = 1
        except SessionReadOnlyError as exc:
            errors.append(exc)
        await send({"type": "http.response.body", "body": b""})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    assert cookie_payload(response.set_cookies[0]) == {"early": 1}
    [error] = errors
    assert "with the response headers" in str(error)


async def test_nested_change_after_response_start_is_reported(helpers: Any) -> None:
    from flagstone_sessions import SessionReadOnlyError

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        scope["session"]["cart"].append("late")
        await send({"type": "http.response.body", "body": b""})

    cookie = helpers.forge_cookie({"cart": []})
    with pytest.raises(SessionReadOnlyError, match="after the response started"):
        await helpers.call_http(SessionMiddleware(app, "secret"), "/", f"session={cookie}")


async def test_replacing_the_session_after_response_start_is_reported(helpers: Any) -> None:
    # Not a change through the Session object (whose flags were reset when
    # the cookie went out) but a new mapping in the scope: still caught.
    from flagstone_sessions import SessionReadOnlyError

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        scope["session"] = {"late": 1}
        await send({"type": "http.response.body", "body": b""})

    with pytest.raises(SessionReadOnlyError, match="after the response started"):
        await helpers.call_http(SessionMiddleware(app, "secret"))


async def test_reading_after_response_start_is_fine(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["a"] = [1]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = json.dumps(scope["session"]["a"]).encode()
        await send({"type": "http.response.body", "body": body})

    response = await helpers.call_http(SessionMiddleware(app, "secret"))
    assert response.body == b"[1]"


async def test_session_flags_reset_at_save(helpers: Any) -> None:
    flags: list[tuple[bool, bool]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        session = scope["session"]
        session["a"] = 1
        flags.append((session.accessed, session.modified))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        flags.append((session.accessed, session.modified))
        await send({"type": "http.response.body", "body": b""})

    await helpers.call_http(SessionMiddleware(app, "secret"))
    assert flags == [(True, True), (False, False)]


# -- configuration errors -------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret_key": []}, "empty list"),
        ({"secret_key": ""}, "non-empty"),
        ({"secret_key": ["ok", ""]}, "non-empty"),
        ({"session_cookie": "bad name"}, "not a valid cookie name"),
        ({"session_cookie": "a;b"}, "not a valid cookie name"),
        ({"path": "/x; Domain=evil.com"}, "path"),
        ({"path": "/x\r\nSet-Cookie: a=b"}, "path"),
        ({"path": "relative"}, "path"),
        ({"domain": "evil.com; Secure"}, "domain"),
        ({"same_site": "sometimes"}, "same_site"),
        ({"same_site": "none"}, "https_only=True"),
        ({"partitioned": True}, "https_only=True"),
        ({"max_age": "14 days"}, "max_age"),
        ({"max_age": -1, "store": MemoryStore()}, "max_age must be >= 0 with a session store"),
    ],
    ids=lambda v: repr(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_configuration_is_rejected(helpers: Any, options: dict[str, Any], message: str) -> None:
    options = {"secret_key": "secret", **options}
    with pytest.raises(ValueError, match=message):
        SessionMiddleware(helpers.session_app({}), **options)


# -- websockets -----------------------------------------------------------------


async def test_websocket_reads_session(helpers: Any) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        seen.append(dict(scope["session"]))
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    cookie = helpers.forge_cookie({"user": "ada"})
    sent = await helpers.call_websocket(SessionMiddleware(app, "secret"), f"session={cookie}")
    assert seen == [{"user": "ada"}]
    assert "headers" not in sent[0]  # read-only: nothing to set


async def test_websocket_change_before_accept_sets_cookie_on_accept(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        scope["session"]["ws"] = True
        await send({"type": "websocket.accept", "headers": [(b"x-app", b"1")]})
        await send({"type": "websocket.close", "code": 1000})

    sent = await helpers.call_websocket(SessionMiddleware(app, "secret"))
    accept = sent[0]
    assert accept["type"] == "websocket.accept"
    names = [name for name, _ in accept["headers"]]
    assert names == [b"x-app", b"set-cookie"]
    assert cookie_payload(accept["headers"][1][1].decode()) == {"ws": True}


async def test_websocket_write_after_accept_raises(helpers: Any) -> None:
    errors: list[Exception] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            scope["session"]["late"] = 1
        except Exception as exc:
            errors.append(exc)
        await send({"type": "websocket.close", "code": 1000})

    await helpers.call_websocket(SessionMiddleware(app, "secret"))
    [error] = errors
    assert "websocket.accept" in str(error)
    assert "store=" in str(error)


async def test_websocket_nested_change_after_accept_is_reported(helpers: Any) -> None:
    from flagstone_sessions import SessionReadOnlyError

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        scope["session"]["cart"].append("late")
        await send({"type": "websocket.close", "code": 1000})

    cookie = helpers.forge_cookie({"cart": []})
    with pytest.raises(SessionReadOnlyError, match="lost"):
        await helpers.call_websocket(SessionMiddleware(app, "secret"), f"session={cookie}")


async def test_websocket_denial_response_carries_cookie(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        scope["session"].clear()
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no"})

    cookie = helpers.forge_cookie({"user": "ada"})
    sent = await helpers.call_websocket(SessionMiddleware(app, "secret"), f"session={cookie}")
    headers = dict(sent[0]["headers"])
    assert headers[b"set-cookie"].startswith(
        b"session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )
    assert headers[b"vary"] == b"Cookie"


async def test_websocket_bad_cookie_cleared_on_accept(helpers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    sent = await helpers.call_websocket(SessionMiddleware(app, "secret"), "session=garbage")
    assert dict(sent[0]["headers"])[b"set-cookie"].startswith(b"session=null;")
