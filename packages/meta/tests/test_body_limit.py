"""One body limit: one exception, one counter, limits that nest, through App and a bare Router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from flagstone import (
    App,
    AsyncTestClient,
    ContentTooLarge,
    ExceptionMiddleware,
    PlainTextResponse,
    Request,
    RequestBodyLimitMiddleware,
    Route,
    Router,
)
from flagstone_contract import MAX_BODY_SIZE_KEY, Receive, Scope, Send

pytestmark = pytest.mark.anyio

LIMIT = 10


async def read_with_request(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"read {len(await request.body())}")


class ReadRaw:
    """A raw ASGI endpoint (not a request handler): reads the body from `receive`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await PlainTextResponse(f"read {size}")(scope, receive, send)


read_raw = ReadRaw()


async def async_handler(request: Request, exc: ContentTooLarge) -> PlainTextResponse:
    return PlainTextResponse(f"handled, limit {exc.limit}", status_code=413)


def sync_handler(request: Request, exc: ContentTooLarge) -> PlainTextResponse:
    return PlainTextResponse(f"handled, limit {exc.limit}", status_code=413)


def through_app(endpoint: Any, handler: Callable[..., Any]) -> Any:
    route = Route("/up", endpoint, methods=["POST"])
    return App(routes=[route], max_body_size=LIMIT, exception_handlers={ContentTooLarge: handler})


def through_router(endpoint: Any, handler: Callable[..., Any]) -> Any:
    router = Router([Route("/up", endpoint, methods=["POST"])], max_body_size=LIMIT)
    return ExceptionMiddleware(router, handlers={ContentTooLarge: handler})


async def chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total):
        yield b"x"


def declared(total: int) -> bytes:
    return b"x" * total


@pytest.mark.parametrize("build", [through_app, through_router], ids=["app", "bare_router"])
@pytest.mark.parametrize("endpoint", [read_with_request, read_raw], ids=["request", "raw_asgi"])
@pytest.mark.parametrize("handler", [async_handler, sync_handler], ids=["async", "sync"])
@pytest.mark.parametrize("body", [declared, chunks], ids=["content_length", "chunked"])
async def test_one_handler_sees_every_over_limit_body(
    build: Callable[..., Any], endpoint: Any, handler: Any, body: Callable[[int], Any]
) -> None:
    async with AsyncTestClient(build(endpoint, handler)) as client:
        within = await client.post("/up", content=body(LIMIT))
        over = await client.post("/up", content=body(LIMIT + 1))
    assert (within.status_code, within.text) == (200, f"read {LIMIT}")
    assert (over.status_code, over.text) == (413, f"handled, limit {LIMIT}")


@pytest.mark.parametrize(
    ("header", "size", "status"),
    [
        ("+1000", 5, 200),  # not RFC 9110 digits: judged by the bytes that arrive
        ("1_000", 5, 200),
        ("1000", 5, 413),  # declared too large: refused before reading
        ("5", 5, 200),
    ],
)
async def test_content_length_is_read_strictly_by_every_layer(
    header: str, size: int, status: int
) -> None:
    async def record(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"read {len(await request.body())}")

    for inner in (
        Router([Route("/up", record, methods=["POST"])], max_body_size=LIMIT),
        App(routes=[Route("/up", record, methods=["POST"])], max_body_size=LIMIT),
    ):

        async def with_content_length(
            scope: Scope, receive: Receive, send: Send, inner: Any = inner
        ) -> None:
            # The client computes Content-Length itself; the header is replaced here.
            scope["headers"] = [
                (k, header.encode() if k == b"content-length" else v) for k, v in scope["headers"]
            ]
            await inner(scope, receive, send)

        async with AsyncTestClient(with_content_length) as client:
            response = await client.post("/up", content=b"x" * size)
        assert response.status_code == status


async def test_limits_nest_innermost_wins_through_one_counter() -> None:
    counted: list[Any] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        counted.append(request.scope[MAX_BODY_SIZE_KEY])
        return PlainTextResponse(f"read {len(await request.body())}")

    inner = Router([Route("/big", endpoint, methods=["POST"], max_body_size=100)])
    app = RequestBodyLimitMiddleware(RequestBodyLimitMiddleware(inner, 50), LIMIT)
    async with AsyncTestClient(app) as client:
        assert (await client.post("/big", content=b"x" * 100)).text == "read 100"
        assert (await client.post("/big", content=chunks(101))).status_code == 413
    assert counted == [100, 100]


class SmallRoute(Route):
    """A framework's route that holds its limit as plain class data."""

    max_body_size = 3


class SmallRouter(Router):
    max_body_size = 4


async def test_subclass_limits_set_as_plain_attributes_are_honoured() -> None:
    app = SmallRouter([SmallRoute("/route", read_with_request, methods=["POST"]),
                       Route("/router", read_with_request, methods=["POST"])])  # fmt: skip
    async with AsyncTestClient(app) as client:
        assert (await client.post("/route", content=b"xxx")).status_code == 200
        assert (await client.post("/route", content=chunks(4))).status_code == 413
        assert (await client.post("/router", content=b"xxxx")).status_code == 200
        assert (await client.post("/router", content=chunks(5))).status_code == 413


def test_request_body_limit_middleware_refuses_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="max_body_size"):
        RequestBodyLimitMiddleware(read_raw, -1)


async def test_is_disconnected_leaves_the_413_to_the_body_reader() -> None:
    seen: list[bool] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        seen.append(await request.is_disconnected())
        return PlainTextResponse(f"read {len(await request.body())}")

    app = Router([Route("/up", endpoint, methods=["POST"])], max_body_size=3)
    async with AsyncTestClient(app) as client:
        response = await client.post("/up", content=b"x" * 10)
    assert (response.status_code, seen) == (413, [False])


def test_one_exception_class_under_every_name() -> None:
    import flagstone_contract
    import flagstone_requests

    assert (
        flagstone_requests.ContentTooLarge is ContentTooLarge is flagstone_contract.ContentTooLarge
    )
    assert issubclass(ContentTooLarge, flagstone_contract.HTTPException)
    assert (ContentTooLarge(limit=5).status_code, ContentTooLarge(limit=5).limit) == (413, 5)


@pytest.mark.parametrize("body", [declared, chunks], ids=["content_length", "chunked"])
async def test_the_413_is_starlettes_content_too_large(body: Callable[[int], Any]) -> None:
    # No exception handlers: the middleware itself answers, with Starlette's body.
    app = RequestBodyLimitMiddleware(Router([Route("/", read_raw, methods=["POST"])]), LIMIT)
    async with AsyncTestClient(app) as client:
        response = await client.post("/", content=body(LIMIT + 1))
    assert response.status_code == 413
    assert response.text == "Content Too Large"
    assert ContentTooLarge(limit=LIMIT).detail == "Content Too Large"


async def test_a_layers_limit_is_put_back_when_it_returns() -> None:
    from flagstone import MAX_BODY_SIZE_SCOPE_KEY

    seen: list[Any] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])
        await PlainTextResponse("ok")(scope, receive, send)

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])
        await RequestBodyLimitMiddleware(inner, 50)(scope, receive, send)
        seen.append(scope[MAX_BODY_SIZE_SCOPE_KEY])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await RequestBodyLimitMiddleware(outer, LIMIT)(scope, receive, send)
        seen.append(MAX_BODY_SIZE_SCOPE_KEY in scope)

    async with AsyncTestClient(app) as client:
        assert (await client.post("/", content=b"x")).text == "ok"
    assert MAX_BODY_SIZE_SCOPE_KEY == MAX_BODY_SIZE_KEY
    assert seen == [LIMIT, 50, LIMIT, False]


@pytest.mark.parametrize("body", [declared, chunks], ids=["content_length", "chunked"])
async def test_a_body_middleware_read_is_held_to_the_stricter_route_limit(
    body: Callable[[int], Any],
) -> None:
    # A BaseHTTPMiddleware reads the body under the App's limit (10) and
    # replays it; the route's own limit (5) still refuses it, as in Starlette.
    from flagstone import BaseHTTPMiddleware, Middleware

    class ReadFirst(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Any:
            await request.body()
            return await call_next(request)

    routes = [
        Route("/small", read_with_request, methods=["POST"], max_body_size=5),
        Route("/app", read_with_request, methods=["POST"]),
    ]
    app = App(routes=routes, max_body_size=LIMIT, middleware=[Middleware(ReadFirst)])
    async with AsyncTestClient(app) as client:
        assert (await client.post("/small", content=body(6))).status_code == 413
        assert (await client.post("/small", content=body(5))).text == "read 5"
        assert (await client.post("/app", content=body(10))).text == "read 10"
        assert (await client.post("/app", content=body(11))).status_code == 413
