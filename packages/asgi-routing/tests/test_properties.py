"""Property tests: `url_path_for` and matching are inverse for every convertor.

For generated parameters of each built-in convertor (str, int, float, uuid,
path), reversing a route with `url_path_for` and dispatching the result
through the router reaches the same route with the same parameters -- also
through a `Mount` and with several routes competing in the index.

The path `url_path_for` gives is a URL path; a server hands the app its
percent-decoded form (`%5C` -> `\\`), so dispatch goes through `unquote`.
Like Starlette, `url_path_for` does not percent-encode parameters, so a
value holding `%` is not generated (it would decode to another value).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import asgi, make_scope

from flagstone_contract import Receive, Scope, Send
from flagstone_routing import Match, Mount, NoMatchFound, Route, Router

FAST = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])

# Any text without surrogates (not representable in a scope path) or "/"
# for one segment; the path convertor takes slashes too.
segment_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="/%"), min_size=1, max_size=12
)
path_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="%"), max_size=24)
ints = st.integers(min_value=0, max_value=10**15)
floats = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False)


class Captured:
    """Which endpoint answered, and with which `path_params`."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, dict[str, Any]]] = []
        self.router = build_router(self)

    def endpoint(self, name: str) -> Any:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            self.hits.append((name, dict(scope["path_params"])))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        return asgi(app)


def build_router(captured: Captured) -> Router:
    def route(path: str, name: str) -> Route:
        return Route(path, captured.endpoint(name), name=name)

    return Router(
        [
            route("/str/{a}", "str"),
            route("/int/{n:int}", "int"),
            route("/float/{f:float}", "float"),
            route("/uuid/{u:uuid}", "uuid"),
            route("/files/{p:path}", "path"),
            route("/mixed/{a:str}/{n:int}/tail/{p:path}", "mixed"),
            # Competing routes: a literal and a wider pattern the generated
            # paths must not be confused with.
            route("/str/{a}/extra", "str-extra"),
            route("/int/latest", "int-latest"),
            Mount("/mount/{tenant}", routes=[route("/items/{n:int}", "mounted")], name="m"),
        ]
    )


# Built once: the examples only read the router (the index build is the
# expensive part), and `hits` is cleared before each dispatch.
CAPTURED = Captured()


async def dispatch(router: Router, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await router(make_scope(path), receive, send)
    return int(sent[0]["status"])


def reverse_then_match(backend: str, name: str, **params: Any) -> tuple[str, dict[str, Any]]:
    """Reverse `name` with `params`, dispatch the path, return who answered with what."""
    CAPTURED.hits.clear()
    path = unquote(str(CAPTURED.router.url_path_for(name, **params)))
    status = anyio.run(dispatch, CAPTURED.router, path, backend=backend)
    assert status == 200, f"{path!r} from {params!r} answered {status}"
    [hit] = CAPTURED.hits
    return hit


@BACKENDS
@FAST
@given(value=segment_text)
def test_str_params_round_trip(backend: str, value: str) -> None:
    assert reverse_then_match(backend, "str", a=value) == ("str", {"a": value})


@BACKENDS
@FAST
@given(value=ints)
def test_int_params_round_trip(backend: str, value: int) -> None:
    assert reverse_then_match(backend, "int", n=value) == ("int", {"n": value})


@BACKENDS
@FAST
@given(value=floats)
def test_float_params_round_trip(backend: str, value: float) -> None:
    assert reverse_then_match(backend, "float", f=value) == ("float", {"f": value})


@BACKENDS
@FAST
@given(value=st.uuids())
def test_uuid_params_round_trip(backend: str, value: uuid.UUID) -> None:
    assert reverse_then_match(backend, "uuid", u=value) == ("uuid", {"u": value})


@BACKENDS
@FAST
@given(value=path_text)
def test_path_params_round_trip(backend: str, value: str) -> None:
    assert reverse_then_match(backend, "path", p=value) == ("path", {"p": value})


@BACKENDS
@FAST
@given(a=segment_text, n=ints, p=path_text)
def test_several_params_round_trip(backend: str, a: str, n: int, p: str) -> None:
    assert reverse_then_match(backend, "mixed", a=a, n=n, p=p) == (
        "mixed",
        {"a": a, "n": n, "p": p},
    )


@BACKENDS
@FAST
@given(tenant=segment_text, n=ints)
def test_mounted_params_round_trip(backend: str, tenant: str, n: int) -> None:
    name, params = reverse_then_match(backend, "m:mounted", tenant=tenant, n=n)
    assert (name, params) == ("mounted", {"tenant": tenant, "n": n})


@FAST
@given(value=segment_text.filter(lambda v: not v.isascii() or not v.isdigit()))
def test_int_route_does_not_match_non_digits(value: str) -> None:
    route = Route("/int/{n:int}", asgi(lambda s, r, w: None), name="int")  # type: ignore[arg-type,return-value]
    match, _ = route.matches(make_scope(f"/int/{value}"))
    assert match is Match.NONE


@FAST
@given(value=st.one_of(st.integers(max_value=-1), st.just(""), st.just("a/b")))
def test_reversing_with_an_invalid_value_raises(value: Any) -> None:
    router = CAPTURED.router
    name, key = ("int", "n") if isinstance(value, int) else ("str", "a")
    with pytest.raises((ValueError, NoMatchFound)):
        router.url_path_for(name, **{key: value})


@BACKENDS
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/int/5\n", 404, id="trailing-newline-is-not-the-int"),
        pytest.param("/str/a\n/extra", 200, id="newline-inside-a-segment"),
        pytest.param("/files/a\nb", 200, id="newline-inside-a-path-param"),
    ],
)
def test_newlines_in_paths(backend: str, path: str, expected: int) -> None:
    # Regression (found by this file): "$" matched before a trailing newline,
    # so "/int/5\n" dispatched as n=5, and `{p:path}` refused newlines (404).
    CAPTURED.hits.clear()
    assert anyio.run(dispatch, CAPTURED.router, path, backend=backend) == expected
    if expected == 200:
        [(_, params)] = CAPTURED.hits
        assert "\n" in "".join(str(v) for v in params.values())
