"""MemoryStore, and SessionMiddleware with a server-side store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from flagstone_sessions import MemoryStore, Session, SessionMiddleware, SessionStore

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- MemoryStore ------------------------------------------------------------------


async def test_memory_store_round_trip_and_delete() -> None:
    store = MemoryStore()
    assert isinstance(store, SessionStore)
    await store.save("id", {"a": [1]}, ttl=60)
    assert await store.load("id") == {"a": [1]}
    await store.delete("id")
    await store.delete("id")  # missing is fine
    assert await store.load("id") is None


async def test_memory_store_copies_data() -> None:
    store = MemoryStore()
    data = {"cart": [1]}
    await store.save("id", data, ttl=60)
    data["cart"].append(2)
    loaded = await store.load("id")
    assert loaded == {"cart": [1]}
    assert loaded is not None
    loaded["cart"].append(3)
    assert await store.load("id") == {"cart": [1]}


async def test_memory_store_expires() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.save("id", {"a": 1}, ttl=10)
    clock.now += 9.9
    assert await store.load("id") == {"a": 1}
    clock.now += 0.2
    assert await store.load("id") is None
    assert len(store) == 0


async def test_memory_store_prunes_expired_on_save() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for n in range(50):
        await store.save(f"old{n}", {}, ttl=5)
    clock.now += 6
    await store.save("fresh", {}, ttl=5)
    assert len(store) == 1


async def test_memory_store_is_bounded() -> None:
    store = MemoryStore(max_entries=3)
    for n in range(10):
        await store.save(f"id{n}", {"n": n}, ttl=None)
    assert len(store) == 3
    assert await store.load("id0") is None
    assert await store.load("id9") == {"n": 9}


async def test_memory_store_default_ttl_for_browser_sessions() -> None:
    clock = Clock()
    store = MemoryStore(default_ttl=100, clock=clock)
    await store.save("id", {}, ttl=None)
    clock.now += 101
    assert await store.load("id") is None


def test_memory_store_rejects_zero_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)


# -- SessionMiddleware(store=...) -------------------------------------------------


def login(session: Session) -> Any:
    session.regenerate()
    session["user"] = "ada"
    return None


def set_value(session: Session) -> Any:
    session["user"] = "ada"
    return None


ACTIONS = {
    "/set": set_value,
    "/read": lambda s: dict(s),
    "/cart": lambda s: s.setdefault("cart", []).append(1),
    "/login": login,
    "/clear": lambda s: s.clear(),
    "/noop": lambda s: None,
}


def make(helpers: Any, store: Any, **options: Any) -> Any:
    return SessionMiddleware(helpers.session_app(ACTIONS), "secret", store=store, **options)


def session_id(jar: Any) -> str:
    signed = jar.cookies["session"]
    return TimestampSigner("secret", salt=b"flagstone.sessions.id").unsign(signed).decode()


async def test_cookie_carries_only_a_signed_random_id(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    sid = session_id(jar)
    assert len(sid) == 43
    assert "ada" not in jar.cookies["session"]
    assert await store.load(sid) == {"user": "ada"}
    assert (await jar.get("/read")).json == {"user": "ada"}


async def test_store_session_unchanged_is_not_rewritten(helpers: Any) -> None:
    jar = helpers.Jar(make(helpers, MemoryStore()))
    await jar.get("/set")
    response = await jar.get("/read")
    assert response.set_cookies == []
    assert response.header_values("vary") == ["Cookie"]


async def test_store_nested_change_is_saved_under_same_id(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/cart")
    sid = session_id(jar)
    await jar.get("/cart")
    assert session_id(jar) == sid
    assert await store.load(sid) == {"cart": [1, 1]}


async def test_regenerate_issues_new_id_and_deletes_old(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    old = session_id(jar)
    old_cookie = jar.cookies["session"]
    await jar.get("/login")
    new = session_id(jar)
    assert new != old
    assert await store.load(old) is None
    assert await store.load(new) == {"user": "ada"}
    # A stolen pre-login cookie is now worthless, and gets cleared.
    response = await helpers.call_http(make(helpers, store), "/read", f"session={old_cookie}")
    assert response.json == {}
    assert response.set_cookies[0].startswith(
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )


async def test_clearing_deletes_the_record(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    sid = session_id(jar)
    response = await jar.get("/clear")
    assert response.set_cookies[0].startswith(
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )
    assert await store.load(sid) is None
    assert len(store) == 0


async def test_missing_record_gets_a_fresh_id_not_the_old_one(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    planted = session_id(jar)
    await store.delete(planted)  # expired server side
    await jar.get("/set")
    assert session_id(jar) != planted


async def test_expired_record_clears_cookie_even_untouched(helpers: Any) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    jar = helpers.Jar(make(helpers, store, max_age=60))
    await jar.get("/set")
    clock.now += 61
    response = await jar.get("/noop")
    assert response.set_cookies[0].startswith(
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )


async def test_store_ttl_is_max_age(helpers: Any) -> None:
    saved: list[Any] = []

    class Recording(MemoryStore):
        async def save(self, session_id: str, data: dict[str, Any], ttl: int | None) -> None:
            saved.append(ttl)
            await super().save(session_id, data, ttl)

    response = await helpers.call_http(make(helpers, Recording(), max_age=120), "/set")
    assert saved == [120]
    assert "Max-Age=120" in response.set_cookies[0]


async def test_sliding_expiry_refreshes_store_and_cookie(helpers: Any) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    jar = helpers.Jar(make(helpers, store, max_age=60, sliding_expiry=True))
    await jar.get("/set")
    for _ in range(3):
        clock.now += 50  # 150 s in all: only alive because each read slides
        response = await jar.get("/read")
        assert response.json == {"user": "ada"}
        assert "Max-Age=60" in response.set_cookies[0]


async def test_fixed_expiry_store_session_expires(helpers: Any) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    jar = helpers.Jar(make(helpers, store, max_age=60))
    await jar.get("/set")
    clock.now += 50
    assert (await jar.get("/read")).json == {"user": "ada"}
    clock.now += 50
    assert (await jar.get("/read")).json == {}


BAD_ID_COOKIES = {
    "unsigned_id": lambda h: "A" * 43,
    "tampered_id": lambda h: h.tamper(h.forge_cookie(None, raw_payload=b"A" * 43, salt=b"flagstone.sessions.id")),
    "signed_non_id": lambda h: h.forge_cookie(None, raw_payload=b"../../etc", salt=b"flagstone.sessions.id"),
    "data_cookie_salt": lambda h: h.forge_cookie(None, raw_payload=b"A" * 43),
    "unknown_id": lambda h: h.forge_cookie(None, raw_payload=b"A" * 43, salt=b"flagstone.sessions.id"),
    "expired_id": lambda h: h.forge_cookie(None, raw_payload=b"A" * 43, salt=b"flagstone.sessions.id", age=30 * 86400),
}  # fmt: skip


@pytest.mark.parametrize("make_cookie", BAD_ID_COOKIES.values(), ids=BAD_ID_COOKIES.keys())
async def test_bad_id_cookie_gives_empty_session(helpers: Any, make_cookie: Any) -> None:
    response = await helpers.call_http(
        make(helpers, MemoryStore()), "/read", f"session={make_cookie(helpers)}"
    )
    assert response.status == 200
    assert response.json == {}
    assert response.set_cookies[0].startswith(
        "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; "
    )


async def test_unverified_ids_never_reach_the_store(helpers: Any) -> None:
    loads: list[str] = []

    class Recording(MemoryStore):
        async def load(self, session_id: str) -> dict[str, Any] | None:
            loads.append(session_id)
            return await super().load(session_id)

    app = make(helpers, Recording())
    for name in ("unsigned_id", "tampered_id", "signed_non_id", "data_cookie_salt", "expired_id"):
        await helpers.call_http(app, "/read", f"session={BAD_ID_COOKIES[name](helpers)}")
    assert loads == []


async def test_store_websocket_saves_after_accept(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    sid = session_id(jar)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        scope["session"]["messages"] = 1
        await send({"type": "websocket.close", "code": 1000})

    ws_app = SessionMiddleware(app, "secret", store=store)
    await helpers.call_websocket(ws_app, f"session={jar.cookies['session']}")
    assert await store.load(sid) == {"user": "ada", "messages": 1}


async def test_store_websocket_new_session_set_on_accept(helpers: Any) -> None:
    store = MemoryStore()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        scope["session"]["ws"] = 1
        await send({"type": "websocket.accept"})
        scope["session"]["later"] = 2
        await send({"type": "websocket.close", "code": 1000})

    sent = await helpers.call_websocket(SessionMiddleware(app, "secret", store=store))
    jar = helpers.Jar(None)
    jar.absorb([v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie"])
    assert await store.load(session_id(jar)) == {"ws": 1, "later": 2}


async def test_store_saves_changes_made_after_response_start(helpers: Any) -> None:
    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        scope["session"]["streamed"] = True
        await send({"type": "http.response.body", "body": b""})

    await helpers.call_http(
        SessionMiddleware(app, "secret", store=store), "/", f"session={jar.cookies['session']}"
    )
    assert await store.load(session_id(jar)) == {"user": "ada", "streamed": True}


async def test_store_regenerate_after_response_start_raises(helpers: Any) -> None:
    from flagstone_sessions import SessionReadOnlyError

    store = MemoryStore()
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        scope["session"].regenerate()

    app_with_sessions = SessionMiddleware(app, "secret", store=store)
    with pytest.raises(SessionReadOnlyError, match="regenerate"):
        await helpers.call_http(app_with_sessions, "/", f"session={jar.cookies['session']}")
    assert await store.load(session_id(jar)) == {"user": "ada"}


async def test_new_store_session_after_response_start_raises(helpers: Any) -> None:
    from flagstone_sessions import SessionReadOnlyError

    errors: list[Exception] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            scope["session"]["x"] = 1
        except SessionReadOnlyError as exc:
            errors.append(exc)

    await helpers.call_http(SessionMiddleware(app, "secret", store=MemoryStore()))
    assert len(errors) == 1


async def test_custom_store_protocol(helpers: Any) -> None:
    class DictStore:
        def __init__(self) -> None:
            self.data: dict[str, str] = {}

        async def load(self, session_id: str) -> dict[str, Any] | None:
            text = self.data.get(session_id)
            return None if text is None else json.loads(text)

        async def save(self, session_id: str, data: dict[str, Any], ttl: int | None) -> None:
            self.data[session_id] = json.dumps(data)

        async def delete(self, session_id: str) -> None:
            self.data.pop(session_id, None)

    store = DictStore()
    assert isinstance(store, SessionStore)
    jar = helpers.Jar(make(helpers, store))
    await jar.get("/set")
    assert list(store.data.values()) == ['{"user": "ada"}']
