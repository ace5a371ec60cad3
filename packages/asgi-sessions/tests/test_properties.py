"""Property tests: any JSON session round-trips; no cookie value can cause an error."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import BadSignature, TimestampSigner

from flagstone_contract import Middleware, wrap_middleware
from flagstone_sessions import SessionMiddleware
from flagstone_sessions._codec import ID_SALT, PayloadSigner, deserialize, serialize

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


# --- the signer is itsdangerous' TimestampSigner ------------------------------------

signer_keys = st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=3)
salts = st.sampled_from([None, ID_SALT])
# Bytes that matter to the format: separators, padding, both base64 alphabets.
format_bytes = st.binary(max_size=3) | st.sampled_from([b".", b"=", b"-", b"_", b"+", b"/", b"!"])


def reference_signer(keys: list[bytes], salt: bytes | None, age: int = 0) -> TimestampSigner:
    now = int(time.time())

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return now - age

    return PastSigner(keys, salt=b"itsdangerous.Signer" if salt is None else salt)


def reference_unsign(signer: TimestampSigner, signed: bytes, max_age: int | None) -> bytes | None:
    try:
        return signer.unsign(signed, max_age=max_age)
    except BadSignature:
        return None


@FAST
@given(value=st.binary(max_size=40), keys=signer_keys, salt=salts)
def test_signature_is_itsdangerous_timestamp_signer_output(
    value: bytes, keys: list[bytes], salt: bytes | None
) -> None:
    reference = TimestampSigner(keys, salt=b"itsdangerous.Signer" if salt is None else salt)
    before = int(time.time())
    signed = PayloadSigner(keys, None, salt).sign(value)
    after = int(time.time())
    stamped, _, signature = signed.rpartition(b".")
    # The very bytes itsdangerous would produce at that timestamp.
    assert signature == reference.get_signature(stamped)
    _, timestamp = reference.unsign(signed, return_timestamp=True)
    assert before <= int(timestamp.timestamp()) <= after
    assert stamped.rpartition(b".")[0] == value


@FAST
@given(
    value=st.binary(max_size=20),
    keys=signer_keys,
    signing_key=st.binary(min_size=1, max_size=12) | st.none(),
    salt=salts,
    age=st.sampled_from([-50, 0, 10, 500]),
    max_age=st.sampled_from([None, 100]),
    at=st.integers(min_value=0, max_value=200),
    cut=st.integers(min_value=0, max_value=3),
    insert=format_bytes,
)
def test_unsign_accepts_exactly_what_itsdangerous_accepts(
    value: bytes,
    keys: list[bytes],
    signing_key: bytes | None,
    salt: bytes | None,
    age: int,
    max_age: int | None,
    at: int,
    cut: int,
    insert: bytes,
) -> None:
    # Signed by one of the keys (or an unknown one), some time ago (or in the
    # future), then damaged: bytes cut out and others put in at any position.
    signer_key = [signing_key] if signing_key is not None else keys[-1:]
    signed = reference_signer(signer_key, salt, age).sign(value)
    at %= len(signed) + 1
    for candidate in (signed, signed[:at] + insert + signed[at + cut :]):
        ours = PayloadSigner(keys, max_age, salt).unsign(candidate)
        theirs = reference_unsign(
            TimestampSigner(keys, salt=salt or b"itsdangerous.Signer"), candidate, max_age
        )
        assert ours == theirs


# --- the JSON shortcuts are json.dumps / json.loads ---------------------------------


@FAST
@given(data=sessions)
def test_serialize_is_compact_json_dumps(data: dict[str, Any]) -> None:
    assert serialize(data) == json.dumps(data, separators=(",", ":"))


def _loads_reference(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


@FAST
@given(
    data=json_values,
    before=st.sampled_from(["", " ", "\ufeff", "x"]),
    after=st.sampled_from(["", " \n", "}", "x", "[]"]),
)
def test_deserialize_is_json_loads_for_objects(data: Any, before: str, after: str) -> None:
    # The shortcut takes a lone object; around it, json.loads decides.
    text = before + json.dumps(data, separators=(",", ":")) + after
    assert deserialize(text) == _loads_reference(text)


@pytest.mark.parametrize(
    "text",
    ["", "{", "{}", " {} ", "[]", "1", '"s"', '{"a":NaN}', "{}{}", "[" * 5000, '{"a":1,}'],
)
def test_deserialize_edge_cases_match_json_loads(text: str) -> None:
    assert deserialize(text) == _loads_reference(text)
