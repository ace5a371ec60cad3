"""WebSocket: the ASGI state machine, frames, close codes, denial responses, fast paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagstone_requests import (
    ExceptionMiddleware,
    PlainTextResponse,
    ServerErrorMiddleware,
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
    wrap_app_handling_exceptions,
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
    # Starlette: sending before accept is an invalid message sequence.
    with pytest.raises(RuntimeError, match=r'^Expected ASGI message "websocket\.accept"'):
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
    with pytest.raises(WebSocketDisconnected) as info:
        await ws.send_text("late")
    assert str(info.value) == 'Cannot call "send" once a close message has been sent.'


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
    with pytest.raises(RuntimeError) as info:
        await ws.send_denial_response(PlainTextResponse("nope", status_code=403))
    assert str(info.value) == "The server doesn't support the Websocket Denial Response extension."
    assert any("'websocket.http.response'" in note for note in info.value.__notes__)


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
        with pytest.raises(caught) as info:
            await method(*args, mode=mode)
        assert str(info.value) == 'The "mode" argument should be "text" or "binary".'
        assert info.value.__notes__ == [f"flagstone: got mode={mode!r}"]
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
        with pytest.raises(outcome, match=r"^Expected ASGI message"):
            await ws.receive()


NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'
SEND_BEFORE_ACCEPT = (
    'Expected ASGI message "websocket.accept", "websocket.close" or '
    "\"websocket.http.response.start\", but got 'websocket.send'"
)
SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'
RECEIVES = [
    lambda ws: ws.receive_text(),
    lambda ws: ws.receive_bytes(),
    lambda ws: ws.receive_json(),
]
SENDS = [
    lambda ws: ws.send_text("x"),
    lambda ws: ws.send_bytes(b"x"),
    lambda ws: ws.send_json(1),
]


@pytest.mark.parametrize(
    ("call", "state", "error", "message"),
    [
        *[(call, "CONNECTING", WebSocketDisconnected, NOT_ACCEPTED) for call in RECEIVES],
        *[(call, "DISCONNECTED", WebSocketDisconnected, NOT_ACCEPTED) for call in RECEIVES],
        *[(call, "CONNECTING", RuntimeError, SEND_BEFORE_ACCEPT) for call in SENDS],
        *[(call, "DISCONNECTED", WebSocketDisconnected, SEND_AFTER_CLOSE) for call in SENDS],
    ],
)
async def test_data_calls_need_an_open_socket(
    call, state, error, message, ws_scope, channel
) -> None:
    # Starlette's exception types and texts, whichever call hits the closed state.
    ws, chan = make(ws_scope, channel, text("1"), binary(b"1"))
    for earlier in REACH[state]:
        await ws.send(earlier)
    sent_before = list(chan.sent)
    with pytest.raises(error) as info:
        await call(ws)
    assert str(info.value) == message
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


# --- data frames: the inlined per-frame paths agree with the layered ones -----------
# `receive_text`, `iter_text`, `send_text` (and the bytes twins) skip
# `receive()` / `send()` and the error layers' tracking wrapper for a data
# frame on a connected socket.  These tests run the same script on a plain
# `WebSocket` (fast paths) and on a subclass that overrides `receive` and
# `send` (layered paths, as Starlette calls them) and expect the same
# observable outcome.


class LayeredWebSocket(WebSocket):
    """Overrides the raw methods (changing nothing): the data methods must call them."""

    async def receive(self) -> Any:
        return await super().receive()

    async def send(self, message: Any) -> None:
        await super().send(message)


CLASSES = pytest.mark.parametrize("cls", [WebSocket, LayeredWebSocket], ids=["fast", "layered"])


async def _iterate(ws: WebSocket, method: str) -> list[Any]:
    return [item async for item in getattr(ws, method)()]


async def _close_inside_loop(ws: WebSocket) -> list[Any]:
    got = []
    async for item in ws.iter_text():
        got.append(item)
        await ws.close(4000)
    return got


async def _receive_after_disconnect(ws: WebSocket) -> Any:
    with pytest.raises(WebSocketDisconnect):
        await ws.receive_text()
    return await ws.receive_text()


async def _send_after_client_left(ws: WebSocket) -> Any:
    with pytest.raises(WebSocketDisconnect):
        await ws.receive_bytes()
    # The client side is gone, ours is still open: sending is allowed (the
    # server drops it), as in Starlette.
    await ws.send_text("late")
    await ws.send_bytes(b"late")


async def _echo(ws: WebSocket) -> list[Any]:
    got = [await ws.receive_text(), await ws.receive_bytes()]
    await ws.send_text(got[0])
    await ws.send_bytes(got[1])
    return got


async def _json_echo(ws: WebSocket) -> list[Any]:
    got = [await ws.receive_json(), await ws.receive_json(mode="binary")]
    await ws.send_json(got[0])
    await ws.send_json(got[1], mode="binary")
    return got


async def _receive_json_after_disconnect(ws: WebSocket) -> Any:
    with pytest.raises(WebSocketDisconnect):
        await ws.receive_json()
    return await ws.receive_json()


# (incoming frames after the connect, script run after accept(), expected result or error)
SCRIPTS: list[tuple[list[Any], Callable[[WebSocket], Awaitable[Any]], Any]] = [
    ([text("a"), binary(b"b")], _echo, ["a", b"b"]),
    (
        [text("a"), text("b"), disconnect(4001, "bye")],
        lambda ws: _iterate(ws, "iter_text"),
        ["a", "b"],
    ),
    ([binary(b"a"), disconnect(4001)], lambda ws: _iterate(ws, "iter_bytes"), [b"a"]),
    ([text("a"), binary(b"b")], lambda ws: _iterate(ws, "iter_text"), TypeError),
    ([binary(b"a"), text("b")], lambda ws: _iterate(ws, "iter_bytes"), TypeError),
    ([binary(b"a")], lambda ws: ws.receive_text(), TypeError),
    ([text("a")], lambda ws: ws.receive_bytes(), TypeError),
    ([{"type": "websocket.bogus"}], lambda ws: ws.receive_text(), RuntimeError),
    ([CONNECT], lambda ws: _iterate(ws, "iter_text"), RuntimeError),
    ([CONNECT], lambda ws: ws.receive_bytes(), RuntimeError),
    ([disconnect(4003)], lambda ws: ws.receive_bytes(), WebSocketDisconnect),
    ([disconnect(4003)], _receive_after_disconnect, WebSocketDisconnected),
    ([disconnect(4003)], _send_after_client_left, None),
    ([text("a"), text("b")], _close_inside_loop, WebSocketDisconnected),
    ([text('{"a":1}'), binary(b"[2]")], _json_echo, [{"a": 1}, [2]]),
    ([text("[1]"), text("2"), disconnect(4001)], lambda ws: _iterate(ws, "iter_json"), [[1], 2]),
    ([binary(b"[1]")], lambda ws: ws.receive_json(), TypeError),
    ([text("[1]")], lambda ws: ws.receive_json(mode="binary"), TypeError),
    ([disconnect(4003)], lambda ws: ws.receive_json(), WebSocketDisconnect),
    ([disconnect(4003)], _receive_json_after_disconnect, WebSocketDisconnected),
]
SCRIPT_IDS = [
    "echo",
    "iter_text",
    "iter_bytes",
    "iter_text-binary",
    "iter_bytes-text",
    "receive_text-binary",
    "receive_bytes-text",
    "bogus-message",
    "iter_text-second-connect",
    "receive_bytes-second-connect",
    "disconnect",
    "receive-after-disconnect",
    "send-after-client-left",
    "close-inside-iter_text",
    "json-echo",
    "iter_json",
    "receive_json-binary",
    "receive_json-binary-mode-text",
    "receive_json-disconnect",
    "receive_json-after-disconnect",
]


async def _run(cls: type[WebSocket], frames: list[Any], script: Any, ws_scope, channel) -> Any:
    chan = channel([CONNECT, *frames], then="block")
    ws = cls(ws_scope(), chan.receive, chan.send)
    await ws.accept()
    try:
        outcome: Any = await script(ws)
    except Exception as exc:
        outcome = (type(exc), str(exc), getattr(exc, "code", None))
    state = (ws.client_state, ws.application_state, ws.close_code, ws.close_reason)
    return outcome, chan.sent, state


@pytest.mark.parametrize(("frames", "script", "expected"), SCRIPTS, ids=SCRIPT_IDS)
async def test_fast_and_layered_paths_agree(frames, script, expected, ws_scope, channel) -> None:
    fast = await _run(WebSocket, frames, script, ws_scope, channel)
    layered = await _run(LayeredWebSocket, frames, script, ws_scope, channel)
    assert fast == layered
    outcome = fast[0]
    if isinstance(expected, type):
        assert outcome[0] is expected
    else:
        assert outcome == expected


@CLASSES
async def test_iteration_keeps_the_close_code(cls, ws_scope, channel) -> None:
    chan = channel([CONNECT, text("a"), disconnect(4001, "bye")], then="block")
    ws = cls(ws_scope(), chan.receive, chan.send)
    await ws.accept()
    assert [item async for item in ws.iter_text()] == ["a"]
    assert (ws.close_code, ws.close_reason) == (4001, "bye")
    assert ws.client_state is WebSocketState.DISCONNECTED
    assert ws.application_state is WebSocketState.CONNECTED


@pytest.mark.parametrize("call", ["send_text", "send_bytes"])
@CLASSES
async def test_send_oserror_becomes_1006(cls, call, ws_scope) -> None:
    async def receive() -> dict[str, Any]:
        return CONNECT

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise OSError("gone")

    ws = cls(ws_scope(), receive, send)
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as info:
        await getattr(ws, call)("x" if call == "send_text" else b"x")
    assert info.value.code == 1006
    assert (ws.application_state, ws.close_code) == (WebSocketState.DISCONNECTED, 1006)
    with pytest.raises(WebSocketDisconnected):
        await ws.send_text("again")


# --- a subclass override is called, as in Starlette -----------------------------------


def _subclass_overriding(name: str, calls: list[str]) -> type[WebSocket]:
    original = getattr(WebSocket, name)

    async def override(self: WebSocket, *args: Any) -> Any:
        calls.append(name)
        return await original(self, *args)

    return type(f"Overrides_{name}", (WebSocket,), {name: override})


# Which override each data method reaches is Starlette's: the JSON methods
# read and write through `receive()` / `send()`, never `*_text` / `*_bytes`.
@pytest.mark.parametrize(
    ("name", "frames", "script", "called"),
    [
        ("receive", [text("a")], lambda ws: ws.receive_text(), True),
        ("receive", [binary(b"a")], lambda ws: ws.receive_bytes(), True),
        ("receive", [text("a"), disconnect()], lambda ws: _iterate(ws, "iter_text"), True),
        ("receive", [text("1")], lambda ws: ws.receive_json(), True),
        ("receive_text", [text("a"), disconnect()], lambda ws: _iterate(ws, "iter_text"), True),
        (
            "receive_bytes",
            [binary(b"a"), disconnect()],
            lambda ws: _iterate(ws, "iter_bytes"),
            True,
        ),
        ("receive_json", [text("1"), disconnect()], lambda ws: _iterate(ws, "iter_json"), True),
        ("receive_text", [text("1")], lambda ws: ws.receive_json(), False),
        ("receive_bytes", [binary(b"1")], lambda ws: ws.receive_json(mode="binary"), False),
        ("send", [], lambda ws: ws.send_text("x"), True),
        ("send", [], lambda ws: ws.send_bytes(b"x"), True),
        ("send", [], lambda ws: ws.send_json(1), True),
        ("send_text", [], lambda ws: ws.send_json(1), False),
        ("send_bytes", [], lambda ws: ws.send_json(1, mode="binary"), False),
    ],
    ids=[
        "receive-by-receive_text",
        "receive-by-receive_bytes",
        "receive-by-iter_text",
        "receive-by-receive_json",
        "receive_text-by-iter_text",
        "receive_bytes-by-iter_bytes",
        "receive_json-by-iter_json",
        "receive_text-not-by-receive_json",
        "receive_bytes-not-by-receive_json",
        "send-by-send_text",
        "send-by-send_bytes",
        "send-by-send_json",
        "send_text-not-by-send_json",
        "send_bytes-not-by-send_json",
    ],
)
async def test_overridden_method_is_called(name, frames, script, called, ws_scope, channel) -> None:
    calls: list[str] = []
    cls = _subclass_overriding(name, calls)
    chan = channel([CONNECT, *frames], then="block")
    ws = cls(ws_scope(), chan.receive, chan.send)
    await ws.accept()
    calls.clear()  # accept() may use receive/send itself
    await script(ws)
    assert bool(calls) is called


# --- under the error layers ---------------------------------------------------------


class PassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _inside_handlers(app: Any) -> Any:
    """`app` run the way a framework's endpoint adapter runs it: inside the handlers."""

    async def adapter(scope: Any, receive: Any, send: Any) -> None:
        conn = WebSocket(scope, receive, send)
        await wrap_app_handling_exceptions(app, conn)(scope, receive, send)

    return ExceptionMiddleware(adapter)


STACKS = pytest.mark.parametrize(
    "stack",
    [
        lambda app: ServerErrorMiddleware(ExceptionMiddleware(app)),
        lambda app: ServerErrorMiddleware(PassThrough(ExceptionMiddleware(app))),
        lambda app: ExceptionMiddleware(app),
        lambda app: ServerErrorMiddleware(app),
        lambda app: ServerErrorMiddleware(_inside_handlers(app)),
    ],
    ids=["fused", "layered", "exception-only", "server-error-only", "inside-handlers"],
)


async def _serve(app: Any, ws_scope: Any, *frames: Any) -> list[Any]:
    incoming = [CONNECT, *frames]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    try:
        await app(ws_scope(), receive, send)
    except Exception as exc:
        sent.append(type(exc))
    return sent


@STACKS
@CLASSES
async def test_error_after_data_frames_closes_1011(stack, cls, ws_scope) -> None:
    # Data frames skip the tracking wrapper; the accept did not, so the
    # error layer still knows the socket is open and closes it.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = cls(scope, receive, send)
        await ws.accept()
        async for message in ws.iter_text():
            await ws.send_text(message)
            raise KeyError("bug")

    sent = await _serve(stack(app), ws_scope, text("a"))
    types = [m if isinstance(m, type) else m["type"] for m in sent]
    if types[-2] == "websocket.close":  # ServerErrorMiddleware present
        assert sent[-2]["code"] == 1011
        types[-2:-1] = []
    assert types == ["websocket.accept", "websocket.send", KeyError]
    assert sent[1] == {"type": "websocket.send", "text": "a"}


@STACKS
@CLASSES
async def test_error_after_close_sends_nothing_more(stack, cls, ws_scope) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = cls(scope, receive, send)
        await ws.accept()
        await ws.send_bytes(await ws.receive_bytes())
        await ws.close(4000)
        raise KeyError("late")

    sent = await _serve(stack(app), ws_scope, binary(b"a"))
    assert [m if isinstance(m, type) else m["type"] for m in sent] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
        KeyError,
    ]


@STACKS
async def test_raw_app_data_frames_pass_the_layers(stack, ws_scope) -> None:
    # An app without a WebSocket object calls the layers' send for every frame.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "bytes": b"x"})
        await send({"type": "websocket.close", "code": 1000})

    sent = await _serve(stack(app), ws_scope)
    assert sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "bytes": b"x"},
        {"type": "websocket.close", "code": 1000},
    ]


@pytest.mark.parametrize("outside", [True, False], ids=["outside-layers", "inside-layers"])
async def test_middleware_wrapping_send_sees_every_data_frame(outside, ws_scope) -> None:
    # Only the error layers' own tracking is skipped, never another wrapper.
    seen: list[str] = []

    class Recorder(PassThrough):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def recording_send(message: Any) -> None:
                seen.append(message["type"])
                await send(message)

            await self.app(scope, receive, recording_send)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.send_bytes(b"x")
        await ws.close()

    stacked = (
        Recorder(ServerErrorMiddleware(ExceptionMiddleware(app)))
        if outside
        else ServerErrorMiddleware(ExceptionMiddleware(Recorder(app)))
    )
    sent = await _serve(stacked, ws_scope, text("a"))
    expected = ["websocket.accept", "websocket.send", "websocket.send", "websocket.close"]
    assert seen == expected
    assert [m["type"] for m in sent] == expected


async def test_a_reason_that_is_not_text_goes_as_compact_json(ws_scope, channel) -> None:
    # FastAPI closes with its validation errors (a list) as the reason.
    ws, chan = make(ws_scope, channel)
    await ws.accept()
    await ws.close(code=1008, reason=[{"loc": ["query", "q"], "msg": "Field required"}])
    assert chan.sent[-1] == {
        "type": "websocket.close",
        "code": 1008,
        "reason": '[{"loc":["query","q"],"msg":"Field required"}]',
    }


async def test_a_long_reason_that_is_not_text_is_cut_at_123_bytes_on_a_character(
    ws_scope, channel
) -> None:
    ws, chan = make(ws_scope, channel)
    await ws.accept()
    await ws.close(code=1008, reason=["é" * 100])
    reason = chan.sent[-1]["reason"]
    assert reason.startswith('["éé')
    assert len(reason.encode("utf-8")) <= 123
    assert len(reason.encode("utf-8")) >= 121
