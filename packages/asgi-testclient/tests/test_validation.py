"""Every message an app sends is checked; each violation is one row, named after it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flagstone_testclient import ASGIProtocolError, TestClient

START = {"type": "http.response.start", "status": 200}
BODY = {"type": "http.response.body", "body": b"ok"}

HTTP_VIOLATIONS = [
    pytest.param([BODY], "before 'http.response.start'", id="body-before-start"),
    pytest.param([START, START], "second 'http.response.start'", id="second-start"),
    pytest.param([START, BODY, START], "second 'http.response.start'", id="start-after-complete"),
    pytest.param(
        [START, {"type": "http.response.body", "body": "text"}],
        "must be bytes, got str",
        id="str-body",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": "200"}],
        "'status' must be an int",
        id="status-not-int",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": True}],
        "'status' must be an int",
        id="status-bool",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 103}], "final status", id="status-informational"
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 999}], "final status", id="status-out-of-range"
    ),
    pytest.param(
        [
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [("content-type", "text/plain")],
            }
        ],
        "must be bytes",
        id="header-str",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 200, "headers": [(b"bad name", b"x")]}],
        "valid token",
        id="header-name-with-space",
    ),
    pytest.param(
        [
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-a", b"1\r\nset-cookie: evil=1")],
            }
        ],
        "response splitting",
        id="header-value-crlf-injection",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 200, "headers": {b"x-a": b"1"}}],
        "iterable of \\[name, value\\]",
        id="headers-as-dict",
    ),
    pytest.param(
        [START, BODY, BODY], "after the response was complete", id="message-after-final-body"
    ),
    pytest.param(
        [{"type": "http.response.bogus"}],
        "unknown message type 'http.response.bogus'",
        id="unknown-type",
    ),
    pytest.param([{"status": 200}], "str 'type'", id="missing-type"),
    pytest.param(["http.response.start"], "must be a dict", id="not-a-dict"),
    pytest.param(
        [START, {"type": "http.response.body", "body": b"", "more_body": 1}],
        "must be a bool",
        id="more-body-not-bool",
    ),
    pytest.param(
        [START, BODY, {"type": "http.response.trailers", "headers": []}],
        "without 'trailers': True",
        id="trailers-not-announced",
    ),
    pytest.param(
        [
            {**START, "trailers": True},
            {"type": "http.response.body", "body": b"x", "more_body": True},
            {"type": "http.response.trailers", "headers": []},
        ],
        "before the final body",
        id="trailers-before-final-body",
    ),
    pytest.param(
        [{**START, "trailers": True}, BODY, BODY],
        "only 'http.response.trailers' may follow",
        id="body-after-final-body-awaiting-trailers",
    ),
    pytest.param(
        [
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]},
            {"type": "http.response.body", "body": b"toolong"},
        ],
        "longer than its content-length",
        id="body-longer-than-content-length",
    ),
    pytest.param(
        [
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]},
            BODY,
        ],
        "content-length is 10",
        id="body-shorter-than-content-length",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 204}, BODY],
        "must not have a body",
        id="body-on-204",
    ),
    pytest.param(
        [START, {"type": "http.response.early_hint", "links": [b"</a>"]}],
        "after 'http.response.start'",
        id="early-hint-after-start",
    ),
    pytest.param(
        [{"type": "http.response.debug", "info": "x"}],
        "must be a mapping",
        id="debug-info-not-a-mapping",
    ),
    pytest.param(
        [START, {"type": "http.response.pathsend", "path": "relative.txt"}],
        "absolute path",
        id="pathsend-relative",
    ),
]


def sequence_app(messages: list[Any], seen_by_app: list[BaseException]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            try:
                await send(message)
            except ASGIProtocolError as exc:
                seen_by_app.append(exc)
                raise

    return app


@pytest.mark.parametrize(("messages", "violation"), HTTP_VIOLATIONS)
def test_http_violation_is_raised(
    make_client: Callable[..., TestClient], messages: list[Any], violation: str
) -> None:
    seen_by_app: list[BaseException] = []
    with pytest.raises(ASGIProtocolError, match=violation) as info:
        make_client(sequence_app(messages, seen_by_app)).get("/")
    # The app's send() raised it too, as a strict server would refuse it.
    assert seen_by_app == [info.value]
    assert info.value.message == messages[-1] or info.value.message is messages[-1]


def test_violation_is_raised_even_if_the_app_swallows_it(
    make_client: Callable[..., TestClient],
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        try:
            await send({"type": "http.response.body", "body": "text"})
        except ASGIProtocolError:
            pass
        await send(BODY)

    with pytest.raises(ASGIProtocolError, match="must be bytes"):
        make_client(app).get("/")


def test_violation_is_raised_even_without_raise_server_exceptions(
    make_client: Callable[..., TestClient],
) -> None:
    with pytest.raises(ASGIProtocolError, match=r"before 'http\.response\.start'"):
        make_client(sequence_app([BODY], []), raise_server_exceptions=False).get("/")


def test_returning_before_the_final_body_is_an_error(
    make_client: Callable[..., TestClient],
) -> None:
    messages = [START, {"type": "http.response.body", "body": b"x", "more_body": True}]
    with pytest.raises(ASGIProtocolError, match="returned before the response was complete"):
        make_client(sequence_app(messages, [])).get("/")


ACCEPT = {"type": "websocket.accept"}

WEBSOCKET_VIOLATIONS = [
    pytest.param(
        [{"type": "websocket.send", "text": "hi"}],
        "before 'websocket.accept'",
        id="send-before-accept",
    ),
    pytest.param([ACCEPT, ACCEPT], "sent twice", id="accept-twice"),
    pytest.param(
        [ACCEPT, {"type": "websocket.send", "text": "a", "bytes": b"b"}],
        "exactly one of",
        id="send-text-and-bytes",
    ),
    pytest.param([ACCEPT, {"type": "websocket.send"}], "exactly one of", id="send-nothing"),
    pytest.param(
        [ACCEPT, {"type": "websocket.send", "text": b"bytes"}],
        "'text' must be str",
        id="text-as-bytes",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.send", "bytes": "str"}],
        "'bytes' must be bytes",
        id="bytes-as-str",
    ),
    pytest.param(
        [{"type": "websocket.accept", "subprotocol": "nope"}],
        "was not offered",
        id="subprotocol-not-offered",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close", "code": 999}],
        "not a WebSocket close code",
        id="close-code-below-range",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close", "code": 2000}],
        "not a WebSocket close code",
        id="close-code-unassigned",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close", "code": 5000}],
        "not a WebSocket close code",
        id="close-code-above-range",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close", "code": "1000"}],
        "not a WebSocket close code",
        id="close-code-str",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close", "reason": "x" * 124}],
        "123 UTF-8 bytes",
        id="close-reason-too-long",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.http.response.start", "status": 403, "headers": []}],
        "after 'websocket.accept'",
        id="denial-after-accept",
    ),
    pytest.param(
        [{"type": "websocket.http.response.body", "body": b""}],
        "before 'websocket.http.response.start'",
        id="denial-body-before-start",
    ),
    pytest.param(
        [ACCEPT, {"type": "websocket.close"}, {"type": "websocket.send", "text": "late"}],
        "after the connection was closed",
        id="send-after-close",
    ),
    pytest.param(
        [{"type": "http.response.start", "status": 200}],
        "unknown message type",
        id="http-message-on-websocket",
    ),
]


@pytest.mark.parametrize(("messages", "violation"), WEBSOCKET_VIOLATIONS)
def test_websocket_violation_is_raised(
    make_client: Callable[..., TestClient], messages: list[Any], violation: str
) -> None:
    seen_by_app: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await sequence_app(messages, seen_by_app)(scope, receive, send)

    def talk() -> None:
        with make_client(app).websocket_connect("/ws") as session:
            for _ in messages:
                session.receive()

    with pytest.raises(ASGIProtocolError, match=violation) as info:
        talk()
    assert seen_by_app == [info.value]


LIFESPAN_VIOLATIONS = [
    pytest.param(
        {"type": "lifespan.startup.done"}, "unknown message type", id="unknown-lifespan-type"
    ),
    pytest.param(
        {"type": "lifespan.shutdown.complete"},
        "did not send 'lifespan.shutdown'",
        id="shutdown-reply-during-startup",
    ),
    pytest.param(
        {"type": "lifespan.startup.failed", "message": 42},
        "'message' must be a str",
        id="failed-message-not-str",
    ),
]


@pytest.mark.parametrize(("message", "violation"), LIFESPAN_VIOLATIONS)
def test_lifespan_violation_is_raised(
    make_client: Callable[..., TestClient], message: dict[str, Any], violation: str
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(message)

    with pytest.raises(ASGIProtocolError, match=violation), make_client(app):
        pass
