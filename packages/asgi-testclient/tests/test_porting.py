"""What a test written for `starlette.testclient` relies on, kept when it runs on this client.

Each behaviour is checked with a raw ASGI app and with a Starlette app (the
third-party framework the client drives), through `TestClient` and
`AsyncTestClient`, on asyncio and trio.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import warnings
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from flagstone_contract import WebSocketDisconnect
from flagstone_testclient import (
    ASGIProtocolError,
    ASGIProtocolWarning,
    AsyncTestClient,
    TestClient,
    WebSocketClosed,
    WebSocketDenialResponse,
)

starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402


def closing_app(code: int, reason: str, *, accept: bool) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        if accept:
            await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code, "reason": reason})

    return app


async def denying_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"forbidden"})


def starlette_ws_app() -> Starlette:
    async def policy(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(code=1008, reason="policy")

    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(code=4003, reason="no")

    async def deny(websocket: WebSocket) -> None:
        await websocket.send_denial_response(PlainTextResponse("forbidden", status_code=403))

    return Starlette(
        routes=[
            WebSocketRoute("/policy", policy),
            WebSocketRoute("/refuse", refuse),
            WebSocketRoute("/deny", deny),
        ]
    )


class TestWebSocketDisconnectIsRaised:
    """Item: `pytest.raises(WebSocketDisconnect)` catches every close the test sees."""

    def test_client_errors_are_websocket_disconnects(self) -> None:
        assert issubclass(WebSocketClosed, WebSocketDisconnect)
        assert issubclass(WebSocketDenialResponse, WebSocketDisconnect)
        # An HTTP response of the library the client is built on (httpx2, else httpx).
        library = "httpx2" if importlib.util.find_spec("httpx2") else "httpx"
        assert issubclass(WebSocketDenialResponse, importlib.import_module(library).Response)

    @pytest.mark.parametrize("accept", [False, True], ids=["before-accept", "after-accept"])
    def test_raw_app_close(self, make_client: Callable[..., TestClient], accept: bool) -> None:
        app = closing_app(4001, "bye", accept=accept)
        with (
            pytest.raises(WebSocketDisconnect) as info,
            make_client(app).websocket_connect("/") as ws,
        ):
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "bye")
        assert isinstance(info.value, WebSocketClosed)

    @pytest.mark.parametrize(
        ("path", "code", "reason"),
        [("/policy", 1008, "policy"), ("/refuse", 4003, "no"), ("/missing", 1000, "")],
    )
    def test_starlette_app_close(
        self, make_client: Callable[..., TestClient], path: str, code: int, reason: str
    ) -> None:
        with (
            pytest.raises(WebSocketDisconnect) as info,
            make_client(starlette_ws_app()).websocket_connect(path) as ws,
        ):
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (code, reason)

    @pytest.mark.parametrize("app", [denying_app, starlette_ws_app()], ids=["raw", "starlette"])
    def test_denial_response(self, make_client: Callable[..., TestClient], app: Any) -> None:
        with (
            pytest.raises(WebSocketDisconnect) as info,
            make_client(app).websocket_connect("/deny"),
        ):
            pass
        assert isinstance(info.value, WebSocketDenialResponse)
        assert (info.value.status_code, info.value.text) == (403, "forbidden")

    def test_send_after_the_app_closed(self, make_client: Callable[..., TestClient]) -> None:
        with make_client(closing_app(1001, "going away", accept=True)).websocket_connect("/") as ws:
            assert ws.receive()["type"] == "websocket.close"
            with pytest.raises(WebSocketDisconnect, match="1001"):
                ws.send_text("late")

    @pytest.mark.anyio
    @pytest.mark.parametrize("accept", [False, True], ids=["before-accept", "after-accept"])
    async def test_async_raw_app_close(self, accept: bool) -> None:
        client = AsyncTestClient(closing_app(4001, "bye", accept=accept))
        with pytest.raises(WebSocketDisconnect) as info:
            async with client.websocket_connect("/") as ws:
                await ws.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "bye")

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        ("path", "code"), [("/policy", 1008), ("/refuse", 4003), ("/missing", 1000)]
    )
    async def test_async_starlette_app_close(self, path: str, code: int) -> None:
        async with AsyncTestClient(starlette_ws_app()) as client:
            with pytest.raises(WebSocketDisconnect) as info:
                async with client.websocket_connect(path) as ws:
                    await ws.receive_text()
        assert info.value.code == code

    @pytest.mark.anyio
    @pytest.mark.parametrize("app", [denying_app, starlette_ws_app()], ids=["raw", "starlette"])
    async def test_async_denial_response(self, app: Any) -> None:
        with pytest.raises(WebSocketDisconnect) as info:
            async with AsyncTestClient(app).websocket_connect("/deny"):
                pass
        assert isinstance(info.value, WebSocketDenialResponse)
        assert info.value.status_code == 403


def scope_recorder(seen: list[dict[str, Any]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        seen.append(scope)
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close"})
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    return app


def mounted_starlette_app() -> Starlette:
    from starlette.requests import Request
    from starlette.routing import Mount, Route

    async def items(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{request.url.path} {request.url_for('items')}")

    return Starlette(routes=[Mount("/sub", routes=[Route("/items", items, name="items")])])


class TestRootPath:
    """Item: `root_path` fills `scope["root_path"]`; the URL path is sent as written."""

    def test_http_path_is_sent_as_written(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[dict[str, Any]] = []
        make_client(scope_recorder(seen), root_path="/sub").get("/sub/items?x=1")
        path, raw_path, root_path = seen[0]["path"], seen[0]["raw_path"], seen[0]["root_path"]
        assert (path, raw_path, root_path) == ("/sub/items", b"/sub/items", "/sub")

    def test_websocket_path_is_sent_as_written(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        seen: list[dict[str, Any]] = []
        with pytest.raises(WebSocketDisconnect):  # noqa: SIM117
            with make_client(scope_recorder(seen), root_path="/sub").websocket_connect("/sub/ws"):
                pass
        assert (seen[0]["path"], seen[0]["root_path"]) == ("/sub/ws", "/sub")

    def test_starlette_app_behind_a_root_path(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(mounted_starlette_app(), root_path="/sub")
        response = client.get("/sub/sub/items")
        assert response.text == "/sub/sub/items http://testserver/sub/sub/items"

    def test_prefix_root_path_is_the_opt_in(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[dict[str, Any]] = []
        make_client(scope_recorder(seen), root_path="/sub", prefix_root_path=True).get("/items")
        assert (seen[0]["path"], seen[0]["root_path"]) == ("/sub/items", "/sub")

    @pytest.mark.anyio
    async def test_async_path_is_sent_as_written(self) -> None:
        seen: list[dict[str, Any]] = []
        async with AsyncTestClient(scope_recorder(seen), root_path="/sub") as client:
            await client.get("/sub/items")
            with pytest.raises(WebSocketDisconnect):
                async with client.websocket_connect("/sub/ws"):
                    pass
        assert [(s["path"], s["root_path"]) for s in seen] == [
            ("/sub/items", "/sub"),
            ("/sub/ws", "/sub"),
        ]

    @pytest.mark.anyio
    async def test_async_starlette_app_behind_a_root_path(self) -> None:
        client = AsyncTestClient(mounted_starlette_app(), root_path="/sub")
        response = await client.get("/sub/sub/items")
        assert response.text == "/sub/sub/items http://testserver/sub/sub/items"

    @pytest.mark.anyio
    async def test_async_prefix_root_path(self) -> None:
        seen: list[dict[str, Any]] = []
        client = AsyncTestClient(scope_recorder(seen), root_path="/sub", prefix_root_path=True)
        await client.get("/items")
        assert (seen[0]["path"], seen[0]["raw_path"]) == ("/sub/items", b"/sub/items")


def starlette_header_echo() -> Starlette:
    async def headers(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({k: websocket.headers.get(k) for k in ("connection", "upgrade")})
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/headers", headers)])


# What an app sees under Starlette's client, in its order.
STARLETTE_HANDSHAKE = [
    (b"host", b"testserver"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"user-agent", b"testclient"),
    (b"connection", b"upgrade"),
    (b"sec-websocket-key", b"testserver=="),
    (b"sec-websocket-version", b"13"),
]


def handshake_of(seen: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    # accept-encoding depends on the compression libraries installed.
    return [
        (name, b"gzip, deflate, br" if name == b"accept-encoding" else value)
        for name, value in seen[0]["headers"]
    ]


class TestHandshakeHeaders:
    """Item: the handshake sends exactly Starlette's headers (no `upgrade`, its key)."""

    def test_raw_app_sees_starlettes_headers(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[dict[str, Any]] = []
        with (
            pytest.raises(WebSocketDisconnect),
            make_client(scope_recorder(seen)).websocket_connect("/", subprotocols=["a", "b"]),
        ):
            pass
        assert handshake_of(seen) == [*STARLETTE_HANDSHAKE, (b"sec-websocket-protocol", b"a, b")]

    def test_starlette_app_sees_connection_upgrade(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        with make_client(starlette_header_echo()).websocket_connect("/headers") as ws:
            assert ws.receive_json() == {"connection": "upgrade", "upgrade": None}

    def test_headers_passed_to_the_call_still_win(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        client = make_client(starlette_header_echo())
        with client.websocket_connect(
            "/headers", headers={"Connection": "Upgrade, Keep-Alive"}
        ) as ws:
            assert ws.receive_json()["connection"] == "Upgrade, Keep-Alive"

    def test_auth_signs_the_handshake(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[dict[str, Any]] = []
        with (
            pytest.raises(WebSocketDisconnect),
            make_client(scope_recorder(seen)).websocket_connect("/", auth=("user", "pass")),
        ):
            pass
        assert handshake_of(seen) == [
            *STARLETTE_HANDSHAKE,
            (b"authorization", b"Basic dXNlcjpwYXNz"),
        ]

    @pytest.mark.anyio
    async def test_async(self) -> None:
        seen: list[dict[str, Any]] = []
        with pytest.raises(WebSocketDisconnect):
            async with AsyncTestClient(scope_recorder(seen)).websocket_connect(
                "/", auth=("user", "pass")
            ):
                pass
        assert handshake_of(seen) == [
            *STARLETTE_HANDSHAKE,
            (b"authorization", b"Basic dXNlcjpwYXNz"),
        ]
        async with AsyncTestClient(starlette_header_echo()).websocket_connect("/headers") as ws:
            assert await ws.receive_json() == {"connection": "upgrade", "upgrade": None}


async def receive_without_waiting(receive: Any) -> dict[str, Any]:
    """What a non-blocking disconnect check sees: receive() in a cancelled scope."""
    message: dict[str, Any] = {}
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
    return message


def disconnect_probe(seen: list[Any]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(await receive_without_waiting(receive))  # response still open
        await send({"type": "http.response.body", "body": b"done"})
        seen.append(await receive_without_waiting(receive))  # exchange over

    return app


def starlette_disconnect_probe(seen: list[Any]) -> Starlette:
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.routing import Route

    async def endpoint(request: Request) -> PlainTextResponse:
        async def after() -> None:
            seen.append(await request.is_disconnected())

        seen.append(await request.is_disconnected())
        return PlainTextResponse("done", background=BackgroundTask(after))

    return Starlette(routes=[Route("/", endpoint)])


class TestDisconnectAfterTheExchange:
    """Item: once the response is sent, a non-blocking receive() returns the disconnect."""

    def test_raw_app(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[Any] = []
        assert make_client(disconnect_probe(seen)).get("/").text == "done"
        assert seen == [{}, {"type": "http.disconnect"}]

    def test_starlette_is_disconnected(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[Any] = []
        with make_client(starlette_disconnect_probe(seen)) as client:
            assert client.get("/").text == "done"
        assert seen == [False, True]

    @pytest.mark.anyio
    async def test_async_raw_app(self) -> None:
        seen: list[Any] = []
        async with AsyncTestClient(disconnect_probe(seen)) as client:
            assert (await client.get("/")).text == "done"
        assert seen == [{}, {"type": "http.disconnect"}]

    @pytest.mark.anyio
    async def test_async_starlette_is_disconnected(self) -> None:
        seen: list[Any] = []
        assert (await AsyncTestClient(starlette_disconnect_probe(seen)).get("/")).text == "done"
        assert seen == [False, True]


def counting_stream(log: list[str], body: bytes, count: int = 3) -> Any:
    """Streams `count` chunks of `body` (maybe empty), then `end`; logs each send that returned."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(count):
            await send({"type": "http.response.body", "body": body, "more_body": True})
            log.append(f"sent {n}")
        await send({"type": "http.response.body", "body": b"end"})
        log.append("complete")

    return app


def starlette_stream(log: list[str], body: bytes) -> Starlette:
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def endpoint(request: Any) -> StreamingResponse:
        async def chunks() -> Any:
            for n in range(3):
                log.append(f"yield {n}")
                yield body
            log.append("complete")

        return StreamingResponse(chunks())

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "HEAD"])])


# (method, chunk): the cases whose chunks the client used to drop without waiting.
UNREAD_BODIES = [
    pytest.param("HEAD", b"data", id="head-body"),
    pytest.param("GET", b"", id="empty-chunks"),
]


class TestBackpressureWithoutData:
    """Item: an app streaming a HEAD body or empty chunks waits for the reader."""

    @pytest.mark.parametrize(("method", "chunk"), UNREAD_BODIES)
    def test_raw_app(
        self, make_client: Callable[..., TestClient], method: str, chunk: bytes
    ) -> None:
        log: list[str] = []
        with make_client(counting_stream(log, chunk)) as client:
            with client.stream(method, "/") as response:
                assert client.portal is not None
                client.portal.call(anyio.wait_all_tasks_blocked)
                assert log == []  # blocked in its first body send
                body = response.read()
            assert log == ["sent 0", "sent 1", "sent 2", "complete"]
        assert body == (b"" if method == "HEAD" else b"end")

    @pytest.mark.parametrize(("method", "chunk"), UNREAD_BODIES)
    def test_starlette_app(
        self, make_client: Callable[..., TestClient], method: str, chunk: bytes
    ) -> None:
        log: list[str] = []
        with make_client(starlette_stream(log, chunk)) as client:
            with client.stream(method, "/") as response:
                assert client.portal is not None
                client.portal.call(anyio.wait_all_tasks_blocked)
                assert log == ["yield 0"]
                response.read()
            assert log[-1] == "complete"

    @pytest.mark.parametrize(("method", "chunk"), UNREAD_BODIES)
    def test_buffered_request_still_reads_everything(
        self, make_client: Callable[..., TestClient], method: str, chunk: bytes
    ) -> None:
        log: list[str] = []
        response = make_client(counting_stream(log, chunk, count=50)).request(method, "/")
        assert response.content == (b"" if method == "HEAD" else b"end")
        assert log[-1] == "complete"

    @pytest.mark.anyio
    @pytest.mark.parametrize(("method", "chunk"), UNREAD_BODIES)
    async def test_async_raw_and_starlette_apps(self, method: str, chunk: bytes) -> None:
        raw_log: list[str] = []
        starlette_log: list[str] = []
        for app, log, first in [
            (counting_stream(raw_log, chunk), raw_log, []),
            (starlette_stream(starlette_log, chunk), starlette_log, ["yield 0"]),
        ]:
            async with AsyncTestClient(app) as client, client.stream(method, "/") as response:
                await anyio.wait_all_tasks_blocked()
                assert log == first
                await response.aread()
            assert log[-1] == "complete"


def endless(log: list[str], *, ignore_disconnect: bool) -> Any:
    """Streams until the client goes away; logs how it ended."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            if ignore_disconnect:
                await anyio.sleep_forever()
            while True:
                await send({"type": "http.response.body", "body": b"more", "more_body": True})
        except OSError:
            log.append("disconnected")
        except anyio.get_cancelled_exc_class():
            log.append("cancelled")
            raise

    return app


def starlette_endless(log: list[str]) -> Any:
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def endpoint(request: Any) -> StreamingResponse:
        async def chunks() -> Any:
            while True:
                yield b"data\n"

        return StreamingResponse(chunks())

    starlette_app = Starlette(routes=[Route("/", endpoint)])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await starlette_app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                log.append("app ended")

    return app


ENDLESS_APPS = [
    pytest.param(lambda log: endless(log, ignore_disconnect=False), "disconnected", id="raw"),
    pytest.param(lambda log: endless(log, ignore_disconnect=True), "cancelled", id="raw-deaf"),
    pytest.param(starlette_endless, "app ended", id="starlette"),
]


class TestCloseStopsOpenStreams:
    """Item: `client.close()` stops the streamed responses still open, as leaving `with` does."""

    @pytest.mark.parametrize("inside_with", [True, False], ids=["in-with", "no-with"])
    @pytest.mark.parametrize(("make_app", "ending"), ENDLESS_APPS)
    def test_close(
        self,
        make_client: Callable[..., TestClient],
        make_app: Callable[[list[str]], Any],
        ending: str,
        inside_with: bool,
    ) -> None:
        log: list[str] = []
        client = make_client(make_app(log), timeout=0.5)
        with contextlib.ExitStack() as stack:
            if inside_with:
                stack.enter_context(client)
            response = client.send(client.build_request("GET", "/"), stream=True)
            assert next(response.iter_raw())
            client.close()
            assert log == [ending]
        response.close()  # closing it again is harmless

    @pytest.mark.anyio
    @pytest.mark.parametrize(("make_app", "ending"), ENDLESS_APPS)
    async def test_async_aclose(self, make_app: Callable[[list[str]], Any], ending: str) -> None:
        log: list[str] = []
        async with AsyncTestClient(make_app(log), timeout=0.5) as client:
            response = await client.send(client.build_request("GET", "/"), stream=True)
            async with contextlib.aclosing(response.aiter_raw()) as chunks:
                assert await chunks.__anext__()
            await client.aclose()
            assert log == [ending]
        await response.aclose()


def starlette_server_echo() -> Starlette:
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Any) -> JSONResponse:
        return JSONResponse({"server": list(request.scope["server"]), "port": request.url.port})

    return Starlette(routes=[Route("/", endpoint)])


class TestPortZero:
    """Item: only a missing port is the scheme's default; port 0 stays 0."""

    @pytest.mark.parametrize(
        ("base_url", "server"),
        [("http://testserver:0", ("testserver", 0)), ("http://testserver", ("testserver", 80)),
         ("https://testserver", ("testserver", 443)), ("http://testserver:8000", ("testserver", 8000))],
    )  # fmt: skip
    def test_raw_app(
        self, make_client: Callable[..., TestClient], base_url: str, server: tuple[str, int]
    ) -> None:
        seen: list[dict[str, Any]] = []
        client = make_client(scope_recorder(seen), base_url=base_url)
        client.get("/")
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/"):
            pass
        assert [s["server"] for s in seen] == [server, server]

    def test_starlette_app(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(starlette_server_echo(), base_url="http://testserver:0")
        assert client.get("/").json() == {"server": ["testserver", 0], "port": 0}

    @pytest.mark.anyio
    async def test_async(self) -> None:
        seen: list[dict[str, Any]] = []
        await AsyncTestClient(scope_recorder(seen), base_url="http://testserver:0").get("/")
        assert seen[0]["server"] == ("testserver", 0)
        client = AsyncTestClient(starlette_server_echo(), base_url="http://testserver:0")
        assert (await client.get("/")).json() == {"server": ["testserver", 0], "port": 0}


def trailers_then_crash(*, more_trailers: bool) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"body"})
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"x-checksum", b"abc")],
                "more_trailers": more_trailers,
            }
        )
        raise RuntimeError("crashed after the trailers")

    return app


TRAILER_CRASHES = [
    pytest.param(True, id="more-trailers-promised"),
    pytest.param(False, id="trailers-complete"),
]


class TestTrailersBeforeACrash:
    """Item: with raise_server_exceptions=False, trailers sent before a crash are delivered."""

    @pytest.mark.parametrize("more_trailers", TRAILER_CRASHES)
    @pytest.mark.parametrize("stream", [False, True], ids=["get", "stream"])
    def test_sync(
        self, make_client: Callable[..., TestClient], more_trailers: bool, stream: bool
    ) -> None:
        app = trailers_then_crash(more_trailers=more_trailers)
        client = make_client(app, raise_server_exceptions=False)
        with client:
            if stream:
                with client.stream("GET", "/") as response:
                    response.read()
            else:
                response = client.get("/")
        assert (response.status_code, response.content) == (200, b"body")
        assert response.extensions["http.response.trailers"]["x-checksum"] == "abc"

    @pytest.mark.parametrize("more_trailers", TRAILER_CRASHES)
    def test_sync_raising(
        self, make_client: Callable[..., TestClient], more_trailers: bool
    ) -> None:
        app = trailers_then_crash(more_trailers=more_trailers)
        with pytest.raises(RuntimeError, match="crashed after the trailers"):
            make_client(app).get("/")

    @pytest.mark.anyio
    @pytest.mark.parametrize("more_trailers", TRAILER_CRASHES)
    async def test_async(self, more_trailers: bool) -> None:
        app = trailers_then_crash(more_trailers=more_trailers)
        client = AsyncTestClient(app, raise_server_exceptions=False)
        response = await client.get("/")  # outside `async with`: read in full
        assert response.extensions["http.response.trailers"]["x-checksum"] == "abc"
        async with client, client.stream("GET", "/") as streamed:
            await streamed.aread()
        assert streamed.extensions["http.response.trailers"]["x-checksum"] == "abc"


def upper_case_headers(names: list[bytes]) -> Any:
    """Answers HTTP with `names` as response headers, WebSocket with them on the accept."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(name, b"1") for name in names]
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept", "headers": headers})
            await send({"type": "websocket.close"})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

    return app


def starlette_with_raw_header_middleware() -> Any:
    """A ported middleware that appends a raw header with its usual spelling."""
    from starlette.routing import Route

    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/", endpoint)])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"X-Frame-Options", b"DENY")]
            await send(message)

        await inner(scope, receive, send_with_header)

    return app


def header_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, ASGIProtocolWarning)]


class TestUpperCaseHeaderNames:
    """Item: an upper-case header name is lower-cased with one warning; strict mode raises."""

    def test_raw_app_warns_once_per_name(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(upper_case_headers([b"X-Custom", b"X-CUSTOM", b"X-Other"]))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            for _ in range(3):
                response = client.get("/")
                assert response.headers.raw[0] == (b"x-custom", b"1")
            with client.websocket_connect("/") as ws:
                assert ws.extra_headers[0] == (b"x-custom", b"1")
        messages = header_warnings(record)
        assert len(messages) == 2
        # Attributed to the app's send() call, where the header was written.
        assert {w.filename for w in record if w.category is ASGIProtocolWarning} == {__file__}
        assert "b'X-Custom'" in messages[0]
        assert "b'X-Other'" in messages[1]
        assert "strict_header_case=True" in messages[0]

    def test_once_per_app_across_clients(self, make_client: Callable[..., TestClient]) -> None:
        app, other_app = upper_case_headers([b"X-Custom"]), upper_case_headers([b"X-Custom"])
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            make_client(app).get("/")
            make_client(app).get("/")
            make_client(other_app).get("/")
        assert len(header_warnings(record)) == 2

    def test_starlette_app_with_a_ported_middleware(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        with pytest.warns(ASGIProtocolWarning, match="X-Frame-Options"):
            response = make_client(starlette_with_raw_header_middleware()).get("/")
        assert (response.text, response.headers["x-frame-options"]) == ("ok", "DENY")

    @pytest.mark.parametrize(
        "app", [upper_case_headers([b"X-Custom"]), None], ids=["raw", "starlette"]
    )
    def test_strict_mode_raises(self, make_client: Callable[..., TestClient], app: Any) -> None:
        app = app or starlette_with_raw_header_middleware()
        client = make_client(app, strict_header_case=True)
        with pytest.raises(ASGIProtocolError, match="must be lower-case"):
            client.get("/")

    def test_strict_mode_on_websocket_accept(self, make_client: Callable[..., TestClient]) -> None:
        client = make_client(upper_case_headers([b"X-Custom"]), strict_header_case=True)
        with pytest.raises(ASGIProtocolError, match="must be lower-case"):  # noqa: SIM117
            with client.websocket_connect("/"):
                pass

    def test_invalid_names_are_still_refused(self, make_client: Callable[..., TestClient]) -> None:
        with pytest.raises(ASGIProtocolError, match="valid token"):
            make_client(upper_case_headers([b"X Custom"])).get("/")

    @pytest.mark.anyio
    async def test_async(self) -> None:
        client = AsyncTestClient(upper_case_headers([b"X-Custom"]))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            async with client:
                assert (await client.get("/")).headers.raw[0] == (b"x-custom", b"1")
                async with client.websocket_connect("/") as ws:
                    assert ws.extra_headers == [(b"x-custom", b"1")]
            response = await AsyncTestClient(starlette_with_raw_header_middleware()).get("/")
        assert response.headers["x-frame-options"] == "DENY"
        assert len(header_warnings(record)) == 2
        strict = AsyncTestClient(upper_case_headers([b"X-Custom"]), strict_header_case=True)
        with pytest.raises(ASGIProtocolError, match="must be lower-case"):
            await strict.get("/")


def crashing_endpoint(answer: str) -> Any:
    """What a framework does with an endpoint's crash: answer the client, then re-raise."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        if answer == "accept-then-1011":
            await send({"type": "websocket.accept"})
        try:
            raise LookupError("endpoint crashed")
        except LookupError:
            if answer == "denial-500":
                start = {"type": "websocket.http.response.start", "status": 500, "headers": []}
                await send(start)
                await send({"type": "websocket.http.response.body", "body": b"Internal"})
            else:
                await send({"type": "websocket.close", "code": 1011})
            raise

    return app


def starlette_crashing_endpoint() -> Starlette:
    async def endpoint(websocket: WebSocket) -> None:
        raise LookupError("endpoint crashed")

    return Starlette(routes=[WebSocketRoute("/", endpoint)])


CRASH_ANSWERS = ["denial-500", "close-1011", "accept-then-1011"]


class TestWebSocketEndpointCrash:
    """Issue 20: an endpoint's exception reaches the test, as for HTTP, not a denial."""

    @pytest.mark.parametrize("answer", CRASH_ANSWERS)
    def test_raw_app(self, make_client: Callable[..., TestClient], answer: str) -> None:
        with (
            pytest.raises(LookupError, match="endpoint crashed"),
            make_client(crashing_endpoint(answer)).websocket_connect("/") as ws,
        ):
            ws.receive_text()

    def test_starlette_app(self, make_client: Callable[..., TestClient]) -> None:
        with (
            pytest.raises(LookupError, match="endpoint crashed"),
            make_client(starlette_crashing_endpoint()).websocket_connect("/"),
        ):
            pass

    @pytest.mark.parametrize("answer", CRASH_ANSWERS)
    def test_raised_without_raise_server_exceptions_too(
        self, make_client: Callable[..., TestClient], answer: str
    ) -> None:
        # As in Starlette: raise_server_exceptions is about HTTP responses.
        client = make_client(crashing_endpoint(answer), raise_server_exceptions=False)
        with (
            pytest.raises(LookupError, match="endpoint crashed"),
            client.websocket_connect("/") as ws,
        ):
            ws.receive_text()

    @pytest.mark.anyio
    @pytest.mark.parametrize("answer", CRASH_ANSWERS)
    async def test_async_raw_app(self, answer: str) -> None:
        with pytest.raises(LookupError, match="endpoint crashed"):
            async with AsyncTestClient(crashing_endpoint(answer)).websocket_connect("/") as ws:
                await ws.receive_text()

    @pytest.mark.anyio
    async def test_async_starlette_app(self) -> None:
        async with AsyncTestClient(starlette_crashing_endpoint()) as client:
            with pytest.raises(LookupError, match="endpoint crashed"):
                async with client.websocket_connect("/"):
                    pass


def starlette_abnormal_close() -> Starlette:
    async def after_accept(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(code=1006)

    async def before_accept(websocket: WebSocket) -> None:
        await websocket.close(code=1006, reason="abnormal")

    return Starlette(
        routes=[WebSocketRoute("/after", after_accept), WebSocketRoute("/before", before_accept)]
    )


class TestReservedCloseCodes:
    """Issue 20: a close code such as 1006 sent by an app is reported, not refused."""

    @pytest.mark.parametrize("code", [1004, 1005, 1006, 1015])
    @pytest.mark.parametrize("accept", [False, True], ids=["before-accept", "after-accept"])
    def test_raw_app(self, make_client: Callable[..., TestClient], code: int, accept: bool) -> None:
        with (
            pytest.raises(WebSocketDisconnect) as info,
            make_client(closing_app(code, "abnormal", accept=accept)).websocket_connect("/") as ws,
        ):
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (code, "abnormal")

    @pytest.mark.parametrize("path", ["/after", "/before"])
    def test_starlette_app(self, make_client: Callable[..., TestClient], path: str) -> None:
        with (
            pytest.raises(WebSocketDisconnect) as info,
            make_client(starlette_abnormal_close()).websocket_connect(path) as ws,
        ):
            ws.receive_text()
        assert info.value.code == 1006

    def test_raw_message_is_returned(self, make_client: Callable[..., TestClient]) -> None:
        with make_client(closing_app(1006, "", accept=True)).websocket_connect("/") as ws:
            assert ws.receive() == {"type": "websocket.close", "code": 1006, "reason": ""}

    @pytest.mark.anyio
    @pytest.mark.parametrize("path", ["/after", "/before"])
    async def test_async(self, path: str) -> None:
        with pytest.raises(WebSocketDisconnect) as info:
            async with AsyncTestClient(starlette_abnormal_close()).websocket_connect(path) as ws:
                await ws.receive_text()
        assert info.value.code == 1006


def replaying(messages: list[dict[str, Any]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        for message in messages:
            await send(message)

    return app


STARTED = {"type": "http.response.start", "status": 200}
STARTED_WITH_TRAILERS = {"type": "http.response.start", "status": 200, "trailers": True}
FINAL_BODY = {"type": "http.response.body"}
TRAILERS = {"type": "http.response.trailers"}

STARLETTE_SEQUENCE_ERRORS = [
    pytest.param([], "TestClient did not receive any response.", id="no-response"),
    pytest.param(
        [TRAILERS],
        'Received "http.response.trailers" without declaring trailers.',
        id="trailers-first",
    ),
    pytest.param(
        [STARTED_WITH_TRAILERS, TRAILERS],
        'Received "http.response.trailers" before body completed.',
        id="trailers-before-body",
    ),
    pytest.param(
        [STARTED_WITH_TRAILERS, FINAL_BODY, FINAL_BODY],
        'Received "http.response.body" after body completed.',
        id="body-after-body",
    ),
    pytest.param(
        [STARTED_WITH_TRAILERS, FINAL_BODY, TRAILERS, TRAILERS],
        'Received "http.response.trailers" after response completed.',
        id="trailers-after-response",
    ),
    pytest.param(
        [STARTED, FINAL_BODY, FINAL_BODY],
        'Received "http.response.body" after response completed.',
        id="body-after-response",
    ),
    pytest.param(
        [STARTED, STARTED],
        'Received multiple "http.response.start" messages.',
        id="start-twice",
    ),
    pytest.param(
        [FINAL_BODY],
        'Received "http.response.body" without "http.response.start".',
        id="body-first",
    ),
]


class TestProtocolErrorsAreAssertionErrors:
    """Item: a broken message sequence raises `AssertionError` with Starlette's sentence."""

    @pytest.mark.parametrize(("messages", "text"), STARLETTE_SEQUENCE_ERRORS)
    def test_sync(
        self, make_client: Callable[..., TestClient], messages: list[Any], text: str
    ) -> None:
        with pytest.raises(AssertionError) as info:
            make_client(replaying(messages)).get("/")
        assert str(info.value) == text
        # Still flagstone's class, with its explanation in a note.
        assert isinstance(info.value, ASGIProtocolError)
        assert info.value.__notes__

    @pytest.mark.anyio
    @pytest.mark.parametrize(("messages", "text"), STARLETTE_SEQUENCE_ERRORS)
    async def test_async(self, messages: list[Any], text: str) -> None:
        with pytest.raises(AssertionError) as info:
            await AsyncTestClient(replaying(messages)).get("/")
        assert str(info.value) == text

    def test_no_response_without_raise_server_exceptions_is_a_500(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        response = make_client(replaying([]), raise_server_exceptions=False).get("/")
        assert (response.status_code, response.content) == (500, b"")

    @pytest.mark.parametrize("partial", [True, False])
    def test_missing_trailers_are_tolerated(
        self, make_client: Callable[..., TestClient], partial: bool
    ) -> None:
        messages: list[dict[str, Any]] = [
            STARTED_WITH_TRAILERS,
            {"type": "http.response.body", "body": b"hello"},
        ]
        if partial:
            messages.append(
                {
                    "type": "http.response.trailers",
                    "headers": [(b"x-item", b"partial")],
                    "more_trailers": True,
                }
            )
        response = make_client(replaying(messages)).get("/")
        assert response.content == b"hello"
        assert response.extensions["http.response.trailers"] == (
            [(b"x-item", b"partial")] if partial else []
        )


class TestDebugInfoAfterStart:
    """Item: `http.response.debug` is accepted after `http.response.start`, as in Starlette."""

    INFO = {"template": "index.html", "context": {"name": "world"}, "blocks": ["nav"]}

    def debug_app(self, info: dict[str, Any]) -> Any:
        return replaying(
            [
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                },
                {"type": "http.response.debug", "info": info},
                {"type": "http.response.body", "body": b"Hello, world!"},
            ]
        )

    def test_sync(self, make_client: Callable[..., TestClient]) -> None:
        response = make_client(self.debug_app(self.INFO)).get("/")
        assert response.extensions["http.response.debug"] == self.INFO
        assert response.template == "index.html"  # type: ignore[attr-defined]
        assert response.context == {"name": "world"}  # type: ignore[attr-defined]

    def test_without_a_template_there_is_no_template_attribute(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        info = {"fragment": "header", "blocks": ["nav", "title"]}
        response = make_client(self.debug_app(info)).get("/")
        assert response.extensions["http.response.debug"] == info
        assert not hasattr(response, "template")

    @pytest.mark.anyio
    async def test_async(self) -> None:
        client = AsyncTestClient(self.debug_app(self.INFO))
        response = await client.get("/")
        assert response.template == "index.html"  # type: ignore[attr-defined]
        async with client, client.stream("GET", "/") as streamed:
            await streamed.aread()
        assert streamed.template == "index.html"  # type: ignore[attr-defined]


def raising_with_context() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        try:
            {}["missing"]
        except KeyError:
            raise ValueError("from the app")  # its context, KeyError, is the point

    return app


def failing_after_response() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})
        try:
            {}["missing"]
        except KeyError:
            raise ValueError("after the response") from None

    return app


class TestReRaisedExceptionKeepsItsContext:
    """Item: the app's exception is re-raised with its own `__context__`, not the client's."""

    def test_before_the_response(self, make_client: Callable[..., TestClient]) -> None:
        with pytest.raises(ValueError, match="from the app") as info:
            make_client(raising_with_context()).get("/chained")
        assert isinstance(info.value.__context__, KeyError)

    def test_after_the_response(self, make_client: Callable[..., TestClient]) -> None:
        with pytest.raises(ValueError, match="after the response") as info:
            make_client(failing_after_response()).get("/")
        assert isinstance(info.value.__context__, KeyError)
        assert info.value.__suppress_context__

    def test_an_exception_without_context_has_none(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"ok"})
            raise ValueError("plain")

        with pytest.raises(ValueError, match="plain") as info:
            make_client(app).get("/")
        assert info.value.__context__ is None

    @pytest.mark.anyio
    async def test_async(self) -> None:
        client = AsyncTestClient(failing_after_response())
        with pytest.raises(ValueError, match="after the response") as info:
            await client.get("/")
        assert isinstance(info.value.__context__, KeyError)
        async with client:
            with pytest.raises(ValueError, match="after the response") as info:
                await client.get("/")
        assert isinstance(info.value.__context__, KeyError)

    def test_websocket(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            try:
                {}["missing"]
            except KeyError:
                raise ValueError("websocket app") from None

        with pytest.raises(ValueError, match="websocket app") as info:  # noqa: SIM117
            with make_client(app).websocket_connect("/") as ws:
                ws.receive_text()
        assert isinstance(info.value.__context__, KeyError)
