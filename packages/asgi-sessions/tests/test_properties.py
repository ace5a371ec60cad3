"""Property tests: any JSON session round-trips; no cookie value can cause an error."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagstone_contract import Middleware, wrap_middleware
from flagstone_sessions import SessionMiddleware

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
sessions = st.dictionaries(st.text(min_size=1, max_size=10), json_values, min_size=1, max_size=5)

# `helpers` is a stateless namespace, so sharing it across examples is safe.
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def echo_app(new_data: dict[str, Any] | None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        session = scope["session"]
        if new_data is not None:
            session.update(new_data)
        body = json.dumps(session).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@FAST
@given(data=sessions)
def test_any_json_session_round_trips(helpers: Any, backend: str, data: dict[str, Any]) -> None:
    async def scenario() -> None:
        jar = helpers.Jar(SessionMiddleware(echo_app(data), "secret"))
        await jar.get()
        jar.app = SessionMiddleware(echo_app(None), "secret")
        response = await jar.get()
        assert json.loads(response.body) == json.loads(json.dumps(data))
        assert response.set_cookies == []  # read back unchanged: nothing rewritten

    anyio.run(scenario, backend=backend)


cookie_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";"),
    max_size=300,
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@FAST
@given(value=cookie_text)
def test_arbitrary_cookie_never_errors(helpers: Any, backend: str, value: str) -> None:
    async def scenario() -> None:
        app = SessionMiddleware(echo_app(None), "secret")
        response = await helpers.call_http(app, "/", f"session={value}")
        assert response.status == 200
        assert json.loads(response.body) == {}

    anyio.run(scenario, backend=backend)


@pytest.mark.anyio
async def test_declared_through_contract_middleware(helpers: Any) -> None:
    app = wrap_middleware(
        echo_app({"via": "Middleware"}),
        [Middleware(SessionMiddleware, secret_key=["old", "new"], sliding_expiry=True)],
    )
    response = await helpers.call_http(app)
    assert json.loads(response.body) == {"via": "Middleware"}
    assert len(response.set_cookies) == 1
