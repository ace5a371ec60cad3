"""max_body_size on Router, Mount and Route: raw ASGI endpoints are bounded too."""

from __future__ import annotations

import pytest
from routing_helpers import asgi, call, make_scope, read_body, text_app

from flagstone_contract import (
    EXCEPTION_HANDLERS_KEY,
    MAX_BODY_SIZE_KEY,
    HTTPException,
    Receive,
    Scope,
    Send,
)
from flagstone_routing import Mount, Route, Router

pytestmark = pytest.mark.anyio


async def test_route_limit_answers_413_once_exceeded() -> None:
    router = Router([Route("/up", read_body, max_body_size=10)])
    assert (await call(router, "/up", "POST", body=[b"12345", b"12345"])).text == "10"
    response = await call(router, "/up", "POST", body=[b"123456", b"123456"])
    assert response.status == 413
    assert response.text == "Content Too Large"


@pytest.mark.parametrize(
    ("router_limit", "mount_limit", "route_limit", "size", "status"),
    [
        (5, None, None, 6, 413),  # router limit applies everywhere
        (5, 100, None, 50, 200),  # a mount may allow more than its router
        (5, 100, 20, 50, 413),  # the innermost limit wins
        (100, 5, 1000, 500, 200),  # also when it is larger
        (None, None, 8, 8, 200),  # exactly the limit is fine
    ],
)
async def test_innermost_limit_wins(
    router_limit: int | None,
    mount_limit: int | None,
    route_limit: int | None,
    size: int,
    status: int,
) -> None:
    router = Router(
        [
            Mount(
                "/m",
                routes=[Route("/up", read_body, max_body_size=route_limit)],
                max_body_size=mount_limit,
            )
        ],
        max_body_size=router_limit,
    )
    response = await call(router, "/m/up", "POST", body=b"x" * size)
    assert response.status == status


async def test_limit_is_published_in_the_scope() -> None:
    seen: dict[str, object] = {}

    @asgi
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen["limit"] = scope[MAX_BODY_SIZE_KEY]
        await text_app("ok")(scope, receive, send)

    router = Router([Mount("/m", routes=[Route("/x", endpoint, max_body_size=7)])], max_body_size=3)
    await call(router, "/m/x")
    assert seen["limit"] == 7


async def test_oversize_content_length_is_refused_before_the_body_is_read() -> None:
    chunks_read: list[int] = []

    @asgi
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        chunks_read.append(len(message.get("body", b"")))
        await text_app("read")(scope, receive, send)

    router = Router([Route("/up", endpoint, max_body_size=10)])
    scope = make_scope("/up", "POST", headers=[(b"host", b"t"), (b"content-length", b"1000000")])
    response = await call(router, scope=scope, body=b"tiny")
    assert response.status == 413
    assert chunks_read == []


async def test_limit_raises_http_exception_when_handlers_are_installed() -> None:
    router = Router([Route("/up", read_body)], max_body_size=2)
    scope = make_scope("/up", "POST")
    scope[EXCEPTION_HANDLERS_KEY] = ({}, {})
    with pytest.raises(HTTPException) as info:
        await call(router, scope=scope, body=b"12345")
    assert info.value.status_code == 413


async def test_limit_on_a_mounted_foreign_app() -> None:
    router = Router([Mount("/upload", app=read_body, max_body_size=3)])
    assert (await call(router, "/upload/x", "POST", body=b"abcd")).status == 413
    assert (await call(router, "/upload/x", "POST", body=b"abc")).text == "3"


async def test_exceeding_after_the_response_started_propagates() -> None:
    @asgi
    async def streams_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()

    router = Router([Route("/x", streams_then_reads, max_body_size=1)])
    with pytest.raises(HTTPException):
        await call(router, "/x", "POST", body=b"too big")


async def test_no_limit_means_receive_is_untouched() -> None:
    seen: list[Receive] = []

    @asgi
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(receive)
        await read_body(scope, receive, send)

    router = Router([Route("/x", endpoint)])
    response = await call(router, "/x", "POST", body=b"x" * 100_000)
    assert response.text == "100000"
    assert MAX_BODY_SIZE_KEY not in make_scope()


def test_the_old_name_is_the_one_exception() -> None:
    from flagstone_contract import ContentTooLarge
    from flagstone_routing._body_limit import BodyTooLarge

    assert BodyTooLarge is ContentTooLarge
