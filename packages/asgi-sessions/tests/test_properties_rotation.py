"""Property tests: the cookie format round-trips, and key rotation works for any key list.

test_properties.py covers "any JSON session round-trips" and "no cookie
value causes an error"; this file adds the cookie encoding itself
(Starlette's `base64(json).timestamp.signature`, readable by itsdangerous
with the newest key) and rotation: a cookie signed with ANY key of the list
is accepted, every write signs with the newest, and a key outside the list
is refused.
"""

from __future__ import annotations

import json
from base64 import b64decode
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature, TimestampSigner

from flagstone_sessions import SessionMiddleware

FAST = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])

keys = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=16)
key_lists = st.lists(keys, min_size=1, max_size=4, unique=True)
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
sessions = st.dictionaries(
    st.text(min_size=1, max_size=8),
    json_scalars | st.lists(json_scalars, max_size=3),
    min_size=1,
    max_size=4,
)


def app(write: dict[str, Any] | None) -> Any:
    """Echo the session as JSON, after updating it with `write` (if given)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if write is not None:
            scope["session"].update(write)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(scope["session"]).encode()})

    return asgi


def session_cookie(set_cookies: list[str]) -> str:
    [set_cookie] = [c for c in set_cookies if c.startswith("session=")]
    return set_cookie.split(";", 1)[0].removeprefix("session=")


@BACKENDS
@FAST
@given(secret=key_lists, data=sessions)
def test_written_cookie_is_starlette_format_under_the_newest_key(
    helpers: Any, backend: str, secret: list[str], data: dict[str, Any]
) -> None:
    async def scenario() -> None:
        response = await helpers.call_http(SessionMiddleware(app(data), secret))
        cookie = session_cookie(response.set_cookies)
        payload = TimestampSigner(secret[-1]).unsign(cookie)
        assert json.loads(b64decode(payload)) == data
        for old in secret[:-1]:
            with pytest.raises(BadSignature):
                TimestampSigner(old).unsign(cookie)

    anyio.run(scenario, backend=backend)


@BACKENDS
@FAST
@given(secret=key_lists, data=sessions, pick=st.integers(min_value=0), extra=sessions)
def test_cookie_signed_with_any_listed_key_is_accepted_and_resigned_with_the_newest(
    helpers: Any,
    backend: str,
    secret: list[str],
    data: dict[str, Any],
    pick: int,
    extra: dict[str, Any],
) -> None:
    signing_key = secret[pick % len(secret)]
    cookie = "session=" + helpers.forge_cookie(data, signing_key)
    changed = {**data, **extra}
    assume(changed != data)

    async def scenario() -> None:
        read = await helpers.call_http(SessionMiddleware(app(None), secret), cookie=cookie)
        assert read.json == data
        written = await helpers.call_http(SessionMiddleware(app(extra), secret), cookie=cookie)
        assert written.json == changed
        new_cookie = session_cookie(written.set_cookies)
        # Readable under the newest key alone: the old key can be retired.
        newest_only = await helpers.call_http(
            SessionMiddleware(app(None), secret[-1]), cookie=f"session={new_cookie}"
        )
        assert newest_only.json == changed

    anyio.run(scenario, backend=backend)


@BACKENDS
@FAST
@given(secret=key_lists, stranger=keys, data=sessions)
def test_cookie_signed_with_an_unlisted_key_is_refused_and_cleared(
    helpers: Any, backend: str, secret: list[str], stranger: str, data: dict[str, Any]
) -> None:
    assume(stranger not in secret)
    cookie = "session=" + helpers.forge_cookie(data, stranger)

    async def scenario() -> None:
        response = await helpers.call_http(SessionMiddleware(app(None), secret), cookie=cookie)
        assert response.json == {}
        # The useless cookie is cleared rather than sent again and again.
        [cleared] = [c for c in response.set_cookies if c.startswith("session=")]
        assert "max-age=0" in cleared.lower() or "expires=thu, 01 jan 1970" in cleared.lower()

    anyio.run(scenario, backend=backend)
