"""Response classes: bodies, headers, HEAD, cookies, streaming and disconnects."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from flagstone_requests import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

pytestmark = pytest.mark.anyio


# --- plain responses -----------------------------------------------------------


async def test_plain_text_response(http_scope, run_asgi, sent_response) -> None:
    chan = await run_asgi(PlainTextResponse("héllo"), http_scope())
    resp = sent_response(chan.sent)
    assert resp.status == 200
    assert resp.body == "héllo".encode()
    assert resp.header("content-type") == "text/plain; charset=utf-8"
    assert resp.header("content-length") == str(len("héllo".encode()))
    # One body message without more_body: the whole response in two messages.
    assert len(chan.sent) == 2


async def test_html_response_media_type(http_scope, run_asgi, sent_response) -> None:
    resp = sent_response((await run_asgi(HTMLResponse("<b>x</b>"), http_scope())).sent)
    assert resp.header("content-type") == "text/html; charset=utf-8"


async def test_json_response_is_compact_utf8(http_scope, run_asgi, sent_response) -> None:
    resp = sent_response(
        (await run_asgi(JSONResponse({"a": [1, 2], "é": None}), http_scope())).sent
    )
    assert resp.body == '{"a":[1,2],"é":null}'.encode()
    assert resp.header("content-type") == "application/json"


@pytest.mark.parametrize(
    "value",
    ["\ud800", "ok \udfff", {"\udc80": ["é", "\ud83d"]}],
    ids=["lone_high", "lone_low", "key_and_list"],
)
def test_json_response_escapes_lone_surrogates_instead_of_failing(value: Any) -> None:
    # json.loads accepts "\ud800" from any client; echoing it back must not be a 500.
    body = JSONResponse(value).body
    assert json.loads(body) == value
    assert body.isascii()


def test_json_response_refuses_nan() -> None:
    with pytest.raises(ValueError):
        JSONResponse({"x": float("nan")})


def test_response_with_dict_content_says_use_json_response() -> None:
    with pytest.raises(TypeError, match="JSONResponse"):
        Response({"a": 1})


def test_memoryview_content() -> None:
    assert Response(memoryview(b"abc")).body == b"abc"


def test_user_headers_win_over_defaults() -> None:
    response = Response(b"abc", headers={"Content-Type": "x/y", "Content-Length": "3"})
    assert response.raw_headers == [(b"content-type", b"x/y"), (b"content-length", b"3")]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({"x-a": "ok\r\nSet-Cookie: evil=1"}, "CR, LF or NUL", id="crlf-in-value"),
        pytest.param({"x-a": "ok\x00"}, "CR, LF or NUL", id="nul-in-value"),
        pytest.param({"x-a\r\nSet-Cookie": "evil=1"}, "invalid header name", id="crlf-in-name"),
        pytest.param({"x-a: b": "c"}, "invalid header name", id="colon-in-name"),
        pytest.param({"": "c"}, "invalid header name", id="empty-name"),
    ],
)
def test_header_injection_is_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Response(b"", headers=headers)


@pytest.mark.parametrize("status", [101, 204, 304])
def test_no_content_length_for_bodiless_statuses(status: int) -> None:
    assert b"content-length" not in dict(Response(status_code=status).raw_headers)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda: PlainTextResponse("hi"),
            [(b"content-length", b"2"), (b"content-type", b"text/plain; charset=utf-8")],
            id="text-short-body",
        ),
        pytest.param(
            lambda: HTMLResponse("x" * 5000),
            [(b"content-length", b"5000"), (b"content-type", b"text/html; charset=utf-8")],
            id="text-long-body",
        ),
        pytest.param(lambda: Response(b""), [(b"content-length", b"0")], id="no-media-type"),
        pytest.param(
            lambda: Response(status_code=204, media_type="text/plain"),
            [(b"content-type", b"text/plain; charset=utf-8")],
            id="bodiless-status-with-media-type",
        ),
        pytest.param(lambda: Response(status_code=304), [], id="bodiless-status-only"),
        pytest.param(
            lambda: type("Latin", (PlainTextResponse,), {"charset": "latin-1"})("é"),
            [(b"content-length", b"1"), (b"content-type", b"text/plain; charset=latin-1")],
            id="other-charset",
        ),
        pytest.param(
            lambda: Response(b"{}", media_type="application/json"),
            [(b"content-length", b"2"), (b"content-type", b"application/json")],
            id="non-text-media-type",
        ),
    ],
)
def test_default_headers_without_user_headers(make: Any, expected: list[Any]) -> None:
    # Built from shared ready-made pairs on the hot path: same values, and
    # each response still owns its list.
    first, second = make(), make()
    assert first.raw_headers == expected
    first.headers["x-mine"] = "1"
    first.raw_headers.append((b"x-more", b"2"))
    assert second.raw_headers == expected


def test_headers_property_is_live() -> None:
    response = Response(b"x")
    response.headers["x-extra"] = "1"
    assert (b"x-extra", b"1") in response.raw_headers
    del response.headers["content-length"]
    assert b"content-length" not in dict(response.raw_headers)


def test_charset_not_added_twice() -> None:
    response = Response("x", media_type="text/plain; charset=latin-1")
    assert dict(response.raw_headers)[b"content-type"] == b"text/plain; charset=latin-1"


@pytest.mark.parametrize(
    "response",
    [
        PlainTextResponse("body"),
        JSONResponse({"a": 1}),
        HTMLResponse("<p>"),
        RedirectResponse("/x"),
    ],
    ids=["text", "json", "html", "redirect"],
)
async def test_head_sends_headers_but_no_body(
    response: Response, http_scope, run_asgi, sent_response
) -> None:
    resp = sent_response((await run_asgi(response, http_scope(method="HEAD"))).sent)
    assert resp.body == b""
    # content-length still describes the GET body (RFC 9110 §9.3.2).
    assert resp.header("content-length") == str(len(response.body))


async def test_background_runs_after_body(http_scope) -> None:
    sent: list[dict[str, Any]] = []
    seen_by_task: list[int] = []

    async def task() -> None:
        seen_by_task.append(len(sent))

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        raise AssertionError("a plain response never reads the request")

    await Response(b"x", background=task)(http_scope(), receive, send)
    assert seen_by_task == [2]


async def test_response_on_websocket_scope_is_a_denial(ws_scope, run_asgi) -> None:
    chan = await run_asgi(PlainTextResponse("no", status_code=403), ws_scope(), messages=[])
    assert [m["type"] for m in chan.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert chan.sent[0]["status"] == 403


# --- redirects -------------------------------------------------------------------


def test_redirect_quotes_location_and_defaults_to_307() -> None:
    response = RedirectResponse("/a b?x=1#f")
    assert response.status_code == 307
    assert dict(response.raw_headers)[b"location"] == b"/a%20b?x=1#f"


def test_redirect_cannot_split_response() -> None:
    response = RedirectResponse("/x\r\nSet-Cookie: a=b")
    assert dict(response.raw_headers)[b"location"] == b"/x%0D%0ASet-Cookie:%20a=b"


# --- cookies -------------------------------------------------------------------------


def test_set_cookie_with_every_attribute() -> None:
    response = Response()
    response.set_cookie(
        "sid",
        "abc",
        max_age=60,
        expires=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )
    header = response.headers.getlist("set-cookie")[0]
    parts = [p.strip() for p in header.split(";")]
    assert parts[0] == "sid=abc"
    assert "Max-Age=60" in parts
    assert "expires=Wed, 02 Jan 2030 03:04:05 GMT" in parts
    assert "Path=/app" in parts
    assert "Domain=example.com" in parts
    assert {"Secure", "HttpOnly", "SameSite=strict", "Partitioned"} <= set(parts)


def test_set_cookie_naive_datetime_is_utc() -> None:
    response = Response()
    response.set_cookie("a", "b", expires=dt.datetime(2030, 1, 2, 3, 4, 5))
    assert "expires=Wed, 02 Jan 2030 03:04:05 GMT" in response.headers["set-cookie"]


def test_set_cookie_quotes_unsafe_values() -> None:
    response = Response()
    response.set_cookie("a", "x y;z")
    assert response.headers["set-cookie"].startswith('a="x y\\073z"')


def test_partitioned_cookie_requires_secure() -> None:
    with pytest.raises(ValueError, match="secure=True"):
        Response().set_cookie("a", "b", partitioned=True)


def test_bad_samesite_is_refused() -> None:
    with pytest.raises(ValueError, match="samesite"):
        Response().set_cookie("a", "b", samesite="sometimes")  # type: ignore[arg-type]


def test_several_cookies_make_several_headers() -> None:
    response = Response()
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    assert len(response.headers.getlist("set-cookie")) == 2


def test_delete_cookie_expires_it() -> None:
    response = Response()
    response.delete_cookie("sid", path="/app")
    header = response.headers["set-cookie"]
    assert "Max-Age=0" in header
    assert "Path=/app" in header
    assert header.startswith('sid=""')


# --- streaming ---------------------------------------------------------------------


async def test_streaming_async_iterator(http_scope, run_asgi, sent_response) -> None:
    async def gen() -> AsyncIterator[Any]:
        yield "a"
        yield b"b"
        yield memoryview(b"c")

    chan = await run_asgi(StreamingResponse(gen(), media_type="text/plain"), http_scope())
    resp = sent_response(chan.sent)
    assert resp.body == b"abc"
    assert resp.header("content-length") is None
    assert [m.get("more_body") for m in resp.body_messages] == [True, True, True, False]


async def test_streaming_sync_iterator_runs_in_thread(http_scope, run_asgi, sent_response) -> None:
    import threading

    main = threading.get_ident()
    threads: list[int] = []

    def gen() -> Iterator[bytes]:
        threads.append(threading.get_ident())
        yield b"x"
        yield b"y"

    chan = await run_asgi(StreamingResponse(gen()), http_scope())
    assert sent_response(chan.sent).body == b"xy"
    assert threads
    assert threads[0] != main


async def test_streaming_bad_chunk_type(http_scope, run_asgi) -> None:
    async def gen() -> AsyncIterator[Any]:
        yield 42

    with pytest.raises(TypeError, match="int"):
        await run_asgi(StreamingResponse(gen()), http_scope())


async def test_streaming_head_sends_no_body_and_closes_iterator(
    http_scope, run_asgi, sent_response
) -> None:
    closed = anyio.Event()
    produced: list[int] = []

    async def gen() -> AsyncIterator[bytes]:
        try:
            produced.append(1)
            yield b"never"
        finally:
            closed.set()

    iterator = gen()
    await iterator.asend(None)  # start it, so that closing has something to run
    chan = await run_asgi(StreamingResponse(iterator), http_scope(method="HEAD"))
    assert sent_response(chan.sent).body == b""
    assert closed.is_set()


async def test_disconnect_closes_streaming_iterator_at_once(http_scope) -> None:
    """The iterator's finally runs as soon as http.disconnect arrives (ASGI < 2.4)."""
    cleaned = anyio.Event()
    first_chunk_sent = anyio.Event()
    disconnect_now = anyio.Event()
    sent: list[dict[str, Any]] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await anyio.sleep_forever()  # waits for data that never comes
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        await disconnect_now.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == b"tick":
            first_chunk_sent.set()

    tasks_ran: list[str] = []

    async def background() -> None:
        tasks_ran.append("ran")

    response = StreamingResponse(endless(), background=background)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(response, http_scope(), receive, send)
            await first_chunk_sent.wait()
            assert not cleaned.is_set()
            disconnect_now.set()
            await cleaned.wait()
    # The stream stopped without a final chunk, and the background still ran.
    assert [m.get("more_body") for m in sent[1:]] == [True]
    assert tasks_ran == ["ran"]


async def test_send_oserror_closes_iterator_spec_2_4(http_scope) -> None:
    """With ASGI spec 2.4 a failed send means the client is gone: stop quietly, clean up."""
    cleaned: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
        finally:
            cleaned.append("closed")

    calls = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("client gone")

    async def receive() -> dict[str, Any]:
        raise AssertionError("no watcher must read the request under spec 2.4")

    # A declared, unread body: no watcher may steal its chunks under 2.4.
    scope = http_scope(
        method="POST",
        headers=[("content-length", "5")],
        asgi={"version": "3.0", "spec_version": "2.4"},
    )
    with anyio.fail_after(5):
        await StreamingResponse(endless())(scope, receive, send)
    assert cleaned == ["closed"]


@pytest.mark.parametrize(
    "failing_send",
    [
        pytest.param(1, id="response-start"),
        pytest.param(2, id="first-chunk"),
        pytest.param(4, id="closing-empty-chunk"),
    ],
)
@pytest.mark.parametrize("overridden", [False, True], ids=["own-stream-body", "subclass"])
async def test_any_failed_send_is_a_quiet_disconnect_spec_2_4(
    http_scope, failing_send: int, overridden: bool
) -> None:
    """Every send is guarded: inline in our stream_body, by a wrapper for an override."""
    cleaned: list[str] = []

    async def two() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            cleaned.append("closed")

    class Subclass(StreamingResponse):
        async def stream_body(self, send: Any) -> None:
            await super().stream_body(send)

    calls = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == failing_send:
            raise OSError("client gone")

    async def receive() -> dict[str, Any]:
        raise AssertionError("no watcher under spec 2.4 with an unread body")

    ran: list[str] = []

    async def background() -> None:
        ran.append("ran")

    scope = http_scope(
        method="POST",
        headers=[("content-length", "5")],
        asgi={"version": "3.0", "spec_version": "2.4"},
    )
    cls = Subclass if overridden else StreamingResponse
    iterator = two()
    with anyio.fail_after(5):
        await cls(iterator, background=background)(scope, receive, send)
    assert iterator.ag_frame is None  # closed (or exhausted)
    # A stream that failed before its first chunk never started the generator.
    assert cleaned == ([] if failing_send == 1 else ["closed"])
    assert ran == ["ran"]


async def test_stream_body_called_directly_raises_the_oserror_of_send() -> None:
    async def one() -> AsyncIterator[bytes]:
        yield b"a"

    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("gone")

    with pytest.raises(OSError, match="gone"):
        await StreamingResponse(one()).stream_body(send)


async def test_disconnect_closes_idle_stream_at_once_spec_2_4(http_scope) -> None:
    """Under ASGI 2.4 a bodiless request is still watched: an idle stream ends at once."""
    cleaned = anyio.Event()
    first_chunk_sent = anyio.Event()

    async def idle() -> AsyncIterator[bytes]:
        try:
            yield b"hello"
            await anyio.sleep_forever()  # e.g. waiting for the next chat token
            yield b"never"
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        await first_chunk_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            first_chunk_sent.set()

    scope = http_scope(asgi={"version": "3.0", "spec_version": "2.4"})
    with anyio.fail_after(5):
        await StreamingResponse(idle())(scope, receive, send)
    assert cleaned.is_set()


async def test_producer_streaming_the_request_body_gets_every_chunk_spec_2_4(
    http_scope, body_channel, sent_response
) -> None:
    from flagstone_requests import Request

    chan = body_channel(b"ab", b"cd", b"ef", then="block")
    scope = http_scope(
        method="POST",
        headers=[("transfer-encoding", "chunked")],
        asgi={"version": "3.0", "spec_version": "2.4"},
    )
    request = Request(scope, chan.receive)

    async def upper() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            yield chunk.upper()

    with anyio.fail_after(5):
        await StreamingResponse(upper())(scope, chan.receive, chan.send)
    assert sent_response(chan.sent).body == b"ABCDEF"


async def test_body_read_inside_stream_does_not_hang_after_watcher(
    http_scope, channel, sent_response
) -> None:
    """The watcher consumed the empty http.request; a later body() still ends."""
    from flagstone_requests import Request

    chan = channel([{"type": "http.request", "body": b"", "more_body": False}], then="block")
    scope = http_scope()
    request = Request(scope, chan.receive)

    async def reads_body() -> AsyncIterator[bytes]:
        await anyio.lowlevel.checkpoint()  # let the watcher take the message first
        yield b"body=" + await request.body()

    with anyio.fail_after(5):
        await StreamingResponse(reads_body())(scope, chan.receive, chan.send)
    assert sent_response(chan.sent).body == b"body="


async def test_iterator_oserror_is_not_mistaken_for_disconnect(http_scope, run_asgi) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise OSError("disk failed")

    with pytest.raises(OSError, match="disk failed"):
        await run_asgi(StreamingResponse(broken()), http_scope())


async def test_cancellation_closes_streaming_iterator(http_scope) -> None:
    cleaned = anyio.Event()
    started = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                started.set()
                await anyio.sleep_forever()
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        pass

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(StreamingResponse(endless()), http_scope(), receive, send)
            await started.wait()
            tg.cancel_scope.cancel()
    assert cleaned.is_set()


async def test_iterator_error_propagates_unwrapped(http_scope, run_asgi) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await run_asgi(StreamingResponse(broken()), http_scope())


async def test_streaming_denial_on_websocket(ws_scope, run_asgi) -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"no"

    chan = await run_asgi(StreamingResponse(gen(), status_code=403), ws_scope(), messages=[])
    assert [m["type"] for m in chan.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]


def test_json_render_can_be_overridden() -> None:
    class Indented(JSONResponse):
        def render(self, content: Any) -> bytes:
            return json.dumps(content, indent=2).encode()

    assert Indented({"a": 1}).body == b'{\n  "a": 1\n}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"bytes", "not bytes", id="bytes"),
        pytest.param("text", "not str", id="str"),
        pytest.param(42, "not int", id="int"),
        pytest.param(lambda: iter(()), "generator function", id="uncalled-generator-function"),
    ],
)
def test_streaming_content_must_be_iterable(content: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        StreamingResponse(content)


def test_headers_view_is_cached_and_follows_replacement() -> None:
    response = Response(b"x")
    assert response.headers is response.headers
    response.raw_headers = [(b"x-new", b"1")]
    assert response.headers["x-new"] == "1"


async def test_disconnect_closes_sync_iterator(http_scope) -> None:
    """A sync generator (run in a thread) also gets its finally run on disconnect."""
    import threading

    cleaned = threading.Event()
    first_chunk_sent = anyio.Event()

    def slow() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        await first_chunk_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b"a":
            first_chunk_sent.set()
            await anyio.sleep_forever()  # a slow client: the disconnect wins

    with anyio.fail_after(5):
        await StreamingResponse(slow())(http_scope(), receive, send)
    assert cleaned.is_set()


# --- the disconnect watcher: only while the producer waits (issue 19) ---------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_stream_that_never_waits_never_reads_receive_on_asyncio(
    http_scope, run_asgi, sent_response
) -> None:
    """Nothing can interrupt a producer that never suspends, so no watcher is started."""

    async def ready() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    ran: list[str] = []

    async def background() -> None:
        ran.append("ran")

    chan = await run_asgi(StreamingResponse(ready(), background=background), http_scope())
    assert sent_response(chan.sent).body == b"ab"
    assert chan.receive_calls == 0
    assert ran == ["ran"]


async def test_stream_that_waits_gets_a_watcher_from_its_first_wait(http_scope) -> None:
    """The chunk before the first wait goes out; the disconnect then ends the idle stream."""
    cleaned = anyio.Event()
    sent: list[dict[str, Any]] = []

    async def tick_then_idle() -> AsyncIterator[bytes]:
        try:
            yield b"tick"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}  # already gone: seen as soon as anyone listens

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await StreamingResponse(tick_then_idle())(http_scope(), receive, send)
    assert cleaned.is_set()
    assert [m.get("body") for m in sent[1:]] == [b"tick"]


async def test_disconnect_waits_for_a_shielded_wait_in_the_iterator(http_scope) -> None:
    """The watcher cancels through anyio: a shielded wait in the producer finishes first."""
    events: list[str] = []
    release = anyio.Event()
    disconnected = anyio.Event()

    async def shielded() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            with anyio.CancelScope(shield=True):
                await release.wait()  # e.g. a worker thread that cannot be interrupted
            events.append("shielded wait finished")
            await anyio.sleep_forever()
            yield b"never"
        finally:
            events.append("finally")

    async def receive() -> dict[str, Any]:
        disconnected.set()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    response = StreamingResponse(shielded())
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(response, http_scope(), receive, send)
            await disconnected.wait()
            assert events == []
            release.set()
    assert events == ["shielded wait finished", "finally"]


async def test_iterator_with_its_own_cancel_scope_streams_and_is_stopped(http_scope) -> None:
    """Cancel scopes the iterator opens across a wait nest inside the watcher's."""
    cleaned = anyio.Event()
    disconnect_now = anyio.Event()
    sent: list[bytes] = []

    async def scoped() -> AsyncIterator[bytes]:
        try:
            with anyio.move_on_after(60):
                await anyio.lowlevel.checkpoint()
            yield b"a"
            with anyio.move_on_after(60):
                disconnect_now.set()
                await anyio.sleep_forever()
            yield b"never"
        finally:
            cleaned.set()

    async def receive() -> dict[str, Any]:
        await disconnect_now.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    with anyio.fail_after(5):
        await StreamingResponse(scoped())(http_scope(), receive, send)
    assert cleaned.is_set()
    assert sent[1:] == [b"a"]


async def test_receive_failing_in_the_watcher_is_the_responses_error(http_scope) -> None:
    async def idle() -> AsyncIterator[bytes]:
        yield b"a"
        await anyio.sleep_forever()
        yield b"never"

    async def receive() -> dict[str, Any]:
        raise RuntimeError("receive broke")

    async def send(message: dict[str, Any]) -> None:
        pass

    with anyio.fail_after(5), pytest.raises(RuntimeError, match="receive broke"):
        await StreamingResponse(idle())(http_scope(), receive, send)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"path": "/; Domain=evil.example"}, "path", id="attribute-injection-in-path"),
        pytest.param({"domain": "a.example\r\nX: y"}, "domain", id="crlf-in-domain"),
        pytest.param({"key": "a=b"}, "Illegal key", id="equals-in-name"),
    ],
)
def test_cookie_injection_is_refused(kwargs: dict[str, Any], message: str) -> None:
    import http.cookies

    arguments = {"key": "sid", "value": "1", **kwargs}
    with pytest.raises((ValueError, http.cookies.CookieError), match=message):
        Response().set_cookie(**arguments)


def send_email(ran: list[str]) -> None:
    ran.append("ran")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda bg: Response(b"x", background=bg), id="Response"),
        pytest.param(lambda bg: StreamingResponse(iter([b"x"]), background=bg), id="Streaming"),
        pytest.param(lambda bg: FileResponse(__file__, background=bg), id="FileResponse"),
    ],
)
def test_a_sync_function_as_background_is_refused_before_it_runs(make: Any) -> None:
    # Starlette runs it on the event loop after the body, then fails to await None.
    ran: list[str] = []
    with pytest.raises(TypeError, match=r"background=send_email is a sync function") as info:
        make(functools.partial(send_email, ran))
    assert "BackgroundTask(send_email, ...)" in str(info.value)
    assert "BackgroundTasks()" in str(info.value)
    assert ran == []


async def test_a_sync_lambda_background_gets_a_clear_error_when_awaited(
    http_scope, run_asgi
) -> None:
    # A lambda may return an awaitable, so it is checked only when called.
    with pytest.raises(TypeError, match="not an awaitable: pass an async callable"):
        await run_asgi(Response(b"x", background=lambda: None), http_scope())  # type: ignore[arg-type,return-value]


async def test_background_object_with_async_call(http_scope, run_asgi) -> None:
    class Task:
        def __init__(self) -> None:
            self.ran = False

        async def __call__(self) -> None:
            self.ran = True

    task = Task()
    await run_asgi(PlainTextResponse("x", background=task), http_scope())
    assert task.ran


@pytest.mark.parametrize(
    ("spec_version", "at_least_2_4"),
    [
        pytest.param("2.3", False, id="2.3"),
        pytest.param("2.4", True, id="2.4"),
        pytest.param("2.10", True, id="2.10-not-lexical"),
        pytest.param("3.0", True, id="3.0"),
        pytest.param("2", False, id="major-only"),
        pytest.param("two.four", False, id="not-a-number"),
        pytest.param("", False, id="empty"),
    ],
)
def test_spec_version_is_read_the_same_the_second_time(
    spec_version: str, at_least_2_4: bool
) -> None:
    from flagstone_requests._streaming import spec_at_least_2_4

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}}
    assert spec_at_least_2_4(scope) is at_least_2_4
    assert spec_at_least_2_4(scope) is at_least_2_4  # from the per-version cache


def test_spec_version_cache_stays_small_whatever_the_server_sends() -> None:
    from flagstone_requests import _streaming

    for minor in range(100):
        scope = {"asgi": {"spec_version": f"2.{minor}"}}
        assert _streaming.spec_at_least_2_4(scope) is (minor >= 4)
    assert len(_streaming._SPEC_2_4) <= _streaming._SPEC_2_4_MAX


async def _chunks() -> AsyncIterator[bytes]:
    yield b"streamed"


@pytest.mark.parametrize(
    ("make", "body"),
    [
        (lambda path: PlainTextResponse("plain"), b"plain"),
        (lambda path: StreamingResponse(_chunks()), b"streamed"),
        (lambda path: FileResponse(path), b"from a file"),
    ],
    ids=["Response", "StreamingResponse", "FileResponse"],
)
async def test_a_scope_without_method_is_served(
    make, body, tmp_path, http_scope, run_asgi, sent_response
) -> None:
    # Starlette's responses never read scope["method"]; hand-built scopes omit it.
    path = tmp_path / "file.txt"
    path.write_bytes(b"from a file")
    scope = http_scope()
    del scope["method"]
    resp = sent_response((await run_asgi(make(path), scope)).sent)
    assert (resp.status, resp.body) == (200, body)
