"""Function endpoints: adapted by flagstone-requests by default, or by your own adapter."""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest
from routing_helpers import call, call_websocket, run_lifespan, text_app

from flagstone_contract import ASGIApp, Receive, Scope, Send
from flagstone_routing import EndpointAdapter, Mount, Route, Router, WebSocketRoute

pytestmark = pytest.mark.anyio


class MyRequest:
    """A framework author's own request type."""

    def __init__(self, scope: Scope) -> None:
        self.path_params = scope["path_params"]


def my_http_adapter(func: Any) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        text = await func(MyRequest(scope))
        await text_app(text)(scope, receive, send)

    return app


def my_ws_adapter(func: Any) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": await func(MyRequest(scope))})

    return app


MY_ADAPTER = EndpointAdapter(http=my_http_adapter, websocket=my_ws_adapter)


async def hello(request: MyRequest) -> str:
    return f"hello {request.path_params.get('name', 'world')}"


@pytest.fixture
def no_flagstone_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # The package is absent in the isolated environment and present in the
    # dev environment; None in sys.modules makes the import fail in both.
    monkeypatch.setitem(sys.modules, "flagstone_requests", None)


async def test_route_adapter() -> None:
    router = Router([Route("/hi/{name}", hello, adapter=my_http_adapter)])
    assert (await call(router, "/hi/ada")).text == "hello ada"


async def test_router_endpoint_adapter_reaches_routes_and_mounted_routers() -> None:
    router = Router(
        [
            Route("/hi", hello),
            Mount("/nested", routes=[Mount("/deeper", routes=[Route("/hi/{name}", hello)])]),
            WebSocketRoute("/ws", hello),
        ],
        endpoint_adapter=MY_ADAPTER,
    )
    assert (await call(router, "/hi")).text == "hello world"
    assert (await call(router, "/nested/deeper/hi/bob")).text == "hello bob"
    assert (await call_websocket(router, "/ws"))[1] == {
        "type": "websocket.send",
        "text": "hello world",
    }


async def test_route_adapter_beats_router_adapter() -> None:
    def shouting(func: Any) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await text_app((await func(MyRequest(scope))).upper())(scope, receive, send)

        return app

    router = Router([Route("/hi", hello, adapter=shouting)], endpoint_adapter=MY_ADAPTER)
    assert (await call(router, "/hi")).text == "HELLO WORLD"


async def test_function_endpoints_default_to_get() -> None:
    router = Router([Route("/hi", hello)], endpoint_adapter=MY_ADAPTER)
    response = await call(router, "/hi", "POST")
    assert (response.status, response.headers["allow"]) == (405, "GET, HEAD")


async def test_partial_and_bound_methods_are_functions() -> None:
    class Handlers:
        async def hi(self, request: MyRequest) -> str:
            return "method"

    async def greet(greeting: str, request: MyRequest) -> str:
        return greeting

    router = Router(
        [Route("/m", Handlers().hi), Route("/p", functools.partial(greet, "partial"))],
        endpoint_adapter=MY_ADAPTER,
    )
    assert (await call(router, "/m")).text == "method"
    assert (await call(router, "/p")).text == "partial"


class OneArgumentHandler:
    """A callable object shaped like a handler: it cannot be called as ASGI."""

    async def __call__(self, request: MyRequest) -> str:
        return "object"


class AsgiObject:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await text_app("asgi object")(scope, receive, send)


class FlexibleObject:
    """Takes any arguments, so it can be an ASGI app: Starlette's rule applies."""

    async def __call__(self, *args: Any) -> None:
        await text_app("flexible")(*args)


async def test_callable_object_taking_one_argument_is_a_handler() -> None:
    router = Router(
        [
            Route("/obj", OneArgumentHandler()),
            Route("/partial-obj", functools.partial(OneArgumentHandler())),
            WebSocketRoute("/ws", OneArgumentHandler()),
        ],
        endpoint_adapter=MY_ADAPTER,
    )
    assert (await call(router, "/obj")).text == "object"
    assert (await call(router, "/partial-obj")).text == "object"
    response = await call(router, "/obj", "POST")  # a handler: GET unless told
    assert (response.status, response.headers["allow"]) == (405, "GET, HEAD")
    assert (await call_websocket(router, "/ws"))[1] == {"type": "websocket.send", "text": "object"}


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [(AsgiObject(), "asgi object"), (FlexibleObject(), "flexible")],
    ids=["asgi-signature", "star-args"],
)
async def test_callable_object_that_can_take_scope_receive_send_is_an_app(
    endpoint: Any, text: str
) -> None:
    router = Router([Route("/", endpoint)], endpoint_adapter=MY_ADAPTER)
    assert (await call(router, "/")).text == text
    assert (await call(router, "/", "POST")).text == text  # an app takes every method


@pytest.mark.usefixtures("no_flagstone_requests")
async def test_missing_flagstone_requests_says_what_to_install() -> None:
    router = Router([Route("/hi", hello)])
    with pytest.raises(ImportError, match=r'pip install "flagstone-routing\[requests\]"') as info:
        await call(router, "/hi")
    assert "Route('/hi', hello)" in str(info.value)


@pytest.mark.usefixtures("no_flagstone_requests")
async def test_missing_flagstone_requests_fails_startup_not_a_request() -> None:
    result = await run_lifespan(Router([Mount("/api", routes=[Route("/hi", hello)])]))
    assert [m["type"] for m in result.messages] == ["lifespan.startup.failed"]
    assert 'pip install "flagstone-routing[requests]"' in result.messages[0]["message"]


@pytest.mark.usefixtures("no_flagstone_requests")
async def test_raw_asgi_endpoints_need_nothing_else() -> None:
    router = Router([Route("/", text_app("raw"))])
    assert (await call(router, "/")).text == "raw"


class AdapterRefused(Exception):
    """What a framework's adapter raises for an endpoint it cannot serve."""


def picky_http_adapter(func: Any) -> ASGIApp:
    """A framework adapter that refuses endpoints named `broken*`."""
    if func.__name__.startswith("broken"):
        raise AdapterRefused(f"cannot adapt {func.__name__}")
    return my_http_adapter(func)


PICKY_ADAPTER = EndpointAdapter(http=picky_http_adapter, websocket=my_ws_adapter)


async def broken(request: MyRequest) -> str:
    return "never served"


async def test_an_adapter_failure_fails_that_route_only() -> None:
    router = Router(
        [Route("/ok/{name}", hello), Route("/broken", broken)], endpoint_adapter=PICKY_ADAPTER
    )
    # The healthy route answers, from the very first request on.
    assert (await call(router, "/ok/ada")).text == "hello ada"
    for _ in range(3):
        with pytest.raises(AdapterRefused, match="cannot adapt broken") as info:
            await call(router, "/broken")
        # The same original error each time, its traceback not growing
        # with every request that re-raises it.
        assert len(list(_frames(info.value.__traceback__))) < 30
    assert (await call(router, "/ok/bob")).text == "hello bob"
    assert (await call(router, "/missing")).status == 404


async def test_an_adapter_failure_still_fails_startup() -> None:
    router = Router([Route("/ok", hello), Route("/broken", broken)], endpoint_adapter=PICKY_ADAPTER)
    result = await run_lifespan(router)
    assert [m["type"] for m in result.messages] == ["lifespan.startup.failed"]
    assert "cannot adapt broken" in result.messages[0]["message"]
    with pytest.raises(AdapterRefused):
        router.prepare()


async def test_fixing_a_failed_route_serves_it() -> None:
    route = Route("/broken", broken)
    router = Router([Route("/ok", hello), route], endpoint_adapter=PICKY_ADAPTER)
    with pytest.raises(AdapterRefused):
        await call(router, "/broken")
    route.app = text_app("fixed")
    assert (await call(router, "/broken")).text == "fixed"


def _frames(tb: Any) -> Any:
    while tb is not None:
        yield tb
        tb = tb.tb_next
