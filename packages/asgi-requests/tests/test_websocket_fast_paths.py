"""WebSocket data frames: the inlined per-frame paths agree with the layered ones.

`receive_text`, `iter_text`, `send_text` (and the bytes twins) skip
`receive()` / `send()` and the error layers' tracking wrapper for a data
frame on a connected socket.  Every test here runs the same script on a
plain `WebSocket` (fast paths) and on a subclass that overrides `receive`
and `send` (layered paths, as Starlette calls them) and expects the same
observable outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flagstone_requests import (
    ExceptionMiddleware,
    ServerErrorMiddleware,
    WebSocket,
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


@pytest.mark.parametrize(
    ("name", "frames", "script"),
    [
        ("receive", [text("a")], lambda ws: ws.receive_text()),
        ("receive", [binary(b"a")], lambda ws: ws.receive_bytes()),
        ("receive", [text("a"), disconnect()], lambda ws: _iterate(ws, "iter_text")),
        ("receive_text", [text("a"), disconnect()], lambda ws: _iterate(ws, "iter_text")),
        ("receive_bytes", [binary(b"a"), disconnect()], lambda ws: _iterate(ws, "iter_bytes")),
        ("send", [], lambda ws: ws.send_text("x")),
        ("send", [], lambda ws: ws.send_bytes(b"x")),
    ],
    ids=[
        "receive-by-receive_text",
        "receive-by-receive_bytes",
        "receive-by-iter_text",
        "receive_text-by-iter_text",
        "receive_bytes-by-iter_bytes",
        "send-by-send_text",
        "send-by-send_bytes",
    ],
)
async def test_overridden_method_is_called(name, frames, script, ws_scope, channel) -> None:
    calls: list[str] = []
    cls = _subclass_overriding(name, calls)
    chan = channel([CONNECT, *frames], then="block")
    ws = cls(ws_scope(), chan.receive, chan.send)
    await ws.accept()
    calls.clear()  # accept() may use receive/send itself
    await script(ws)
    assert calls, f"{name} was not called"


# --- under the error layers ---------------------------------------------------------


class PassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


STACKS = pytest.mark.parametrize(
    "stack",
    [
        lambda app: ServerErrorMiddleware(ExceptionMiddleware(app)),
        lambda app: ServerErrorMiddleware(PassThrough(ExceptionMiddleware(app))),
        lambda app: ExceptionMiddleware(app),
        lambda app: ServerErrorMiddleware(app),
    ],
    ids=["fused", "layered", "exception-only", "server-error-only"],
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

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

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
