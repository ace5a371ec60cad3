"""WebSocket sessions: handshake, frames, close codes, denial, timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from flagstone_testclient import (
    AppTimeoutError,
    AsyncTestClient,
    TestClient,
    WebSocketClosed,
    WebSocketDenialResponse,
)


def echo_app(log: list[Any]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        log.append(scope)
        assert await receive() == {"type": "websocket.connect"}
        subprotocols = scope["subprotocols"]
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocols[0] if subprotocols else None,
                "headers": [(b"x-accepted", b"yes")],
            }
        )
        while True:
            message = await receive()
            log.append(message)
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close":
                await send({"type": "websocket.close", "code": 4001, "reason": "asked to"})
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": "echo:" + message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": b"echo:" + message["bytes"]})

    return app


def silent_app(accept: bool) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        if accept:
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "hello"})
        await anyio.sleep_forever()

    return app


class TestSession:
    def test_echo_text_bytes_and_json(self, make_client: Callable[..., TestClient]) -> None:
        log: list[Any] = []
        with make_client(echo_app(log)).websocket_connect(
            "/ws?x=1", subprotocols=["chat", "v2"]
        ) as ws:
            assert ws.accepted_subprotocol == "chat"
            assert ws.extra_headers == [(b"x-accepted", b"yes")]
            ws.send_text("hi")
            assert ws.receive_text() == "echo:hi"
            ws.send_bytes(b"\x00")
            assert ws.receive_bytes() == b"echo:\x00"
            ws.send_json({"a": "é"})
            assert ws.receive_text() == 'echo:{"a":"é"}'
        scope = log[0]
        assert scope["type"] == "websocket"
        assert scope["scheme"] == "ws"
        assert scope["path"] == "/ws"
        assert scope["query_string"] == b"x=1"
        assert scope["subprotocols"] == ["chat", "v2"]
        assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
        assert "websocket.http.response" in scope["extensions"]
        headers = dict(scope["headers"])
        assert headers[b"sec-websocket-protocol"] == b"chat, v2"
        assert headers[b"sec-websocket-key"] == b"testserver=="
        assert b"upgrade" not in headers
        # Leaving the block disconnected with 1000.
        assert log[-1] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}

    def test_json_in_binary_mode(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "bytes": message["bytes"]})
            await send({"type": "websocket.close"})

        with make_client(app).websocket_connect("/") as ws:
            ws.send_json([1, 2], mode="binary")
            assert ws.receive_json(mode="binary") == [1, 2]

    def test_client_close_delivers_code_and_reason(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        log: list[Any] = []
        with make_client(echo_app(log)).websocket_connect("/") as ws:
            ws.close(4000, "bye")
        assert log[-1] == {"type": "websocket.disconnect", "code": 4000, "reason": "bye"}

    def test_app_close_raises_with_code_and_reason(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        with make_client(echo_app([])).websocket_connect("/") as ws:
            ws.send_text("close")
            with pytest.raises(WebSocketClosed) as info:
                ws.receive_text()
            assert (info.value.code, info.value.reason) == (4001, "asked to")
            # The raw message is available through receive().
            assert ws.receive() == {"type": "websocket.close", "code": 4001, "reason": "asked to"}
            with pytest.raises(WebSocketClosed):
                ws.send_text("too late")

    def test_wrong_frame_type_is_a_clear_error(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        with make_client(echo_app([])).websocket_connect("/") as ws:
            ws.send_bytes(b"x")
            with pytest.raises(
                TypeError, match=r"expected a text frame from the app, got .*'bytes'"
            ):
                ws.receive_text()

    def test_wrong_frame_type_is_a_key_error_too(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        # What Starlette's client raises (`message["bytes"]` on a text frame).
        with make_client(echo_app([])).websocket_connect("/") as ws:
            ws.send_text("x")
            with pytest.raises(KeyError) as info:
                ws.receive_bytes()
        assert str(info.value).startswith("expected a binary frame from the app, got ")

    def test_app_returning_without_close_reads_as_abnormal_closure(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})

        with make_client(app).websocket_connect("/") as ws, pytest.raises(WebSocketClosed) as info:
            ws.receive_text()
        assert info.value.code == 1006

    def test_send_after_client_close_raises_oserror_in_app(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        log: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            assert (await receive())["type"] == "websocket.disconnect"
            try:
                await send({"type": "websocket.send", "text": "late"})
            except OSError:
                log.append("OSError")

        with make_client(app).websocket_connect("/") as ws:
            ws.close()
        assert log == ["OSError"]

    def test_app_exception_is_re_raised(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            raise RuntimeError("handler crashed")

        with make_client(app).websocket_connect("/") as ws:
            ws.send_text("boom")
            with pytest.raises(RuntimeError, match="handler crashed"):
                ws.receive_text()

    def test_app_exception_is_raised_whatever_raise_server_exceptions_says(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        # As in Starlette: raise_server_exceptions is about HTTP responses.
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            raise RuntimeError("handler crashed")

        client = make_client(app, raise_server_exceptions=False)
        with (
            pytest.raises(RuntimeError, match="handler crashed"),
            client.websocket_connect("/") as ws,
        ):
            ws.receive_text()

    def test_base_url_and_cookies_apply(self, make_client: Callable[..., TestClient]) -> None:
        log: list[Any] = []
        client = make_client(
            echo_app(log), base_url="https://example.org/base/", cookies={"sid": "1"}
        )
        with client.websocket_connect("ws"):
            pass
        assert log[0]["scheme"] == "wss"
        assert log[0]["path"] == "/base/ws"
        assert dict(log[0]["headers"])[b"cookie"] == b"sid=1"


class TestHandshake:
    def test_close_before_accept_raises(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.close", "code": 1008, "reason": "policy"})

        with pytest.raises(WebSocketClosed) as info, make_client(app).websocket_connect("/"):
            pass
        assert (info.value.code, info.value.reason) == (1008, "policy")
        assert not isinstance(info.value, WebSocketDenialResponse)

    def test_denial_response_carries_the_http_response(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send(
                {"type": "websocket.http.response.body", "body": b'{"error":', "more_body": True}
            )
            await send({"type": "websocket.http.response.body", "body": b'"login"}'})

        with (
            pytest.raises(WebSocketDenialResponse) as info,
            make_client(app).websocket_connect("/"),
        ):
            pass
        denial = info.value
        assert denial.status_code == 401
        assert denial.headers["www-authenticate"] == "Bearer"
        assert denial.json() == {"error": "login"}
        assert isinstance(denial, WebSocketClosed)
        assert "401" in str(denial)

    def test_app_returning_without_answer_is_a_protocol_error(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        from flagstone_testclient import ASGIProtocolError

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()

        with (
            pytest.raises(ASGIProtocolError, match="without accepting"),
            make_client(app).websocket_connect("/"),
        ):
            pass

    def test_crash_in_handshake_is_raised(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            raise PermissionError("no")

        with pytest.raises(PermissionError), make_client(app).websocket_connect("/"):
            pass

    def test_crash_in_handshake_is_raised_even_without_raise_server_exceptions(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            raise PermissionError("no")

        client = make_client(app, raise_server_exceptions=False)
        with pytest.raises(PermissionError), client.websocket_connect("/"):
            pass


class TestTimeouts:
    def test_silent_app_times_out_on_connect(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(silent_app(accept=False), websocket_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(AppTimeoutError) as info, client.websocket_connect("/"):
            pass
        assert time.monotonic() - started < 3
        message = str(info.value)
        assert (
            "timed out after 0.2 s waiting for the app to answer the WebSocket handshake" in message
        )
        assert "the app has sent nothing yet" in message

    def test_silent_app_times_out_on_receive(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(silent_app(accept=True), websocket_timeout=0.2)
        started = time.monotonic()
        with client.websocket_connect("/") as ws:
            assert ws.receive_text() == "hello"
            with pytest.raises(AppTimeoutError) as info:
                ws.receive_text()
        assert time.monotonic() - started < 3
        message = str(info.value)
        assert "waiting for a text frame from the WebSocket app" in message
        assert (
            "the last message the app sent was {'type': 'websocket.send', 'text': 'hello'}"
            in message
        )

    def test_per_call_timeout_overrides_the_client(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        client = make_client(silent_app(accept=True), websocket_timeout=0.5)
        with client.websocket_connect("/") as ws:
            ws.receive()
            with pytest.raises(AppTimeoutError, match=r"after 0\.05 s"):
                ws.receive(timeout=0.05)

    def test_per_session_timeout(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(silent_app(accept=False), websocket_timeout=60)
        with (
            pytest.raises(AppTimeoutError, match=r"after 0\.05 s"),
            client.websocket_connect("/", timeout=0.05),
        ):
            pass


@pytest.mark.anyio
class TestAsyncSession:
    async def test_echo(self) -> None:
        log: list[Any] = []
        client = AsyncTestClient(echo_app(log))
        async with client.websocket_connect("/ws", subprotocols=["v1"]) as ws:
            assert ws.accepted_subprotocol == "v1"
            await ws.send_text("hi")
            assert await ws.receive_text() == "echo:hi"
            await ws.send_json({"n": 1})
            assert await ws.receive_text() == 'echo:{"n":1}'
            await ws.send_bytes(b"b")
            assert await ws.receive_bytes() == b"echo:b"
        assert log[-1]["type"] == "websocket.disconnect"

    async def test_inside_async_with_client(self) -> None:
        async with AsyncTestClient(echo_app([])) as client, client.websocket_connect("/") as ws:
            await ws.send_text("close")
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive_text()
            assert info.value.code == 4001

    async def test_silent_app_times_out(self) -> None:
        client = AsyncTestClient(silent_app(accept=True), websocket_timeout=0.1)
        with anyio.fail_after(3):
            async with client.websocket_connect("/") as ws:
                assert await ws.receive_text() == "hello"
                with pytest.raises(AppTimeoutError, match="last message the app sent"):
                    await ws.receive_text()

    async def test_silent_app_times_out_on_connect(self) -> None:
        client = AsyncTestClient(silent_app(accept=False), websocket_timeout=0.1)
        with anyio.fail_after(3), pytest.raises(AppTimeoutError, match="handshake"):
            async with client.websocket_connect("/"):
                pass

    async def test_denial(self) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b"go away"})

        with pytest.raises(WebSocketDenialResponse) as info:
            async with AsyncTestClient(app).websocket_connect("/"):
                pass
        assert (info.value.status_code, info.value.text) == (403, "go away")


def test_session_must_be_entered(make_client: Callable[..., TestClient]) -> None:
    session = make_client(echo_app([])).websocket_connect("/")
    with pytest.raises(RuntimeError, match=r"with client\.websocket_connect"):
        session.send_text("hi")
