"""HTTP requests against raw ASGI apps: scope, bodies, errors, extensions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from flagstone_testclient import ASGIProtocolError, AsyncTestClient, TestClient


async def read_body(receive: Any) -> tuple[bytes, list[dict[str, Any]]]:
    messages = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages


def make_echo_scope_app(seen: list[dict[str, Any]]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no lifespan here
        seen.append(scope)
        await read_body(receive)
        payload = json.dumps(
            {"path": scope["path"], "query": scope["query_string"].decode()}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


class TestScope:
    def test_scope_is_what_a_server_builds(self, make_client: Callable[..., TestClient]) -> None:
        seen: list[dict[str, Any]] = []
        client = make_client(make_echo_scope_app(seen))
        response = client.get("/caf%C3%A9/x?a=1&b=%20", headers={"X-Custom": "yes"})
        assert response.json() == {"path": "/café/x", "query": "a=1&b=%20"}
        scope = seen[0]
        assert scope["type"] == "http"
        assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
        assert scope["http_version"] == "1.1"
        assert scope["method"] == "GET"
        assert scope["scheme"] == "http"
        assert scope["raw_path"] == b"/caf%C3%A9/x"
        assert scope["root_path"] == ""
        assert scope["client"] == ("testclient", 50000)
        assert scope["server"] == ("testserver", 80)
        assert scope["state"] == {}
        assert set(scope["extensions"]) == {
            "http.response.trailers",
            "http.response.pathsend",
            "http.response.early_hint",
            "http.response.debug",
        }
        headers = dict(scope["headers"])
        assert headers[b"x-custom"] == b"yes"  # names lower-cased, as servers do
        assert headers[b"user-agent"] == b"testclient"
        assert headers[b"host"] == b"testserver"

    def test_prefix_root_path_prepends_the_root_path(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        seen: list[dict[str, Any]] = []
        client = make_client(make_echo_scope_app(seen), root_path="/api/", prefix_root_path=True)
        assert client.get("/users").json()["path"] == "/api/users"
        assert seen[0]["root_path"] == "/api"
        assert seen[0]["raw_path"] == b"/api/users"

    def test_base_url_client_address_and_https(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        seen: list[dict[str, Any]] = []
        client = make_client(
            make_echo_scope_app(seen),
            base_url="https://example.org:8443",
            client=("10.0.0.7", 1234),
        )
        client.get("/")
        assert seen[0]["scheme"] == "https"
        assert seen[0]["server"] == ("example.org", 8443)
        assert seen[0]["client"] == ("10.0.0.7", 1234)

    def test_caller_headers_are_not_mutated(self, make_client: Callable[..., TestClient]) -> None:
        headers = {"x-token": "t"}
        client = make_client(make_echo_scope_app([]), headers=headers)
        assert headers == {"x-token": "t"}
        assert client.headers["user-agent"] == "testclient"
        assert client.headers["x-token"] == "t"


class TestRequestBody:
    def test_bytes_body_is_one_message(self, make_client: Callable[..., TestClient]) -> None:
        received: list[list[dict[str, Any]]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            _, messages = await read_body(receive)
            received.append(messages)
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})

        make_client(app).post("/", content=b"abc")
        assert received == [[{"type": "http.request", "body": b"abc", "more_body": False}]]

    def test_iterator_body_arrives_as_several_messages(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        received: list[list[dict[str, Any]]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            _, messages = await read_body(receive)
            received.append(messages)
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})

        def chunks() -> Iterator[bytes]:
            yield b"one"
            yield b""
            yield b"two"

        make_client(app).post("/", content=chunks())
        assert received == [
            [
                {"type": "http.request", "body": b"one", "more_body": True},
                {"type": "http.request", "body": b"two", "more_body": True},
                {"type": "http.request", "body": b"", "more_body": False},
            ]
        ]

    @pytest.mark.anyio
    async def test_async_iterator_body_is_not_read_ahead(self) -> None:
        # The generator waits for the app to have seen chunk one before it
        # yields chunk two: a client that reads ahead would deadlock here.
        seen_first = anyio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return  # no lifespan here
            first = await receive()
            assert first == {"type": "http.request", "body": b"one", "more_body": True}
            seen_first.set()
            body, _ = await read_body(receive)
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": first["body"] + body})

        async def chunks() -> AsyncIterator[bytes]:
            yield b"one"
            await seen_first.wait()
            yield b"two"

        async with AsyncTestClient(app) as client:
            with anyio.fail_after(5):
                response = await client.post("/", content=chunks())
        assert response.content == b"onetwo"

    def test_receive_after_body_waits_for_the_response_then_disconnects(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        order: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await read_body(receive)

            async def listen() -> None:
                message = await receive()
                order.append(message["type"])

            async with anyio.create_task_group() as tg:
                tg.start_soon(listen)
                await send({"type": "http.response.start", "status": 200})
                order.append("start sent")
                await send({"type": "http.response.body", "body": b"done"})
                order.append("body sent")

        assert make_client(app).get("/").text == "done"
        assert order == ["start sent", "body sent", "http.disconnect"]


def error_app(when: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return  # no lifespan support: tolerated, as by servers
        if when == "after_start":
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise LookupError("boom")

    return app


class TestServerExceptions:
    @pytest.mark.parametrize("when", ["before_start", "after_start"])
    def test_app_exception_is_re_raised(
        self, make_client: Callable[..., TestClient], when: str
    ) -> None:
        with pytest.raises(LookupError, match="boom"):
            make_client(error_app(when)).get("/")

    def test_500_when_not_raising_and_nothing_sent(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        response = make_client(error_app("before_start"), raise_server_exceptions=False).get("/")
        assert response.status_code == 500
        assert response.content == b""

    def test_truncated_response_when_not_raising(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        response = make_client(error_app("after_start"), raise_server_exceptions=False).get("/")
        assert (response.status_code, response.content) == (200, b"partial")

    @pytest.mark.anyio
    @pytest.mark.parametrize("when", ["before_start", "after_start"])
    async def test_async_app_exception_is_re_raised(self, when: str) -> None:
        async with AsyncTestClient(error_app(when)) as client:
            with pytest.raises(LookupError, match="boom"):
                await client.get("/")

    def test_app_that_never_responds_is_an_error(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            return None

        with pytest.raises(ASGIProtocolError, match=r"without sending 'http\.response\.start'"):
            make_client(app).get("/")

    def test_background_work_finishes_before_get_returns(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        done: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"ok"})
            await anyio.lowlevel.checkpoint()
            done.append("background")

        assert make_client(app).get("/").text == "ok"
        assert done == ["background"]

    def test_background_error_is_re_raised(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"ok"})
            raise KeyError("background task failed")

        with pytest.raises(KeyError, match="background task failed"):
            make_client(app).get("/")


def cookie_and_redirect_app() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        headers = dict(scope["headers"])
        if scope["path"] == "/login":
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [
                        (b"location", b"/me"),
                        (b"set-cookie", b"sid=abc; Path=/"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body"})
            return
        body = headers.get(b"cookie", b"none")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def test_cookies_persist_and_redirects_are_followed(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cookie_and_redirect_app())
    response = client.get("/login")
    assert response.status_code == 200
    assert response.url == "http://testserver/me"
    assert response.text == "sid=abc"
    assert client.get("/me").text == "sid=abc"


def test_redirects_can_be_left_alone(make_client: Callable[..., TestClient]) -> None:
    response = make_client(cookie_and_redirect_app(), follow_redirects=False).get("/login")
    assert response.status_code == 302
    assert response.headers["location"] == "/me"


@pytest.mark.anyio
async def test_async_client_without_async_with_still_works() -> None:
    client = AsyncTestClient(cookie_and_redirect_app())
    response = await client.get("/login")
    assert response.text == "sid=abc"


@pytest.mark.anyio
async def test_async_client_runs_app_in_the_test_loop() -> None:
    # A loop-bound resource created in the test is usable by the app.
    lock = anyio.Lock()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        async with lock:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"locked"})

    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).text == "locked"


class TestExtensions:
    def test_head_drops_the_body(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"5")],
                }
            )
            await send({"type": "http.response.body", "body": b"hello"})

        response = make_client(app).head("/")
        assert response.headers["content-length"] == "5"
        assert response.content == b""

    def test_trailers_are_exposed_in_extensions(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "trailers": True})
            await send({"type": "http.response.body", "body": b"data"})
            await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

        response = make_client(app).get("/")
        assert response.text == "data"
        assert response.extensions["http.response.trailers"]["x-checksum"] == "abc"

    def test_early_hints_are_recorded(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(
                {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]}
            )
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"page"})

        response = make_client(app).get("/")
        assert response.extensions["http.response.early_hint"] == [[b"</style.css>; rel=preload"]]

    def test_debug_info_becomes_template_and_context(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            assert "http.response.debug" in scope["extensions"]
            info = {"template": "the-template", "context": {"name": "ada"}}
            await send({"type": "http.response.debug", "info": info})
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"page"})

        response = make_client(app).get("/")
        assert response.template == "the-template"  # type: ignore[attr-defined]
        assert response.context == {"name": "ada"}  # type: ignore[attr-defined]
        plain = make_client(TestExtensions._plain_app).get("/")
        assert not hasattr(plain, "template")

    @staticmethod
    async def _plain_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x"})

    def test_pathsend_streams_the_file(
        self, make_client: Callable[..., TestClient], tmp_path: Path
    ) -> None:
        file = tmp_path / "data.bin"
        file.write_bytes(b"x" * 100_000)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100000")],
                }
            )
            await send({"type": "http.response.pathsend", "path": str(file)})

        response = make_client(app).get("/")
        assert response.content == b"x" * 100_000

    def test_pathsend_of_a_missing_file_is_an_error(
        self, make_client: Callable[..., TestClient], tmp_path: Path
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.pathsend", "path": str(tmp_path / "missing")})

        with pytest.raises(ASGIProtocolError, match="cannot read"):
            make_client(app).get("/")


def test_per_request_timeout_is_honoured(make_client: Callable[..., TestClient]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await anyio.sleep_forever()

    with pytest.raises(TimeoutError, match=r"http\.response\.start.*GET /"):
        make_client(app).get("/", timeout=0.05)


def test_httpx_api_is_available(make_client: Callable[..., TestClient]) -> None:
    client = make_client(make_echo_scope_app([]))
    response = client.request("OPTIONS", "/x", params={"q": "1"})
    assert response.json() == {"path": "/x", "query": "q=1"}


class TestLenientWhereServersAre:
    def test_bytes_like_bodies_are_accepted(self, make_client: Callable[..., TestClient]) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200})
            await send(
                {"type": "http.response.body", "body": memoryview(b"mem"), "more_body": True}
            )
            await send({"type": "http.response.body", "body": bytearray(b"array")})

        assert make_client(app).get("/").content == b"memarray"

    def test_304_keeps_the_representation_content_length(
        self, make_client: Callable[..., TestClient]
    ) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [(b"content-length", b"1234")],
                }
            )
            await send({"type": "http.response.body"})

        response = make_client(app).get("/")
        assert (response.status_code, response.content) == (304, b"")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param(
            {"backend": "curio"}, "backend must be 'asyncio' or 'trio'", id="unknown-backend"
        ),
        pytest.param({"client": "127.0.0.1"}, "client must be a", id="client-not-a-pair"),
        pytest.param({"client": ("h", "80")}, "client must be a", id="client-port-str"),
        pytest.param({"root_path": "api"}, "root_path must be", id="root-path-relative"),
    ],
)
def test_bad_constructor_arguments_are_rejected(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        TestClient(make_echo_scope_app([]), **kwargs)


def test_portal_runs_code_in_the_apps_loop(make_client: Callable[..., TestClient]) -> None:
    client = make_client(make_echo_scope_app([]))

    def portal_now() -> Any:
        return client.portal

    assert portal_now() is None
    with client:
        assert portal_now().call(anyio.sleep, 0) is None
    assert portal_now() is None


def test_headers_given_as_a_generator_are_read_once(make_client: Callable[..., TestClient]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = ((name, b"1") for name in (b"x-a", b"x-b"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = make_client(app).get("/")
    assert (response.headers["x-a"], response.headers["x-b"]) == ("1", "1")
