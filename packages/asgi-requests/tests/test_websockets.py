"""WebSocket: the ASGI state machine, frames, close codes and denial responses."""

from __future__ import annotations

from typing import Any

import pytest

from flagstone_requests import (
    PlainTextResponse,
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

pytestmark = pytest.mark.anyio

CONNECT = {"type": "websocket.connect"}


def text(value: str) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": value}


def binary(value: bytes) -> dict[str, Any]:
    return {"type": "websocket.receive", "bytes": value}


def disconnect(code: int = 1000, reason: str = "") -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": code, "reason": reason}


def make(
    ws_scope: Any, channel: Any, *messages: dict[str, Any], **scope: Any
) -> tuple[WebSocket, Any]:
    chan = channel([CONNECT, *messages], then="block")
    return WebSocket(ws_scope(**scope), chan.receive, chan.send), chan


@pytest.mark.parametrize(
    ("kwargs", "headers"),
    [
        ({}, []),
        ({"headers": None}, []),
        ({"headers": []}, []),
        ({"headers": ((b"x-a", b"1"),)}, [(b"x-a", b"1")]),
    ],
    ids=["no-headers", "headers-none", "headers-empty", "headers-tuple"],
)
async def test_accept_always_sends_a_headers_list(kwargs, headers, ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel)
    await ws.accept(**kwargs)
    assert chan.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": headers}]
    # Middleware appends to it in place, which needs a real list.
    assert type(chan.sent[0]["headers"]) is list


async def test_accept_with_subprotocol_and_headers(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, subprotocols=["chat", "v2"])
    await ws.accept(subprotocol="chat", headers=[(b"x-a", b"1")])
    assert chan.sent == [
        {"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]}
    ]
    assert ws.client_state == ws.application_state == WebSocketState.CONNECTED


async def test_echo_text_bytes_json(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, text("hi"), binary(b"\x00"), text('{"a":1}'), binary(b"[2]"))
    await ws.accept()
    assert await ws.receive_text() == "hi"
    assert await ws.receive_bytes() == b"\x00"
    assert await ws.receive_json() == {"a": 1}
    assert await ws.receive_json(mode="binary") == [2]
    await ws.send_text("t")
    await ws.send_bytes(b"b")
    await ws.send_json({"é": 1})
    await ws.send_json([1], mode="binary")
    assert chan.sent[1:] == [
        {"type": "websocket.send", "text": "t"},
        {"type": "websocket.send", "bytes": b"b"},
        {"type": "websocket.send", "text": '{"é":1}'},
        {"type": "websocket.send", "bytes": b"[1]"},
    ]


async def test_wrong_frame_type_says_so(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel, binary(b"abc"), text("x"))
    await ws.accept()
    with pytest.raises(TypeError, match="expected a text frame but received a binary frame"):
        await ws.receive_text()
    with pytest.raises(TypeError, match="expected a binary frame but received a text frame"):
        await ws.receive_bytes()


async def test_receive_before_accept_is_refused(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel)
    with pytest.raises(WebSocketDisconnected, match='call "accept" first'):
        await ws.receive_text()
    with pytest.raises(WebSocketDisconnected, match='call "accept" first'):
        await ws.send_text("x")


async def test_disconnect_raises_with_code_and_reason(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel, disconnect(4001, "bye"))
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "bye")
    assert ws.client_state == WebSocketState.DISCONNECTED
    with pytest.raises(WebSocketDisconnected):
        await ws.receive()


@pytest.mark.parametrize(
    ("method", "frames", "expected"),
    [
        ("iter_text", [text("a"), text("b")], ["a", "b"]),
        ("iter_bytes", [binary(b"a")], [b"a"]),
        ("iter_json", [text("1"), text('"x"')], [1, "x"]),
    ],
)
async def test_iter_keeps_close_code_and_reason(
    method: str, frames: list[Any], expected: list[Any], ws_scope, channel
) -> None:
    ws, _ = make(ws_scope, channel, *frames, disconnect(4002, "done"))
    await ws.accept()
    got = [item async for item in getattr(ws, method)()]
    assert got == expected
    assert (ws.close_code, ws.close_reason) == (4002, "done")


async def test_close_records_code(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel)
    await ws.accept()
    await ws.close(4000, "over")
    assert chan.sent[-1] == {"type": "websocket.close", "code": 4000, "reason": "over"}
    assert (ws.close_code, ws.close_reason) == (4000, "over")
    with pytest.raises(WebSocketDisconnected, match="already been closed"):
        await ws.send_text("late")


async def test_close_before_accept_rejects(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel)
    await ws.close()
    assert chan.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]
    with pytest.raises(WebSocketDisconnected):
        await ws.accept()


def test_long_close_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="123 bytes"):
        WebSocketClose(reason="x" * 124)


async def test_long_close_reason_is_refused_by_close(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel)
    await ws.accept()
    with pytest.raises(ValueError, match="123 bytes"):
        await ws.close(reason="é" * 62)


async def test_first_message_must_be_connect(ws_scope, channel) -> None:
    chan = channel([text("x")], then="block")
    ws = WebSocket(ws_scope(), chan.receive, chan.send)
    with pytest.raises(RuntimeError, match=r"websocket\.connect"):
        await ws.receive()


async def test_send_wrong_message_in_state(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel)
    with pytest.raises(RuntimeError, match=r"websocket\.accept"):
        await ws.send({"type": "websocket.send", "text": "x"})
    await ws.accept()
    with pytest.raises(RuntimeError, match=r"websocket\.send"):
        await ws.send({"type": "websocket.accept"})


async def test_send_oserror_becomes_1006(ws_scope) -> None:
    async def receive() -> dict[str, Any]:
        return CONNECT

    calls: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        calls.append(message)
        if message["type"] == "websocket.send":
            raise OSError("gone")

    ws = WebSocket(ws_scope(), receive, send)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.send_text("x")
    assert info.value.code == 1006
    assert ws.application_state == WebSocketState.DISCONNECTED


async def test_denial_response(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, extensions={"websocket.http.response": {}})
    await ws.send_denial_response(PlainTextResponse("nope", status_code=403))
    assert [m["type"] for m in chan.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert ws.application_state == WebSocketState.DISCONNECTED


async def test_denial_needs_extension(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel)
    with pytest.raises(RuntimeError, match=r"websocket\.http\.response"):
        await ws.send_denial_response(PlainTextResponse("nope", status_code=403))


async def test_denial_after_accept_is_refused(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel, extensions={"websocket.http.response": {}})
    await ws.accept()
    with pytest.raises(RuntimeError, match="before the WebSocket is accepted"):
        await ws.send_denial_response(PlainTextResponse("nope", status_code=403))


@pytest.mark.parametrize("mode", ["yaml", "TEXT", "", "bytes"])
@pytest.mark.parametrize("call", ["send_json", "receive_json"])
async def test_invalid_json_mode_is_a_runtime_and_value_error_naming_the_modes(
    call: str, mode: str, ws_scope, channel
) -> None:
    ws, chan = make(ws_scope, channel, text("{}"))
    await ws.accept()
    method = getattr(ws, call)
    args = ({},) if call == "send_json" else ()
    # Starlette raises RuntimeError; flagstone used to raise ValueError.
    for caught in (RuntimeError, ValueError):
        with pytest.raises(
            caught, match=r'^The "mode" argument should be "text" or "binary", not '
        ) as info:
            await method(*args, mode=mode)
        assert repr(mode) in str(info.value)
    assert chan.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


async def test_invalid_json_mode_is_reported_before_the_state_check(ws_scope, channel) -> None:
    # As in Starlette: a wrong argument is the first thing said, even before accept().
    ws, _ = make(ws_scope, channel)
    with pytest.raises(RuntimeError, match="mode"):
        await ws.send_json({}, mode="yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        await ws.receive_json(mode="yaml")  # type: ignore[arg-type]


async def test_websocket_close_app(ws_scope, channel) -> None:
    chan = channel([], then="block")
    await WebSocketClose(4003, "forbidden")(ws_scope(), chan.receive, chan.send)
    assert chan.sent == [{"type": "websocket.close", "code": 4003, "reason": "forbidden"}]


async def test_connection_properties_come_from_scope(ws_scope, channel) -> None:
    ws, _ = make(ws_scope, channel, query_string=b"a=1")
    assert ws.url.path == "/ws"
    assert ws.query_params["a"] == "1"


def test_needs_websocket_scope(http_scope) -> None:
    async def noop(*_: Any) -> Any:
        return None

    with pytest.raises(ValueError, match="websocket"):
        WebSocket(http_scope(), noop, noop)


def test_disconnect_exception_defaults() -> None:
    exc = WebSocketDisconnect()
    assert (exc.code, exc.reason) == (1000, "")


async def test_accept_refuses_subprotocol_not_offered(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, subprotocols=["chat"])
    with pytest.raises(ValueError, match="'mqtt' was not offered"):
        await ws.accept(subprotocol="mqtt")
    assert chan.sent == []


# --- the state machine, every state against every message ------------------------------
# The per-frame paths (a data frame while connected) are checked first and
# cheaply; these tables pin that every other combination still goes through
# the full checks.

ACCEPT = {"type": "websocket.accept"}
SEND = {"type": "websocket.send", "text": "x"}
CLOSE = {"type": "websocket.close", "code": 1000, "reason": ""}
DENY = {"type": "websocket.http.response.start", "status": 403, "headers": []}
DENY_BODY = {"type": "websocket.http.response.body", "body": b""}
BOGUS = {"type": "websocket.bogus"}

# How to bring a fresh socket's application side into each state.
REACH = {
    "CONNECTING": [],
    "CONNECTED": [ACCEPT],
    "RESPONSE": [DENY],
    "DISCONNECTED": [CLOSE],
}


@pytest.mark.parametrize(
    ("state", "message", "outcome"),
    [
        ("CONNECTING", ACCEPT, "CONNECTED"),
        ("CONNECTING", CLOSE, "DISCONNECTED"),
        ("CONNECTING", DENY, "RESPONSE"),
        ("CONNECTING", SEND, RuntimeError),
        ("CONNECTING", DENY_BODY, RuntimeError),
        ("CONNECTED", SEND, "CONNECTED"),
        ("CONNECTED", CLOSE, "DISCONNECTED"),
        ("CONNECTED", ACCEPT, RuntimeError),
        ("CONNECTED", DENY, RuntimeError),
        ("CONNECTED", BOGUS, RuntimeError),
        ("RESPONSE", {**DENY_BODY, "more_body": True}, "RESPONSE"),
        ("RESPONSE", DENY_BODY, "DISCONNECTED"),
        ("RESPONSE", SEND, RuntimeError),
        ("RESPONSE", CLOSE, RuntimeError),
        ("DISCONNECTED", SEND, WebSocketDisconnected),
        ("DISCONNECTED", CLOSE, WebSocketDisconnected),
        ("DISCONNECTED", ACCEPT, WebSocketDisconnected),
    ],
)
async def test_send_in_every_state(state, message, outcome, ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, extensions={"websocket.http.response": {}})
    for earlier in REACH[state]:
        await ws.send(earlier)
    assert ws.application_state is WebSocketState[state]
    if isinstance(outcome, str):
        await ws.send(message)
        assert chan.sent[-1] == message
        assert ws.application_state is WebSocketState[outcome]
    else:
        before = list(chan.sent)
        with pytest.raises(outcome):
            await ws.send(message)
        assert chan.sent == before
        assert ws.application_state is WebSocketState[state]


@pytest.mark.parametrize(
    ("incoming", "outcome"),
    [
        ([CONNECT], "CONNECTED"),
        ([text("early")], RuntimeError),
        ([CONNECT, text("a")], "CONNECTED"),
        ([CONNECT, disconnect(4003, "gone")], "DISCONNECTED"),
        ([CONNECT, CONNECT], RuntimeError),
        ([CONNECT, {"type": "websocket.bogus"}], RuntimeError),
    ],
)
async def test_receive_in_every_state(incoming, outcome, ws_scope, channel) -> None:
    chan = channel(list(incoming), then="block")
    ws = WebSocket(ws_scope(), chan.receive, chan.send)
    for _ in incoming[:-1]:
        await ws.receive()
    if isinstance(outcome, str):
        assert await ws.receive() == incoming[-1]
        assert ws.client_state is WebSocketState[outcome]
    else:
        with pytest.raises(outcome, match="expected ASGI message"):
            await ws.receive()


@pytest.mark.parametrize(
    "call",
    [
        lambda ws: ws.receive_text(),
        lambda ws: ws.receive_bytes(),
        lambda ws: ws.receive_json(),
        lambda ws: ws.send_text("x"),
        lambda ws: ws.send_bytes(b"x"),
        lambda ws: ws.send_json(1),
    ],
    ids=["receive_text", "receive_bytes", "receive_json", "send_text", "send_bytes", "send_json"],
)
@pytest.mark.parametrize(
    ("state", "match"),
    [("CONNECTING", 'call "accept" first'), ("DISCONNECTED", "already been closed")],
)
async def test_data_calls_need_an_open_socket(call, state, match, ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, text("1"), binary(b"1"))
    for earlier in REACH[state]:
        await ws.send(earlier)
    sent_before = list(chan.sent)
    with pytest.raises(WebSocketDisconnected, match=match):
        await call(ws)
    assert chan.sent == sent_before


async def test_data_frames_while_connected(ws_scope, channel) -> None:
    ws, chan = make(ws_scope, channel, text("a"), binary(b"b"), text("[1]"), disconnect(1001))
    await ws.accept()
    assert await ws.receive_text() == "a"
    assert await ws.receive_bytes() == b"b"
    assert await ws.receive_json() == [1]
    await ws.send_text("c")
    await ws.send_bytes(b"d")
    assert chan.sent[1:] == [
        {"type": "websocket.send", "text": "c"},
        {"type": "websocket.send", "bytes": b"d"},
    ]
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.receive_bytes()
    assert info.value.code == 1001
    assert ws.client_state is WebSocketState.DISCONNECTED
