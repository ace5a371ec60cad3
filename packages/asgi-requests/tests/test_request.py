"""Request: method, body, stream, json, disconnects, limits, push and early hints."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from flagstone_contract import (
    BODY_IDLE_TIMEOUT_KEY,
    BODY_KEY,
    MAX_BODY_SIZE_KEY,
    HTTPException,
    Message,
    Receive,
)
from flagstone_requests import (
    DEFAULT_MAX_JSON_SIZE,
    ClientDisconnect,
    ContentTooLarge,
    InvalidJSON,
    Request,
    RequestTimeout,
    StreamConsumed,
)

pytestmark = pytest.mark.anyio

ScopeFactory = Callable[..., dict[str, Any]]
ChannelFactory = Callable[..., Any]


async def collect(request: Request) -> list[bytes]:
    return [chunk async for chunk in request.stream()]


async def test_method_and_receive(http_scope: ScopeFactory, body_channel: ChannelFactory) -> None:
    ch = body_channel(b"x")
    request = Request(http_scope(method="POST"), ch.receive)
    assert request.method == "POST"
    assert request.receive == ch.receive


async def test_body_reads_every_chunk_and_caches_it_in_the_scope(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(method="POST")
    ch = body_channel(b"hello ", b"", b"world", then="block")
    request = Request(scope, ch.receive)
    with anyio.fail_after(5):
        assert await request.body() == b"hello world"
        assert await request.body() == b"hello world"
    assert scope[BODY_KEY] == b"hello world"
    assert ch.receive_calls == 3


async def test_second_request_over_same_scope_reads_the_same_body(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # The middleware/endpoint pattern behind "Stream consumed" and hangs.
    scope = http_scope(method="POST")
    ch = body_channel(b'{"a": ', b"1}", then="block")
    middleware_request = Request(scope, ch.receive)
    with anyio.fail_after(5):
        assert await middleware_request.body() == b'{"a": 1}'
        endpoint_request = Request(scope, ch.receive)
        assert await endpoint_request.json() == {"a": 1}
        assert await collect(endpoint_request) == [b'{"a": 1}', b""]
    assert ch.receive_calls == 2


async def test_body_cached_through_a_copied_scope_is_seen_by_the_original(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # Routing may hand a mounted app a copy of the scope dict.
    outer = http_scope(method="POST")
    ch = body_channel(b"data", then="block")
    Request(outer, ch.receive)._body_state()  # middleware touched it first
    inner = dict(outer)
    with anyio.fail_after(5):
        assert await Request(inner, ch.receive).body() == b"data"
        assert await Request(outer, ch.receive).body() == b"data"


async def test_stream_yields_chunks_then_empty(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = Request(http_scope(), body_channel(b"a", b"b").receive)
    assert await collect(request) == [b"a", b"b", b""]


async def test_stream_after_body_replays_it(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = Request(http_scope(), body_channel(b"a", b"b").receive)
    await request.body()
    assert await collect(request) == [b"ab", b""]
    assert await collect(request) == [b"ab", b""]


async def test_reading_after_an_uncached_stream_raises_a_clear_error(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope()
    ch = body_channel(b"a", then="block")
    await collect(Request(scope, ch.receive))
    with anyio.fail_after(5), pytest.raises(StreamConsumed) as info:
        await Request(scope, ch.receive).body()
    # Starlette's text; what to do instead is in the note.
    assert str(info.value) == "Stream consumed"
    assert any("await request.body()" in note for note in info.value.__notes__)
    with pytest.raises(RuntimeError) as info:
        await collect(Request(scope, ch.receive))
    assert str(info.value) == "Stream consumed"


async def test_disconnect_mid_body_raises_client_disconnect(
    http_scope: ScopeFactory, channel: Any
) -> None:
    ch = channel(
        [{"type": "http.request", "body": b"a", "more_body": True}, {"type": "http.disconnect"}]
    )
    request = Request(http_scope(), ch.receive)
    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected()


async def test_unexpected_message_is_reported(http_scope: ScopeFactory, channel: Any) -> None:
    ch = channel([{"type": "websocket.connect"}])
    with pytest.raises(RuntimeError, match=r"unexpected ASGI message 'websocket\.connect'"):
        await Request(http_scope(), ch.receive).body()


async def test_request_without_receive_says_so(http_scope: ScopeFactory) -> None:
    with pytest.raises(RuntimeError) as info:
        await Request(http_scope()).body()
    assert str(info.value) == "Receive channel has not been made available"
    assert any("without a receive channel" in note for note in info.value.__notes__)


async def test_json_parses_and_caches(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = Request(http_scope(), body_channel(b'{"k": [1, 2]}').receive)
    first = await request.json()
    assert first == {"k": [1, 2]}
    assert await request.json() is first


BAD_JSON = {
    "truncated": (b'{"a": ', "Expecting value"),
    "empty_body": (b"", "Expecting value"),
    "not_utf8": (b"\xff\xfe\xfa", "not text in the encoding"),
    "nul_bytes_read_as_utf32": (b"\x00" * 13, "not text in the encoding"),
    "trailing_garbage": (b"{} x", "Extra data"),
    "deeply_nested": (b"[" * 200_000, "nested too deeply"),
    "integer_of_5000_digits": (b"1" * 5000, "integer-digit limit"),
    "nested_integer_of_5000_digits": (b'{"n": [' + b"9" * 5000 + b"]}", "integer-digit limit"),
}


@pytest.mark.parametrize(("body", "reason"), BAD_JSON.values(), ids=BAD_JSON.keys())
async def test_invalid_json_is_a_400_and_a_value_error(
    http_scope: ScopeFactory, body_channel: ChannelFactory, body: bytes, reason: str
) -> None:
    request = Request(http_scope(), body_channel(body).receive)
    with pytest.raises(InvalidJSON) as info:
        await request.json()
    exc = info.value
    assert isinstance(exc, HTTPException)
    assert isinstance(exc, ValueError)
    assert isinstance(exc, json.JSONDecodeError)
    assert exc.status_code == 400
    assert exc.detail.startswith("Invalid JSON in request body: ")
    assert reason in exc.detail
    assert str(exc).startswith("400: Invalid JSON")


async def test_is_disconnected_false_when_nothing_is_ready(
    http_scope: ScopeFactory, channel: Any
) -> None:
    ch = channel([], then="block")
    with anyio.fail_after(5):
        assert not await Request(http_scope(), ch.receive).is_disconnected()


async def test_is_disconnected_keeps_body_bytes_it_receives(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # Starlette's version swallows this chunk and the next body() hangs.
    ch = body_channel(b"first ", b"second", then="block")
    request = Request(http_scope(), ch.receive)
    with anyio.fail_after(5):
        assert not await request.is_disconnected()
        assert not await request.is_disconnected()
        assert await request.body() == b"first second"


async def test_is_disconnected_on_one_request_keeps_bytes_for_another(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope()
    ch = body_channel(b"only", then="block")
    with anyio.fail_after(5):
        assert not await Request(scope, ch.receive).is_disconnected()
        assert await Request(scope, ch.receive).body() == b"only"


async def test_is_disconnected_true_after_disconnect(
    http_scope: ScopeFactory, channel: Any
) -> None:
    ch = channel([{"type": "http.disconnect"}])
    request = Request(http_scope(), ch.receive)
    assert await request.is_disconnected()
    assert await request.is_disconnected()
    assert ch.receive_calls == 1
    with pytest.raises(ClientDisconnect):
        await request.body()


async def test_max_body_size_rejects_declared_length_before_reading(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(headers=[("content-length", "11")], **{MAX_BODY_SIZE_KEY: 10})
    ch = body_channel(b"x" * 11)
    with pytest.raises(ContentTooLarge) as info:
        await Request(scope, ch.receive).body()
    assert ch.receive_calls == 0
    assert info.value.status_code == 413
    assert info.value.limit == 10
    assert info.value.detail == "Content Too Large"  # Starlette's detail
    assert any("10 bytes (max_body_size)" in note for note in info.value.__notes__)


async def test_max_body_size_counts_streamed_bytes(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # No (or a lying) Content-Length: the count still holds.
    scope = http_scope(headers=[("content-length", "3")], **{MAX_BODY_SIZE_KEY: 10})
    ch = body_channel(b"x" * 6, b"x" * 6, b"x" * 6)
    request = Request(scope, ch.receive)
    with pytest.raises(ContentTooLarge, match="limit of 10 bytes"):
        await request.body()
    assert ch.receive_calls == 2  # stopped at the first chunk past the limit


async def test_body_at_the_limit_is_fine_and_none_means_unlimited(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(**{MAX_BODY_SIZE_KEY: 10})
    assert await Request(scope, body_channel(b"x" * 10).receive).body() == b"x" * 10
    scope = http_scope(**{MAX_BODY_SIZE_KEY: None})
    assert len(await Request(scope, body_channel(b"x" * 100_000).receive).body()) == 100_000


async def test_send_push_promise_copies_cache_relevant_headers(
    http_scope: ScopeFactory, channel: Any
) -> None:
    ch = channel([])
    scope = http_scope(
        headers=[("accept", "text/html"), ("cookie", "secret"), ("user-agent", "ua")],
        extensions={"http.response.push": {}},
    )
    await Request(scope, ch.receive, ch.send).send_push_promise("/style.css")
    assert ch.sent == [
        {
            "type": "http.response.push",
            "path": "/style.css",
            "headers": [(b"accept", b"text/html"), (b"user-agent", b"ua")],
        }
    ]


async def test_send_early_hints(http_scope: ScopeFactory, channel: Any) -> None:
    ch = channel([])
    scope = http_scope(extensions={"http.response.early_hint": {}})
    request = Request(scope, ch.receive, ch.send)
    await request.send_early_hints("</a.css>; rel=preload", "</b.js>; rel=preload")
    assert ch.sent == [
        {
            "type": "http.response.early_hint",
            "links": [b"</a.css>; rel=preload", b"</b.js>; rel=preload"],
        }
    ]


async def test_push_and_hints_are_no_ops_without_the_extension(
    http_scope: ScopeFactory, channel: Any
) -> None:
    ch = channel([])
    request = Request(http_scope(), ch.receive, ch.send)
    await request.send_push_promise("/x")
    await request.send_early_hints("</x>")
    assert ch.sent == []
    # Without a send channel they stay silent no-ops too.
    await Request(http_scope()).send_early_hints("</x>")


async def test_send_without_channel_explains(http_scope: ScopeFactory) -> None:
    scope = http_scope(extensions={"http.response.early_hint": {}})
    with pytest.raises(RuntimeError) as info:
        await Request(scope).send_early_hints("</x>")
    assert str(info.value) == "Send channel has not been made available"
    assert any("without a send channel" in note for note in info.value.__notes__)


async def test_a_failed_read_fails_the_same_way_for_every_later_reader(
    http_scope: ScopeFactory, body_channel: ChannelFactory, channel: Any
) -> None:
    scope = http_scope(**{MAX_BODY_SIZE_KEY: 4})
    ch = body_channel(b"x" * 3, b"x" * 3, then="block")
    with pytest.raises(ContentTooLarge):
        await Request(scope, ch.receive).body()
    with anyio.fail_after(5), pytest.raises(ContentTooLarge, match="limit of 4 bytes"):
        await Request(scope, ch.receive).json()

    scope = http_scope()
    ch = channel([{"type": "http.disconnect"}], then="block")
    with pytest.raises(ClientDisconnect):
        await Request(scope, ch.receive).body()
    with anyio.fail_after(5), pytest.raises(ClientDisconnect):
        await collect(Request(scope, ch.receive))


async def test_inner_limit_applies_to_a_body_an_outer_reader_cached(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # Middleware reads under the app-wide limit; the route sets a tighter one.
    outer = http_scope(**{MAX_BODY_SIZE_KEY: 100})
    ch = body_channel(b"x" * 50, then="block")
    assert len(await Request(outer, ch.receive).body()) == 50
    inner = {**outer, MAX_BODY_SIZE_KEY: 10}
    with pytest.raises(ContentTooLarge, match="limit of 10 bytes"):
        await Request(inner, ch.receive).body()
    with pytest.raises(ContentTooLarge, match="limit of 10 bytes"):
        await collect(Request(inner, ch.receive))


async def test_is_disconnected_polling_buffers_a_bounded_amount(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # An SSE-style `while not await request.is_disconnected()` loop while the
    # client uploads a body nobody reads: the kept bytes must stay bounded.
    chunk = b"x" * 64 * 1024
    ch = body_channel(*([chunk] * 64), then="block")  # 4 MiB
    request = Request(http_scope(), ch.receive)
    with anyio.fail_after(5):
        for _ in range(200):
            assert not await request.is_disconnected()
    assert ch.receive_calls == 16  # 1 MiB kept, then it stops pulling
    with anyio.fail_after(5):
        assert len(await request.body()) == 64 * len(chunk)


# --- request.json() has a safe default size limit ------------------------------------

MiB = 1024 * 1024


def _json_chunks(size: int) -> list[bytes]:
    """A JSON string literal of `size` bytes, in 1 MiB chunks."""
    body = b'"' + b"x" * (size - 2) + b'"'
    return [body[i : i + MiB] for i in range(0, len(body), MiB)]


@pytest.mark.parametrize("declared", [True, False], ids=["content_length", "chunked"])
async def test_json_refuses_a_body_over_the_default_limit(
    http_scope: ScopeFactory, body_channel: ChannelFactory, declared: bool
) -> None:
    size = DEFAULT_MAX_JSON_SIZE + 1
    headers = [("content-length", str(size))] if declared else []
    ch = body_channel(*_json_chunks(size))
    request = Request(http_scope(method="POST", headers=headers), ch.receive)
    with pytest.raises(ContentTooLarge) as info:
        await request.json()
    assert info.value.status_code == 413
    assert info.value.limit == DEFAULT_MAX_JSON_SIZE
    assert "request.json(max_size=...)" in info.value.detail
    if declared:
        # Refused on the announced length: nothing was read, so the raw body
        # is still there for a reader that wants it.
        assert ch.receive_calls == 0
        assert len(await request.body()) == size


async def test_json_at_the_default_limit_is_parsed(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = Request(
        http_scope(method="POST"), body_channel(*_json_chunks(DEFAULT_MAX_JSON_SIZE)).receive
    )
    assert len(await request.json()) == DEFAULT_MAX_JSON_SIZE - 2


async def test_a_configured_max_body_size_governs_json_instead_of_the_default(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    size = DEFAULT_MAX_JSON_SIZE + MiB
    scope = http_scope(method="POST")
    scope[MAX_BODY_SIZE_KEY] = 2 * DEFAULT_MAX_JSON_SIZE
    request = Request(scope, body_channel(*_json_chunks(size)).receive)
    assert len(await request.json()) == size - 2


@pytest.mark.parametrize(
    ("max_size", "size", "ok"),
    [(None, DEFAULT_MAX_JSON_SIZE + 1, True), (100, 101, False), (100, 100, True)],
)
async def test_json_max_size_argument(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    max_size: int | None,
    size: int,
    ok: bool,
) -> None:
    request = Request(http_scope(method="POST"), body_channel(*_json_chunks(size)).receive)
    if ok:
        assert len(await request.json(max_size=max_size)) == size - 2
    else:
        with pytest.raises(ContentTooLarge, match="exceeds 100 bytes"):
            await request.json(max_size=max_size)


async def test_json_cap_applies_to_a_body_a_middleware_already_read(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(method="POST")
    ch = body_channel(*_json_chunks(200))
    assert len(await Request(scope, ch.receive).body()) == 200
    with pytest.raises(ContentTooLarge):
        await Request(scope, ch.receive).json(max_size=100)


# --- memory per body byte (issue 18): no copy beyond the ones reading needs ---------
# json(): the body (kept for every later reader, as Starlette keeps it), the
# text json.loads decodes it to, and the result; body(): the chunks and the
# joined body, for a moment.  Starlette 1.10 measures the same (3.00x / 2.00x
# for this body, see CHANGELOG).  One more copy anywhere shows as +1.


def _fresh_chunks_receive(body: bytes, chunk: int = 64 * 1024) -> Receive:
    """A receive that makes every message's bytes anew, as a server does."""
    view = memoryview(body)
    offsets = iter(range(0, len(body), chunk))

    async def receive() -> Message:
        start = next(offsets)
        return {
            "type": "http.request",
            "body": bytes(view[start : start + chunk]),
            "more_body": start + chunk < len(body),
        }

    return receive


@pytest.mark.parametrize(("reader", "most"), [("json", 3.1), ("body", 2.1)])
async def test_reading_a_body_holds_no_extra_copy_of_it(
    http_scope: ScopeFactory, reader: str, most: float
) -> None:
    body = json.dumps({"data": "x" * (4 * 1024 * 1024)}).encode()
    request = Request(http_scope(method="POST"), _fresh_chunks_receive(body))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = await getattr(request, reader)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result
    assert (peak - before) / len(body) < most


# --- body-read idle timeout: a stalled body is a 408, not a task held forever -------


async def _read_all_of(request: Request, reader: str) -> None:
    if reader == "stream":
        async for _ in request.stream():
            pass
    elif reader == "form":
        await request.form()
    else:
        await getattr(request, reader)()


@pytest.mark.parametrize("reader", ["body", "json", "stream", "form"])
async def test_a_stalled_body_times_out_with_408(
    http_scope: ScopeFactory, body_channel: ChannelFactory, reader: str
) -> None:
    scope = http_scope(
        method="POST", headers=[("content-type", "application/x-www-form-urlencoded")]
    )
    scope[BODY_IDLE_TIMEOUT_KEY] = 0.05
    # One chunk, then the client goes silent (the channel blocks forever).
    ch = body_channel(b"a=1&b=", b"", then="block")
    ch.messages[-1]["more_body"] = True
    request = Request(scope, ch.receive)
    with anyio.fail_after(5), pytest.raises(RequestTimeout) as info:
        await _read_all_of(request, reader)
    assert info.value.status_code == 408
    assert info.value.headers == {"Connection": "close"}
    assert "body_idle_timeout" in info.value.detail
    # Every later reader fails the same way (no hang, no "stream consumed").
    with anyio.fail_after(5), pytest.raises(RequestTimeout):
        await Request(scope, ch.receive).body()


async def test_the_idle_timeout_is_per_chunk_not_for_the_whole_body(
    http_scope: ScopeFactory, channel: Any
) -> None:
    sent = 0

    async def trickle() -> dict[str, Any]:
        # A slow but steady client: each chunk well within the idle timeout
        # (a checkpoint, not a wall-clock wait), 50 chunks in all.
        nonlocal sent
        await anyio.lowlevel.checkpoint()
        sent += 1
        return {"type": "http.request", "body": b"x", "more_body": sent < 50}

    scope = http_scope(method="POST")
    scope[BODY_IDLE_TIMEOUT_KEY] = 5.0
    with anyio.fail_after(5):
        assert await Request(scope, trickle).body() == b"x" * 50


async def test_request_subclass_sets_the_idle_timeout(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    class Impatient(Request):
        body_idle_timeout = 0.05

    assert Request.body_idle_timeout is None  # off by default, as in Starlette
    ch = body_channel(b"part", then="block")
    ch.messages[-1]["more_body"] = True
    with anyio.fail_after(5), pytest.raises(RequestTimeout):
        await Impatient(http_scope(method="POST"), ch.receive).body()


async def test_body_idle_timeout_middleware_sets_the_innermost_timeout(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    from flagstone_requests import BodyIdleTimeout

    seen: list[float | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope[BODY_IDLE_TIMEOUT_KEY])
        await Request(scope, receive).body()

    outer_scope = http_scope(method="POST")
    outer_scope[BODY_IDLE_TIMEOUT_KEY] = 600.0  # what App(body_idle_timeout=600) sets
    ch = body_channel(b"part", then="block")
    ch.messages[-1]["more_body"] = True
    with anyio.fail_after(5), pytest.raises(RequestTimeout):
        await BodyIdleTimeout(app, seconds=0.05)(outer_scope, ch.receive, ch.send)
    assert seen == [0.05]
    with pytest.raises(ValueError, match="> 0"):
        BodyIdleTimeout(app, seconds=0)


async def test_empty_receive_and_send_are_the_defaults_and_say_what_to_pass() -> None:
    from flagstone_requests import empty_receive, empty_send

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    assert request.receive is empty_receive
    with pytest.raises(RuntimeError, match="receive"):
        await empty_receive()
    with pytest.raises(RuntimeError, match="send"):
        await empty_send({"type": "http.response.start"})


class _Decompressing(Request):
    """The Starlette-era pattern: a subclass caching its own body() in `_body`."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            raw = await super().body()
            if "gzip" in self.headers.getlist("content-encoding"):
                raw = gzip.decompress(raw)
            self._body = raw
        return self._body


@pytest.mark.parametrize("compress", [True, False])
async def test_a_subclass_that_overrides_body_is_what_json_parses(
    http_scope: ScopeFactory, body_channel: ChannelFactory, compress: bool
) -> None:
    payload = json.dumps([1] * 100).encode()
    headers = {"content-type": "application/json"}
    if compress:
        payload = gzip.compress(payload)
        headers["content-encoding"] = "gzip"
    scope = http_scope(method="POST", headers=list(headers.items()))
    plain = Request(scope, body_channel(payload).receive)
    assert not hasattr(plain, "_body")  # only once a body was read
    request = _Decompressing(scope, plain.receive)
    with anyio.fail_after(5):
        assert await request.json() == [1] * 100
        assert sum(await request.json()) == 100


async def test_a_body_override_result_is_held_to_the_json_cap(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    payload = gzip.compress(b"[" + b"0," * 5000 + b"0]")
    scope = http_scope(method="POST", headers=[("content-encoding", "gzip")])
    request = _Decompressing(scope, body_channel(payload).receive)
    with pytest.raises(ContentTooLarge):
        await request.json(max_size=1000)
