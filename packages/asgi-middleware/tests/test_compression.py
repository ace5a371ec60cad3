"""GZipMiddleware and CompressionMiddleware: what is compressed, what is not, and streaming."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import anyio
import brotli
import pytest
import zstandard
from middleware_helpers import call, stream_app, text_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from flagstone_middleware import CompressionMiddleware, GZipMiddleware

pytestmark = pytest.mark.anyio

BIG = "x" * 2000


def starlette_app() -> Any:
    async def big(request: Any) -> PlainTextResponse:
        return PlainTextResponse(BIG)

    async def stream(request: Any) -> StreamingResponse:
        async def chunks() -> Any:
            for _ in range(3):
                yield "chunk " * 100

        return StreamingResponse(chunks(), media_type="text/plain")

    return Starlette(routes=[Route("/", big), Route("/stream", stream)])


APPS = [pytest.param(lambda: text_app(BIG), id="raw"), pytest.param(starlette_app, id="starlette")]
GZIP = [("accept-encoding", "gzip, deflate")]


@pytest.mark.parametrize("make_app", APPS)
async def test_gzip_compresses_a_complete_body(make_app: Any) -> None:
    result = await call(GZipMiddleware(make_app()), headers=GZIP)
    assert result.header("content-encoding") == "gzip"
    assert result.header("vary") == "Accept-Encoding"
    assert gzip.decompress(result.body).decode() == BIG
    assert result.header("content-length") == str(len(result.body))


async def test_gzip_in_front_of_starlette_streams() -> None:
    result = await call(GZipMiddleware(starlette_app()), headers=GZIP, path="/stream")
    assert result.header("content-encoding") == "gzip"
    assert result.header("content-length") is None
    assert gzip.decompress(result.body).decode() == "chunk " * 300


async def test_starlette_app_with_flagstone_gzip_in_its_middleware_list() -> None:
    inner = starlette_app()
    app = Starlette(routes=inner.routes, middleware=[Middleware(GZipMiddleware, minimum_size=10)])
    result = await call(app, headers=GZIP)
    assert gzip.decompress(result.body).decode() == BIG


async def test_small_body_is_left_alone() -> None:
    result = await call(GZipMiddleware(text_app("tiny")), headers=GZIP)
    assert result.header("content-encoding") is None
    assert result.body == b"tiny"


async def test_no_accept_encoding_means_identity_but_vary() -> None:
    result = await call(GZipMiddleware(text_app(BIG)))
    assert result.header("content-encoding") is None
    assert result.header("vary") == "Accept-Encoding"
    assert result.text == BIG


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        pytest.param("gzip;q=0", None, id="gzip-refused"),
        pytest.param("gzip;q=0, *;q=1", None, id="gzip-refused-star"),
        pytest.param("*", "gzip", id="star"),
        pytest.param("identity", None, id="identity"),
        pytest.param("x-gzip", "gzip", id="x-gzip"),
        pytest.param("GZIP", "gzip", id="upper-case"),
        pytest.param("gzip;q=abc", None, id="malformed-q"),
        pytest.param("gzip;q=2", None, id="q-out-of-range"),
        pytest.param("gzip;q=0.001", "gzip", id="tiny-q"),
        pytest.param("gzipx", None, id="no-substring-match"),
        pytest.param("br;q=1, " * 5000 + "gzip", None, id="huge-header-capped"),
    ],
)
async def test_accept_encoding_is_parsed(accept: str, encoding: str | None) -> None:
    result = await call(GZipMiddleware(text_app(BIG)), headers=[("accept-encoding", accept)])
    assert result.header("content-encoding") == encoding


@pytest.mark.parametrize(
    ("headers", "status", "content_type"),
    [
        pytest.param([("content-encoding", "br")], 200, "text/plain", id="already-encoded"),
        pytest.param([("content-range", "bytes 0-1999/5000")], 206, "text/plain", id="206"),
        pytest.param(
            [("content-range", "bytes 0-1999/5000")], 200, "text/plain", id="content-range"
        ),
        pytest.param([], 200, "text/event-stream", id="event-stream"),
        pytest.param([], 200, "image/png", id="png"),
        pytest.param([], 200, "video/mp4", id="video-wildcard"),
        pytest.param([], 200, "application/grpc+proto", id="grpc"),
        pytest.param(
            [("cache-control", "public, no-transform")], 200, "text/plain", id="no-transform"
        ),
    ],
)
async def test_responses_never_compressed(
    headers: list[tuple[str, str]], status: int, content_type: str
) -> None:
    app = text_app(BIG, status=status, headers=headers, content_type=content_type)
    result = await call(GZipMiddleware(app), headers=GZIP)
    assert result.body == BIG.encode()
    assert result.header("content-encoding") in (None, "br")
    assert result.header("vary") is None


async def test_head_is_not_compressed_but_varies() -> None:
    result = await call(GZipMiddleware(text_app(b"")), headers=GZIP, method="HEAD")
    assert result.header("content-encoding") is None


async def test_compressed_response_drops_accept_ranges_and_weakens_etag() -> None:
    app = text_app(BIG, headers=[("accept-ranges", "bytes"), ("etag", '"abc"')])
    result = await call(GZipMiddleware(app), headers=GZIP)
    assert result.header("accept-ranges") is None
    assert result.header("etag") == 'W/"abc"'


async def test_custom_exclusions() -> None:
    app = GZipMiddleware(text_app(BIG, content_type="text/csv"), exclude_content_types=("text/*",))
    assert (await call(app, headers=GZIP)).header("content-encoding") is None
    app = GZipMiddleware(text_app(BIG, content_type="text/csv"), exclude_media_types=("text/csv",))
    assert (await call(app, headers=GZIP)).header("content-encoding") is None


async def test_compresses_above_minimum_size_argument() -> None:
    app = GZipMiddleware(text_app("a" * 20), minimum_size=10)
    result = await call(app, headers=GZIP)
    assert gzip.decompress(result.body) == b"a" * 20


async def test_huge_body_is_compressed_off_the_event_loop_correctly() -> None:
    huge = bytes(range(256)) * (8 * 1024)  # 2 MiB, past thread_minimum_size
    app = GZipMiddleware(text_app(huge, content_type="application/octet-stream"))
    result = await call(app, headers=GZIP)
    assert gzip.decompress(result.body) == huge


async def test_trailers_drop_content_length() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2000")],
                "trailers": True,
            }
        )
        await send({"type": "http.response.body", "body": BIG.encode()})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})

    result = await call(GZipMiddleware(app), headers=GZIP)
    assert result.header("content-length") is None
    assert result.messages[-1]["type"] == "http.response.trailers"


async def test_pathsend_passes_through() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.pathsend", "path": "/etc/hostname"})

    result = await call(GZipMiddleware(app), headers=GZIP)
    assert [m["type"] for m in result.messages] == ["http.response.start", "http.response.pathsend"]
    assert result.header("content-encoding") is None


# --- streams are never buffered ------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_each_streamed_chunk_is_output_before_the_next_is_produced(encoding: str) -> None:
    """The app waits for the client to have decoded chunk i before it sends chunk i+1.

    If the middleware held any chunk back, the app would wait forever (the
    driver's fail_after turns that into a failure): no timing involved.
    """
    chunks = [f"event {i}\n".encode() for i in range(5)]
    decoded = bytearray()
    decoder = _decoder(encoding)
    progress = [anyio.Event() for _ in chunks]
    bodies: list[int] = []

    async def on_message(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            decoded.extend(decoder(message["body"]))
            bodies.append(len(message["body"]))
            for i in range(len(chunks)):
                if decoded.startswith(b"".join(chunks[: i + 1])):
                    progress[i].set()

    async def wait_for_client(i: int) -> None:
        await progress[i].wait()

    app = CompressionMiddleware(stream_app(chunks, between=wait_for_client))
    result = await call(app, headers=[("accept-encoding", encoding)], on_message=on_message)
    assert result.header("content-encoding") == encoding
    assert result.header("content-length") is None
    assert bytes(decoded) == b"".join(chunks)
    assert all(size > 0 for size in bodies[:-1])


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_a_long_stream_is_compressed_chunk_by_chunk(encoding: str) -> None:
    chunks = [bytes([65 + i % 26]) * 4096 for i in range(200)]  # 800 KiB streamed
    app = CompressionMiddleware(stream_app(chunks, content_type="application/octet-stream"))
    result = await call(app, headers=[("accept-encoding", encoding)])
    assert len(result.body_messages) == len(chunks) + 1
    decoder = _decoder(encoding)
    assert decoder(result.body) == b"".join(chunks)


@pytest.mark.parametrize("as_type", [bytes, bytearray, memoryview])
@pytest.mark.parametrize(
    "thread_minimum_size",
    [pytest.param(1, id="each-chunk-in-a-thread"), pytest.param(1 << 30, id="inline")],
)
@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_streamed_chunks_of_any_buffer_type_on_either_path(
    encoding: str, thread_minimum_size: int, as_type: Any
) -> None:
    """The per-chunk path: inline or in a worker thread, for any buffer the app sends."""
    chunks = [bytes([97 + i]) * 1000 for i in range(4)]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            body = as_type(chunk)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": as_type(b"end"), "more_body": False})

    middleware = CompressionMiddleware(app, thread_minimum_size=thread_minimum_size)
    result = await call(middleware, headers=[("accept-encoding", encoding)])
    assert result.header("content-encoding") == encoding
    assert [m["more_body"] for m in result.body_messages] == [True] * 4 + [False]
    assert all(type(m["body"]) is bytes for m in result.body_messages)
    assert _decoder(encoding)(result.body) == b"".join(chunks) + b"end"


# --- negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param("gzip, br, zstd", "zstd", id="server-preference-on-ties"),
        pytest.param("gzip;q=1, br;q=0.5, zstd;q=0.1", "gzip", id="client-weights"),
        pytest.param("br", "br", id="br-only"),
        pytest.param("zstd;q=0, *", "br", id="zstd-refused"),
        pytest.param("deflate", None, id="unsupported"),
    ],
)
async def test_compression_negotiates_by_weight(accept: str, expected: str | None) -> None:
    app = CompressionMiddleware(text_app(BIG))
    result = await call(app, headers=[("accept-encoding", accept)])
    assert result.header("content-encoding") == expected
    if expected is not None:
        assert _decoder(expected)(result.body) == BIG.encode()


async def test_compression_falls_back_to_gzip_without_the_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    app = CompressionMiddleware(text_app(BIG))
    assert app.encodings == ("gzip",)
    result = await call(app, headers=[("accept-encoding", "zstd, br, gzip")])
    assert result.header("content-encoding") == "gzip"


async def test_missing_extra_with_nothing_else_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(ImportError, match=r"flagstone-middleware\[zstd\]"):
        CompressionMiddleware(text_app(BIG), encodings=("zstd",))


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown content coding 'lzma'"):
        CompressionMiddleware(text_app(BIG), encodings=("lzma",))


async def test_websocket_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await send({"type": "websocket.close", "code": 1000})

    await call(GZipMiddleware(app), type="websocket", scheme="ws")
    assert seen == ["websocket"]


def _decoder(encoding: str) -> Any:
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return decompressor.decompress
    if encoding == "br":
        return brotli.Decompressor().process
    return zstandard.ZstdDecompressor().decompressobj().decompress


@pytest.mark.parametrize(
    ("extra", "expected_tail"),
    [
        # The usual start (no Vary, no ETag): built in one pass.
        (
            [("accept-ranges", "bytes"), ("x-a", "1")],
            [(b"x-a", b"1"), (b"vary", b"Accept-Encoding"), (b"content-encoding", b"gzip")],
        ),
        # Vary or ETag present: merged and weakened by the general path.
        (
            [("vary", "Cookie"), ("x-a", "1")],
            [
                (b"x-a", b"1"),
                (b"vary", b"Cookie, Accept-Encoding"),
                (b"content-encoding", b"gzip"),
            ],
        ),
        (
            [("etag", '"v1"'), ("x-a", "1")],
            [
                (b"x-a", b"1"),
                (b"vary", b"Accept-Encoding"),
                (b"content-encoding", b"gzip"),
                (b"etag", b'W/"v1"'),
            ],
        ),
        (
            [("vary", "accept-encoding"), ("x-a", "1")],
            [(b"vary", b"accept-encoding"), (b"x-a", b"1"), (b"content-encoding", b"gzip")],
        ),
    ],
)
async def test_compressed_start_headers_in_order(
    extra: list[tuple[str, str]], expected_tail: list[tuple[bytes, bytes]]
) -> None:
    result = await call(GZipMiddleware(text_app(BIG, headers=extra)), headers=GZIP)
    raw = result.raw_headers
    body = b"".join(m.get("body", b"") for m in result.messages if m["type"].endswith(".body"))
    assert gzip.decompress(body) == BIG.encode()
    assert raw[-1] == (b"content-length", str(len(body)).encode())
    without_own = [pair for pair in raw[:-1] if pair[0] != b"content-type"]
    assert without_own == expected_tail


async def test_negotiation_is_remembered_per_value_and_bounded() -> None:
    mw = CompressionMiddleware(text_app(BIG), encodings=("gzip",))
    for n in range(300):
        result = await call(mw, headers=[("accept-encoding", f"gzip;q=0.{n % 9 + 1}, x{n}")])
        assert result.header("content-encoding") == "gzip"
    assert len(mw._chosen) <= 256
    refused = await call(mw, headers=[("accept-encoding", "gzip;q=0")])
    assert refused.header("content-encoding") is None
    # Changing the offered codings forgets what was chosen under the old ones.
    mw.encodings = ()
    again = await call(mw, headers=[("accept-encoding", "gzip;q=0.1, x0")])
    assert again.header("content-encoding") is None
