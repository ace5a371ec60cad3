"""RedisStore against a real redis-server on 127.0.0.1 (started by the `redis_url` fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import redis

from flagstone_sessions import (
    RedisStore,
    SessionMiddleware,
    SessionStore,
    SessionStoreError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def raw(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, prefix=prefix)
    yield store
    await store.aclose()


def closed_port() -> int:
    """A port nothing listens on (tools/serving.py's free port)."""
    from serving import free_port

    return free_port()


async def test_round_trip_with_redis_expiry(store: RedisStore, raw: Any, prefix: str) -> None:
    assert isinstance(store, SessionStore)
    await store.save("abc", {"cart": [1, 2]}, ttl=300)
    assert await store.load("abc") == {"cart": [1, 2]}
    assert json.loads(raw.get(prefix + "abc")) == {"cart": [1, 2]}
    assert 290 <= raw.ttl(prefix + "abc") <= 300
    await store.delete("abc")
    assert await store.load("abc") is None
    assert raw.exists(prefix + "abc") == 0


async def test_no_ttl_uses_default_ttl(redis_url: str, raw: Any, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix, default_ttl=1000)
    try:
        await store.save("abc", {}, ttl=None)
        assert 990 <= raw.ttl(prefix + "abc") <= 1000
    finally:
        await store.aclose()


async def test_foreign_value_reads_as_no_session(store: RedisStore, raw: Any, prefix: str) -> None:
    raw.set(prefix + "list", "[1, 2]")
    raw.set(prefix + "junk", b"\xff not json")
    assert await store.load("list") is None
    assert await store.load("junk") is None


async def test_two_middleware_instances_share_sessions(
    helpers: Any, redis_url: str, prefix: str
) -> None:
    def login(session: Any) -> Any:
        session.regenerate()
        session["user"] = "ada"
        return None

    actions = {
        "/login": login,
        "/read": lambda s: dict(s),
        "/cart": lambda s: s.setdefault("cart", []).append("book"),
        "/logout": lambda s: s.clear(),
    }
    stores = [RedisStore(redis_url, prefix=prefix) for _ in range(2)]
    try:
        app_a, app_b = (
            SessionMiddleware(helpers.session_app(actions), ["old", "secret"], store=s)
            for s in stores
        )
        jar = helpers.Jar(app_a)
        await jar.get("/login")
        first_cookie = jar.cookies["session"]
        jar.app = app_b
        assert (await jar.get("/read")).json == {"user": "ada"}
        await jar.get("/cart")
        jar.app = app_a
        assert (await jar.get("/read")).json == {"user": "ada", "cart": ["book"]}
        await jar.get("/login")  # regenerate on A ...
        jar.app = app_b
        old = await helpers.call_http(app_b, "/read", f"session={first_cookie}")
        assert old.json == {}  # ... kills the old id for B too
        await jar.get("/logout")
        assert jar.cookies == {}
    finally:
        for s in stores:
            await s.aclose()


SCRIPT = r"""
import asyncio, json, os, sys
from flagstone_sessions import RedisStore, SessionMiddleware

url, prefix, action, cookie = sys.argv[1:5]

async def app(scope, receive, send):
    session = scope["session"]
    if action == "login":
        session.regenerate()
        session["user"] = "ada"
        session["written_by"] = os.getpid()
    elif action == "cart":
        session.setdefault("cart", []).append(os.getpid())
    body = json.dumps({"session": dict(session), "pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})

async def main():
    store = RedisStore(url, prefix=prefix)
    middleware = SessionMiddleware(app, "secret", store=store)
    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers,
             "query_string": b"", "asgi": {"version": "3.0"}}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await middleware(scope, receive, send)
    await store.aclose()
    cookies = [v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie"]
    print(json.dumps({"body": json.loads(sent[1]["body"]), "set_cookies": cookies}))

asyncio.run(main())
"""


def run_process(redis_url: str, prefix: str, action: str, cookie: str = "") -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, redis_url, prefix, action, cookie],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_two_processes_share_sessions_through_redis(redis_url: str, prefix: str) -> None:
    first = run_process(redis_url, prefix, "login")
    [set_cookie] = first["set_cookies"]
    cookie = set_cookie.split(";")[0]
    writer = first["body"]["pid"]

    second = run_process(redis_url, prefix, "cart", cookie)
    assert second["body"]["pid"] != writer
    assert second["body"]["session"] == {
        "user": "ada",
        "written_by": writer,
        "cart": [second["body"]["pid"]],
    }
    # Same id (re-signed with a fresh timestamp when the session was written).
    assert second["set_cookies"][0].split(".")[0] == cookie.split(".")[0]

    third = run_process(redis_url, prefix, "read", cookie)
    assert third["body"]["session"]["cart"] == [second["body"]["pid"]]


async def test_unreachable_redis_fails_fast_with_url(helpers: Any) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    store = RedisStore(url, timeout=2)
    try:
        with anyio.fail_after(10):
            with pytest.raises(SessionStoreError) as info:
                await store.load("x")
        assert url in str(info.value)
        assert "redis-server is running" in str(info.value)

        actions = {"/untouched": lambda s: None, "/reads": lambda s: s.get("user")}
        app = SessionMiddleware(helpers.session_app(actions), "s", store=store)
        cookie = "session=" + helpers.forge_cookie(
            None, key="s", raw_payload=b"A" * 43, salt=b"flagstone.sessions.id"
        )
        with anyio.fail_after(10):
            # Only the endpoint that uses the session is affected, with a 503.
            assert (await helpers.call_http(app, "/untouched", cookie)).status == 200
            response = await helpers.call_http(app, "/reads", cookie)
        assert response.status == 503
        assert b"session store" in response.body
        assert url.encode() not in response.body  # no internals for the client
        assert response.header_values("retry-after") == ["1"]
        assert response.set_cookies == []  # the cookie stays valid for later
    finally:
        await store.aclose()


# Every credential form redis-py accepts, against a closed port so that the
# error message and the log line (which both name the URL) are produced.
CREDENTIAL_URLS = {
    "userinfo_user_and_password": ("redis://user:hunter2@127.0.0.1:{port}/0", "hunter2"),
    "userinfo_password_only": ("redis://:hunter2@127.0.0.1:{port}/0", "hunter2"),
    "userinfo_password_in_user_slot": ("redis://hunter2@127.0.0.1:{port}/0", "hunter2"),
    "userinfo_percent_encoded_at": ("redis://u:hun%40ter2@127.0.0.1:{port}/0", "hun%40ter2"),
    "query_password": ("redis://127.0.0.1:{port}/0?password=hunter2", "hunter2"),
    "query_username": ("redis://127.0.0.1:{port}/0?username=aclhunter2", "aclhunter2"),
    "query_both_among_others": (
        "redis://127.0.0.1:{port}/0?socket_timeout=2&username=aclhunter2&password=hunter2",
        "hunter2",
    ),
    "userinfo_and_query": ("redis://a:hunter2@127.0.0.1:{port}/0?password=hunter3", "hunter"),
}


@pytest.mark.parametrize(
    ("template", "secret"), CREDENTIAL_URLS.values(), ids=CREDENTIAL_URLS.keys()
)
async def test_credentials_are_redacted_everywhere(
    caplog: pytest.LogCaptureFixture, template: str, secret: str
) -> None:
    url = template.format(port=closed_port())
    store = RedisStore(url, timeout=2)
    try:
        with anyio.fail_after(10), pytest.raises(SessionStoreError) as info:
            await store.save("x", {}, 10)
    finally:
        await store.aclose()
    assert secret not in str(info.value)
    assert secret not in caplog.text
    assert secret not in repr(store)
    assert secret not in store.url
    assert "127.0.0.1" in str(info.value)  # still says where it failed
    assert "***" in repr(store)


def test_redaction_keeps_harmless_query_parameters() -> None:
    store = RedisStore("redis://127.0.0.1:1/0?socket_timeout=2&password=pw")
    assert store.url == "redis://127.0.0.1:1/0?socket_timeout=2&password=***"


async def test_sync_client_runs_in_a_thread(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    store = RedisStore(client, prefix=prefix)
    try:
        await store.save("s", {"a": 1}, 60)
        assert await store.load("s") == {"a": 1}
        await store.ping()
    finally:
        await store.aclose()


async def test_asyncio_client(redis_url: str, prefix: str, anyio_backend: str) -> None:
    import redis.asyncio

    store = RedisStore(redis.asyncio.Redis.from_url(redis_url), prefix=prefix)
    try:
        if anyio_backend == "asyncio":
            await store.save("s", {"a": 1}, 60)
            assert await store.load("s") == {"a": 1}
        else:
            with pytest.raises(SessionStoreError, match="only runs on asyncio"):
                await store.load("s")
    finally:
        await store.aclose()


def test_rejects_other_clients() -> None:
    with pytest.raises(TypeError, match="redis:// URL"):
        RedisStore(42)
