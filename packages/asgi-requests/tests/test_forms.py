"""request.form(): urlencoded and multipart, caching, limits, temporary files."""

from __future__ import annotations

import io
import itertools
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagstone_contract import HTTPException, Receive, Scope, Send
from flagstone_requests import (
    DEFAULT_MAX_FORM_MEMORY_SIZE,
    ContentTooLarge,
    FormData,
    FormError,
    MultiPartException,
    Request,
    StreamConsumed,
    UploadFile,
)

pytestmark = pytest.mark.anyio

ScopeFactory = Callable[..., dict[str, Any]]
ChannelFactory = Callable[..., Any]

BOUNDARY = "fl4gst0ne"


def multipart(
    *parts: tuple[str, str | bytes, str | None, dict[str, str]], boundary: str = BOUNDARY
) -> bytes:
    """Encode parts given as (name, value, filename, extra headers)."""
    out = b""
    for name, value, filename, extra in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        lines = [f"Content-Disposition: {disposition}"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        data = value.encode() if isinstance(value, str) else value
        out += (
            f"--{boundary}\r\n".encode()
            + "\r\n".join(lines).encode()
            + b"\r\n\r\n"
            + data
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def field(name: str, value: str | bytes) -> tuple[str, str | bytes, str | None, dict[str, str]]:
    return (name, value, None, {})


def upload(
    name: str, data: bytes, filename: str = "f.txt", content_type: str = "text/plain"
) -> tuple[str, str | bytes, str | None, dict[str, str]]:
    return (name, data, filename, {"Content-Type": content_type})


def multipart_request(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    body: bytes,
    *,
    chunk: int = 0,
    content_type: str | None = None,
    **scope_extra: Any,
) -> Request:
    ctype = content_type or f"multipart/form-data; boundary={BOUNDARY}"
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    scope = http_scope(method="POST", headers=[("content-type", ctype)], **scope_extra)
    return Request(scope, body_channel(*chunks, then="block").receive)


def urlencoded_request(
    http_scope: ScopeFactory, body_channel: ChannelFactory, *chunks: bytes
) -> Request:
    scope = http_scope(
        method="POST", headers=[("content-type", "application/x-www-form-urlencoded")]
    )
    return Request(scope, body_channel(*chunks, then="block").receive)


# --- urlencoded ------------------------------------------------------------------------


async def test_urlencoded_fields(http_scope: ScopeFactory, body_channel: ChannelFactory) -> None:
    request = urlencoded_request(
        http_scope, body_channel, b"a=1&b=hello+world&a=2&c=", b"%C3%A9&d=\xc3\xa9"
    )
    with anyio.fail_after(5):
        form = await request.form()
    assert form.getlist("a") == ["1", "2"]
    assert form["b"] == "hello world"
    assert form["c"] == "é"
    # Raw UTF-8 decodes the same as percent-encoded UTF-8 (not latin-1 mojibake).
    assert form["d"] == "é"


async def test_urlencoded_semicolon_is_data(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # GHSA-5rvq-cxj2-64vf / GHSA-6jv3-5f52-599m: only "&" separates fields.
    form = await urlencoded_request(http_scope, body_channel, b"a=1;b=2").form()
    assert form.multi_items() == [("a", "1;b=2")]


async def test_urlencoded_empty_body(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    assert await urlencoded_request(http_scope, body_channel, b"").form() == FormData()


@pytest.mark.parametrize(
    ("body", "limits", "error", "message"),
    [
        pytest.param(
            b"a=1&b=2&c=3",
            {"max_fields": 2},
            FormError,
            "Too many fields. Maximum number of fields is 2.",
            id="too_many_fields",
        ),
        pytest.param(
            b"a=" + b"x" * 20,
            {"max_part_size": 10},
            FormError,
            "maximum part size of 10 bytes (max_part_size)",
            id="value_too_large",
        ),
        pytest.param(
            b"x" * 20 + b"=1",
            {"max_part_size": 10},
            FormError,
            "maximum part size of 10 bytes",
            id="name_too_large",
        ),
    ],
)
async def test_urlencoded_limits(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    body: bytes,
    limits: dict[str, int],
    error: type[Exception],
    message: str,
) -> None:
    # GHSA-82w8-qh3p-5jfq: the limits hold for urlencoded bodies too.
    request = urlencoded_request(http_scope, body_channel, body)
    with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)")):
        await request.form(**limits)


# --- multipart ---------------------------------------------------------------------------


async def test_multipart_fields_and_files(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    body = multipart(
        field("name", "Ada"),
        upload("doc", b"file-content\r\nline2", filename="notes.txt"),
        field("name", "Lovelace"),
        upload("doc", b"", filename="empty.bin", content_type="application/octet-stream"),
    )
    request = multipart_request(http_scope, body_channel, body, chunk=7)
    with anyio.fail_after(5):
        form = await request.form()
    assert form.getlist("name") == ["Ada", "Lovelace"]
    first, second = form.getlist("doc")
    assert isinstance(first, UploadFile)
    assert isinstance(second, UploadFile)
    assert first.filename == "notes.txt"
    assert first.content_type == "text/plain"
    assert first.headers["content-disposition"].startswith("form-data")
    assert first.size == len(b"file-content\r\nline2")
    assert await first.read() == b"file-content\r\nline2"
    assert second.size == 0
    assert second.content_type == "application/octet-stream"
    await request.close()
    assert first.file.closed
    assert second.file.closed


async def test_multipart_charset_from_content_type(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    body = multipart(field("v", "é".encode("latin-1")))
    request = multipart_request(
        http_scope,
        body_channel,
        body,
        content_type=f"multipart/form-data; charset=latin-1; boundary={BOUNDARY}",
    )
    assert (await request.form())["v"] == "é"
    unknown = multipart_request(
        http_scope,
        body_channel,
        body,
        content_type=f"multipart/form-data; charset=nope; boundary={BOUNDARY}",
    )
    assert (await unknown.form())["v"] == "é"


# One text-decode rule for every form (Starlette 1.10's): decode with the
# declared charset; bytes invalid in it, or a charset that is no text
# encoding, decode as latin-1.  Never a 4xx/5xx for how text is encoded.
CHARSET_FALLBACKS = {
    "unknown_name": "nope",
    "bytes_codec_base64": "base64",
    "bytes_codec_rot13": "rot13",
    "bytes_codec_hex": "hex",
    "bytes_codec_zlib": "zlib",
    "bytes_codec_bz2": "bz2",
    "bytes_codec_uu": "uu",
    "always_raises_undefined": "undefined",
    "quadratic_punycode": "punycode",
    "hostname_codec_idna": "idna",
    "escape_codec_unicode_escape": "unicode_escape",
    "escape_codec_raw_unicode_escape": "raw_unicode_escape",
    "empty_name": '""',
}


@pytest.mark.parametrize("charset", CHARSET_FALLBACKS.values(), ids=CHARSET_FALLBACKS.keys())
async def test_multipart_charset_that_is_no_text_encoding_falls_back_to_latin1(
    http_scope: ScopeFactory, body_channel: ChannelFactory, charset: str
) -> None:
    raw = b"caf\xe9 \xff\\N{x} xn--"
    body = multipart(field("n\xe9", raw), upload("f", b"data", filename="r\xe9sum\xe9.txt"))
    request = multipart_request(
        http_scope,
        body_channel,
        body,
        content_type=f"multipart/form-data; charset={charset}; boundary={BOUNDARY}",
    )
    async with request.form() as form:
        assert form["n\xe9".encode().decode("latin-1")] == raw.decode("latin-1")
        upload_file = form["f"]
        assert isinstance(upload_file, UploadFile)
        assert upload_file.filename == "r\xe9sum\xe9.txt".encode().decode("latin-1")


@pytest.mark.parametrize(
    ("where", "part"),
    [
        pytest.param("value", field("v", b"\xff\xfe ok"), id="field_value"),
        pytest.param("name", field("\udcff", b"x"), id="field_name"),
    ],
)
async def test_multipart_invalid_utf8_decodes_as_latin1_like_starlette(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    where: str,
    part: tuple[str, str | bytes, str | None, dict[str, str]],
) -> None:
    if where == "name":
        # A field name with a byte that is not UTF-8: built by hand.
        body = multipart(field("PLACEHOLDER", b"x")).replace(b"PLACEHOLDER", b"\xffname")
        expected = [("\xffname", "x")]
    else:
        body = multipart(part)
        expected = [("v", "\xff\xfe ok")]
    form = await multipart_request(http_scope, body_channel, body).form()
    assert form.multi_items() == expected


async def test_multipart_invalid_utf8_filename_decodes_as_latin1(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    body = multipart(upload("f", b"x", filename="PLACEHOLDER")).replace(b"PLACEHOLDER", b"\xe9.txt")
    async with multipart_request(http_scope, body_channel, body).form() as form:
        upload_file = form["f"]
        assert isinstance(upload_file, UploadFile)
        assert upload_file.filename == "\xe9.txt"


async def test_urlencoded_invalid_utf8_decodes_as_latin1_like_multipart(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    form = await urlencoded_request(http_scope, body_channel, b"%FFa=%E9t%E9&raw=\xe9").form()
    assert form.multi_items() == [("\xffa", "\xe9t\xe9"), ("raw", "\xe9")]


async def test_filename_is_kept_as_sent_and_never_used_as_a_path(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    body = multipart(upload("f", b"x", filename="../../etc/cron.d/evil"))
    form = await multipart_request(http_scope, body_channel, body).form()
    file = form["f"]
    assert isinstance(file, UploadFile)
    assert file.filename == "../../etc/cron.d/evil"
    assert await file.read() == b"x"
    await form.close()


async def test_other_content_types_give_an_empty_form(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(method="POST", headers=[("content-type", "application/json")])
    assert await Request(scope, body_channel(b"{}").receive).form() == FormData()
    assert await Request(http_scope(), body_channel(b"a=1").receive).form() == FormData()


async def test_async_with_closes_files(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = multipart_request(http_scope, body_channel, multipart(upload("f", b"data")))
    async with request.form() as form:
        file = form["f"]
        assert isinstance(file, UploadFile)
        assert not file.file.closed
    assert file.file.closed


async def test_request_close_closes_files_the_handler_never_closed(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = multipart_request(
        http_scope, body_channel, multipart(upload("a", b"1"), upload("b", b"2"))
    )
    form = await request.form()
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    assert len(files) == 2
    await request.close()
    await request.close()  # idempotent
    assert all(f.file.closed for f in files)


async def test_form_is_parsed_once_and_shared_across_requests(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    scope = http_scope(
        method="POST", headers=[("content-type", f"multipart/form-data; boundary={BOUNDARY}")]
    )
    ch = body_channel(multipart(field("a", "1"), upload("f", b"x")), then="block")
    middleware_request = Request(scope, ch.receive)
    endpoint_request = Request(scope, ch.receive)
    with anyio.fail_after(5):
        first = await middleware_request.form()
        assert await middleware_request.form() is first
        assert await endpoint_request.form() is first
    await endpoint_request.close()
    file = first["f"]
    assert isinstance(file, UploadFile)
    assert file.file.closed


async def test_a_later_form_call_returns_the_parsed_form_as_in_starlette(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    # The form is parsed once, under the first call's limits; a framework
    # parses first and the endpoint's own form(max_fields=0) gets that form.
    request = multipart_request(
        http_scope, body_channel, multipart(field("a", "1"), field("b", "22"), upload("f", b"xyz"))
    )
    first = await request.form()
    assert await request.form(max_fields=0) is first
    assert await request.form(max_files=0, max_part_size=2, max_file_size=2) is first
    again = Request(request.scope, request.receive)
    assert await again.form(max_fields=0) is first
    await request.close()


async def test_form_after_body_parses_the_cached_body(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = urlencoded_request(http_scope, body_channel, b"a=1")
    assert await request.body() == b"a=1"
    assert (await request.form())["a"] == "1"


async def test_body_after_form_explains_the_stream_was_consumed(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = urlencoded_request(http_scope, body_channel, b"a=1")
    await request.form()
    with anyio.fail_after(5), pytest.raises(StreamConsumed) as info:
        await request.body()
    assert str(info.value) == "Stream consumed"
    assert any("request.form()" in note for note in info.value.__notes__)


def boundary_ct(boundary: str) -> str:
    return f"multipart/form-data; boundary={boundary}"


MULTIPART_ERRORS = [
    pytest.param(
        multipart(field("a", "1"), field("b", "2"), field("c", "3")),
        {"max_fields": 2},
        None,
        FormError,
        "Too many fields. Maximum number of fields is 2.",
        id="too_many_fields",
    ),
    pytest.param(
        multipart(upload("a", b"1"), upload("b", b"2")),
        {"max_files": 1},
        None,
        FormError,
        "Too many files. Maximum number of files is 1.",
        id="too_many_files",
    ),
    pytest.param(
        multipart(field("a", "x" * 100)),
        {"max_part_size": 50},
        None,
        FormError,
        "form field 'a' exceeds the maximum part size of 50 bytes (max_part_size)",
        id="field_too_large",
    ),
    pytest.param(
        multipart(upload("a", b"x" * 100, filename="big.bin")),
        {"max_file_size": 50},
        None,
        ContentTooLarge,
        "Uploaded file 'big.bin' exceeds the maximum file size of 50 bytes (max_file_size)",
        id="file_too_large",
    ),
    pytest.param(
        multipart(("a", "1", None, {f"X-H{i}": "v" for i in range(5)})),
        {"max_part_header_count": 4},
        None,
        FormError,
        "more than 4 headers (max_part_header_count)",
        id="too_many_part_headers",
    ),
    pytest.param(
        multipart(("a", "1", None, {"X-Big": "v" * 200})),
        {"max_part_header_size": 100},
        None,
        FormError,
        "larger than 100 bytes (max_part_header_size)",
        id="part_header_too_large",
    ),
    pytest.param(
        b"--" + b"b" * 300 + b"\r\n",
        {},
        boundary_ct("b" * 300),
        FormError,
        "boundary is 300 bytes long; the maximum is 256 bytes",
        id="boundary_too_long",
    ),
    pytest.param(
        b"",
        {},
        "multipart/form-data",
        FormError,
        "Missing boundary in multipart.",
        id="missing_boundary",
    ),
    pytest.param(
        multipart(("a", "1", None, {})).replace(b'name="a"', b'nom="a"'),
        {},
        None,
        FormError,
        'Content-Disposition header field "name" must be provided',
        id="missing_name",
    ),
    pytest.param(
        multipart(field("a", "1"))[:-10],
        {},
        None,
        FormError,
        "ended before the closing boundary",
        id="truncated_body",
    ),
    pytest.param(
        b"--" + BOUNDARY.encode() + b"\r\nbroken header line\r\n\r\n",
        {},
        None,
        FormError,
        "Invalid multipart data",
        id="malformed_header",
    ),
]


@pytest.mark.parametrize(("body", "limits", "content_type", "error", "message"), MULTIPART_ERRORS)
async def test_multipart_limits_and_errors_name_the_limit(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    body: bytes,
    limits: dict[str, int],
    content_type: str | None,
    error: type[Exception],
    message: str,
) -> None:
    request = multipart_request(http_scope, body_channel, body, chunk=16, content_type=content_type)
    with anyio.fail_after(5), pytest.raises(error) as info:
        await request.form(**limits)
    # The text is Starlette's; which limit was hit is in a note.
    assert message in "\n".join([str(info.value), *getattr(info.value, "__notes__", ())])
    assert getattr(info.value, "status_code", None) in (400, 413)


class RecordingSpool(tempfile.SpooledTemporaryFile[bytes]):
    """Records every instance and the thread each write ran on."""

    instances: list[RecordingSpool] = []
    loop_thread = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[bool] = []  # True = ran on the event loop thread
        RecordingSpool.instances.append(self)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(threading.get_ident() == RecordingSpool.loop_thread)
        return super().write(data)


@pytest.fixture
def recording_spool(monkeypatch: pytest.MonkeyPatch) -> type[RecordingSpool]:
    RecordingSpool.instances = []
    RecordingSpool.loop_thread = threading.get_ident()
    monkeypatch.setattr("flagstone_requests._forms.tempfile.SpooledTemporaryFile", RecordingSpool)
    return RecordingSpool


async def test_upload_past_the_spool_limit_is_written_off_the_event_loop(
    http_scope: ScopeFactory, body_channel: ChannelFactory, recording_spool: type[RecordingSpool]
) -> None:
    # GHSA-2c2j-9gv5-cj73: the rollover write (and every write after it) hits the
    # disk, so it must run in a worker thread, never on the loop.
    data = bytes(range(256)) * 64  # 16 KiB
    body = multipart(upload("f", data))
    request = multipart_request(http_scope, body_channel, body, chunk=1024)
    form = await request.form(spool_max_size=4096)
    (spool,) = recording_spool.instances
    assert getattr(spool, "_rolled", False)
    first_on_disk = spool.writes.index(False)
    assert all(spool.writes[:first_on_disk])  # small writes stay inline while in memory
    assert not any(spool.writes[first_on_disk:])  # the rollover and everything after: thread
    file = form["f"]
    assert isinstance(file, UploadFile)
    assert await file.read() == data
    await request.close()
    assert spool.closed


# Uploads that fit the spool are gathered and handed over whole (no writes, no
# thread); larger ones roll over in a thread and are written in batches.  The
# content must come out the same on every path, whatever the chunking.
_BOUNDARY_LOOKALIKE = b"\r\n--" + BOUNDARY.encode()[:-1] + b"X"


@pytest.mark.parametrize(
    ("data", "chunk", "spool_max_size", "rolled"),
    [
        pytest.param(b"", 0, 1024, False, id="empty-file"),
        pytest.param(b"x" * 100, 0, 1024, False, id="one-chunk-small"),
        pytest.param(bytes(range(256)) * 800, 1000, 1024 * 1024, False, id="many-chunks-in-memory"),
        pytest.param(
            _BOUNDARY_LOOKALIKE * 9000, 4099, 1024 * 1024, False, id="boundary-lookalikes"
        ),
        pytest.param(b"y" * 4096, 0, 4096, False, id="exactly-the-spool-limit"),
        pytest.param(b"y" * 4097, 0, 4096, True, id="one-byte-past-the-spool-limit"),
        pytest.param(b"z" * 300_000, 70_000, 4096, True, id="rolled-over-across-chunks"),
        pytest.param(b"w" * 300_000, 70_000, 0, False, id="spool-limit-0-never-rolls"),
        pytest.param(b"v" * 1000, 0, -1, True, id="negative-spool-limit-rolls-at-once"),
    ],
)
async def test_uploaded_bytes_are_kept_exactly_on_every_spool_path(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    data: bytes,
    chunk: int,
    spool_max_size: int,
    rolled: bool,
) -> None:
    body = multipart(field("a", "1"), upload("f", data), upload("g", b"second"), field("b", "2"))
    request = multipart_request(http_scope, body_channel, body, chunk=chunk)
    with anyio.fail_after(5):
        form = await request.form(spool_max_size=spool_max_size)
    file, second = form["f"], form["g"]
    assert isinstance(file, UploadFile)
    assert isinstance(second, UploadFile)
    assert (form["a"], form["b"]) == ("1", "2")
    assert file.size == len(data)
    assert bool(getattr(file.file, "_rolled", False)) is rolled
    assert await file.read() == data
    assert await second.read() == b"second"
    # Still an ordinary spooled file: it can be rewound, appended to and reread.
    await file.seek(0)
    assert await file.read(3) == data[:3]
    file.file.seek(0, 2)
    file.file.write(b"!")
    await file.seek(0)
    assert await file.read() == data + b"!"
    await request.close()
    assert file.file.closed


async def test_an_upload_that_fits_the_spool_is_never_written_chunk_by_chunk(
    http_scope: ScopeFactory, body_channel: ChannelFactory, recording_spool: type[RecordingSpool]
) -> None:
    # Chunk-by-chunk writes into the spool's BytesIO copied the file several
    # times over as it grew; the chunks are now handed over once, whole.
    data = bytes(range(256)) * 1024  # 256 KiB, in many body chunks
    request = multipart_request(http_scope, body_channel, multipart(upload("f", data)), chunk=4096)
    form = await request.form()
    (spool,) = recording_spool.instances
    assert spool.writes == []
    assert not getattr(spool, "_rolled", False)
    file = form["f"]
    assert isinstance(file, UploadFile)
    assert await file.read() == data
    await request.close()


class ForeignBufferSpool(RecordingSpool):
    """A spool whose buffer is not the plain BytesIO a SpooledTemporaryFile makes."""

    class Buffer(io.BytesIO):
        pass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._file = ForeignBufferSpool.Buffer()


async def test_an_upload_whose_spool_cannot_be_handed_over_is_written_the_ordinary_way(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    recording_spool: type[RecordingSpool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "flagstone_requests._forms.tempfile.SpooledTemporaryFile", ForeignBufferSpool
    )
    data = b"payload" * 1000
    request = multipart_request(http_scope, body_channel, multipart(upload("f", data)), chunk=999)
    form = await request.form()
    (spool,) = recording_spool.instances
    assert spool.writes == [True]  # one write, inline: it fits in memory
    file = form["f"]
    assert isinstance(file, UploadFile)
    assert file.size == len(data)
    assert await file.read() == data
    await request.close()


async def test_a_rolled_over_upload_is_written_in_batches_off_the_loop(
    http_scope: ScopeFactory, body_channel: ChannelFactory, recording_spool: type[RecordingSpool]
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, in 64 KiB body chunks
    request = multipart_request(http_scope, body_channel, multipart(upload("f", data)), chunk=65536)
    form = await request.form(spool_max_size=4096)
    (spool,) = recording_spool.instances
    assert getattr(spool, "_rolled", False)
    assert not any(spool.writes)  # every write in a worker thread
    # Not one thread hop per 64 KiB chunk: one per DISK_WRITE_BATCH (256 KiB).
    assert len(spool.writes) <= 6
    file = form["f"]
    assert isinstance(file, UploadFile)
    assert await file.read() == data
    await request.close()


async def test_files_made_before_an_error_are_closed(
    http_scope: ScopeFactory, body_channel: ChannelFactory, recording_spool: type[RecordingSpool]
) -> None:
    body = multipart(upload("a", b"1"), upload("b", b"2"), upload("c", b"3"))
    request = multipart_request(http_scope, body_channel, body)
    with pytest.raises(FormError, match="max_files"):
        await request.form(max_files=2)
    assert len(recording_spool.instances) == 2
    assert all(spool.closed for spool in recording_spool.instances)


async def test_files_are_closed_when_the_parse_is_cancelled(
    http_scope: ScopeFactory, channel: Any, recording_spool: type[RecordingSpool]
) -> None:
    # Half the body arrives, then the client stalls and the server cancels the app.
    # (More than the 64 KiB that small chunks are coalesced to, so the parser
    # has made the file before the stall.)
    full = multipart(upload("a", b"1" * 100_000))
    scope = http_scope(
        method="POST", headers=[("content-type", f"multipart/form-data; boundary={BOUNDARY}")]
    )
    ch = channel([{"type": "http.request", "body": full[:70_000], "more_body": True}])
    waiting = anyio.Event()

    async def receive() -> dict[str, Any]:
        if not ch.messages:
            waiting.set()
        result: dict[str, Any] = await ch.receive()  # blocks forever once drained
        return result

    ch.then = "block"
    request = Request(scope, receive)

    async def parse() -> None:
        await request.form()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(parse)
            await waiting.wait()
            tg.cancel_scope.cancel()
    assert len(recording_spool.instances) == 1
    assert recording_spool.instances[0].closed


async def test_a_real_client_upload_through_httpx() -> None:
    import httpx

    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            form = await request.form()
            upload = form["doc"]
            assert isinstance(upload, UploadFile)
            seen.update(
                title=form["title"],
                filename=upload.filename,
                content_type=upload.content_type,
                data=await upload.read(),
            )
            seen["file"] = upload
        finally:
            await request.close()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/upload",
            data={"title": "Grüße"},
            files={"doc": ("report.csv", b"a,b\r\n1,2\r\n", "text/csv")},
        )
    assert response.status_code == 204
    assert seen["title"] == "Grüße"
    assert seen["filename"] == "report.csv"
    assert seen["content_type"] == "text/csv"
    assert seen["data"] == b"a,b\r\n1,2\r\n"
    assert seen["file"].file.closed


# --- MultiPartException: Starlette's name, flagstone's 400/413 split ----------------

FORM_ERRORS = {
    "multipart_too_many_fields": (
        multipart(field("a", "1"), field("b", "2")),
        "multipart",
        {"max_fields": 1},
        400,
        "max_fields",
    ),
    "multipart_too_many_files": (
        multipart(upload("a", b"1"), upload("b", b"2")),
        "multipart",
        {"max_files": 1},
        400,
        "max_files",
    ),
    "multipart_part_too_large": (
        multipart(field("a", "x" * 50)),
        "multipart",
        {"max_part_size": 10},
        400,
        "max_part_size",
    ),
    "multipart_file_too_large": (
        multipart(upload("a", b"x" * 50)),
        "multipart",
        {"max_file_size": 10},
        413,
        "max_file_size",
    ),
    "multipart_no_closing_boundary": (
        multipart(field("a", "1"))[:-8],
        "multipart",
        {},
        400,
        "closing boundary",
    ),
    "urlencoded_too_many_fields": (
        b"a=1&b=2&c=3",
        "urlencoded",
        {"max_fields": 2},
        400,
        "max_fields",
    ),
    "urlencoded_part_too_large": (
        b"a=" + b"x" * 50,
        "urlencoded",
        {"max_part_size": 10},
        400,
        "max_part_size",
    ),
}


@pytest.mark.parametrize(
    ("body", "kind", "limits", "status", "names"),
    FORM_ERRORS.values(),
    ids=FORM_ERRORS.keys(),
)
async def test_every_form_error_is_a_multipart_exception_with_its_status(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    body: bytes,
    kind: str,
    limits: dict[str, Any],
    status: int,
    names: str,
) -> None:
    if kind == "multipart":
        request = multipart_request(http_scope, body_channel, body)
    else:
        request = urlencoded_request(http_scope, body_channel, body)
    # Written the Starlette way: `except MultiPartException as exc: exc.message`.
    try:
        await request.form(**limits)
    except MultiPartException as exc:
        caught: MultiPartException = exc
    else:
        pytest.fail("no MultiPartException")
    await request.close()
    assert names in "\n".join([caught.message, *getattr(caught, "__notes__", ())])
    assert isinstance(caught, HTTPException)
    assert caught.status_code == status
    assert isinstance(caught, ContentTooLarge if status == 413 else FormError)


def test_multipart_exception_alone_carries_its_message() -> None:
    exc = MultiPartException("Missing boundary in multipart.")
    assert exc.message == "Missing boundary in multipart."
    assert str(exc) == "Missing boundary in multipart."


# --- parser work tracks bytes, not separators or messages ---------------------------
# (The CPU cost itself is measured by tools/bench/bench_parsers.py; these pin
# the mechanism: how much the pure-Python parsers are handed.)


@pytest.fixture
def parser_feed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Record the size of every chunk handed to the urlencoded and multipart parsers."""
    from python_multipart import multipart as pm

    from flagstone_requests import _forms

    fed: dict[str, list[int]] = {"urlencoded": [], "multipart": []}
    parsers = (
        ("urlencoded", _forms._UrlencodedReader, "feed"),
        ("multipart", pm.MultipartParser, "write"),
    )
    for kind, cls, method in parsers:
        original = getattr(cls, method)

        def write(self: Any, data: bytes, _original: Any = original, _kind: str = kind) -> Any:
            fed[_kind].append(len(data))
            return _original(self, data)

        monkeypatch.setattr(cls, method, write)
    return fed


SEPARATOR_BODIES = {
    "only_ampersands": [b"&" * 65536] * 16,
    "ampersands_one_per_message": [b"&"] * 4096,
    "ampersand_runs_between_fields": [b"a=1" + b"&" * 65536 + b"b=2&&"] * 4,
}


@pytest.mark.parametrize("chunks", SEPARATOR_BODIES.values(), ids=SEPARATOR_BODIES.keys())
async def test_separator_runs_never_reach_the_urlencoded_parser(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    parser_feed: dict[str, list[int]],
    chunks: list[bytes],
) -> None:
    # A body of `&` completes no field, so max_fields never stopped it, and
    # the parser skipped it one Python iteration per byte.
    form = await urlencoded_request(http_scope, body_channel, *chunks).form()
    size = sum(map(len, chunks))
    assert sum(parser_feed["urlencoded"]) <= 16 * len(parser_feed["urlencoded"]) + 16
    assert sum(parser_feed["urlencoded"]) < size // 1000
    expected = [("a", "1"), ("b", "2")] * 4 if chunks[0].startswith(b"a=1") else []
    assert form.multi_items() == expected


@pytest.mark.parametrize("kind", ["multipart", "urlencoded"])
async def test_one_byte_messages_are_coalesced_before_the_parser(
    http_scope: ScopeFactory,
    body_channel: ChannelFactory,
    parser_feed: dict[str, list[int]],
    kind: str,
) -> None:
    if kind == "multipart":
        body = multipart(field("a", "x" * 35_000), upload("f", b"y" * 35_000))
        request = multipart_request(http_scope, body_channel, body, chunk=1)
    else:
        body = b"a=" + b"x" * 35_000 + b"&b=" + b"y" * 35_000
        request = urlencoded_request(http_scope, body_channel, *(bytes([b]) for b in body))
    async with request.form() as form:
        assert form["a"] == "x" * 35_000
    # ~70,000 one-byte messages reach the parser as a handful of chunks.
    assert len(parser_feed[kind]) <= len(body) // (64 * 1024) + 1
    assert sum(parser_feed[kind]) == len(body)


# --- the urlencoded reader splits fields as python-multipart's parser did ------------


def _fields_by_python_multipart(body: bytes) -> list[tuple[bytes, bytes]]:
    """The (name, value) bytes python-multipart's QuerystringParser gives for `body`."""
    from python_multipart.multipart import QuerystringParser

    fields: list[tuple[bytes, bytes]] = []
    name, value = [b""], [b""]

    def on_name(data: bytes, start: int, end: int) -> None:
        name[0] += data[start:end]

    def on_data(data: bytes, start: int, end: int) -> None:
        value[0] += data[start:end]

    def on_end() -> None:
        fields.append((name[0], value[0]))
        name[0] = value[0] = b""

    parser = QuerystringParser(
        {"on_field_name": on_name, "on_field_data": on_data, "on_field_end": on_end}
    )
    parser.write(body)
    parser.finalize()
    return fields


# The bytes that matter to the grammar (and to escapes), and a few that do not.
_GRAMMAR_BYTES = b"a=&;%+2F\x00\xc3\xa9"


def _read_urlencoded(chunks: list[bytes], **limits: Any) -> list[tuple[str, Any]]:
    from flagstone_requests._forms import FormLimits, _UrlencodedReader

    pending = [chunk for chunk in reversed(chunks) if chunk]

    async def next_chunk() -> bytes | None:
        return pending.pop() if pending else None

    async def parse() -> FormData:
        return await _UrlencodedReader(FormLimits(**limits)).parse(next_chunk)

    return anyio.run(parse).multi_items()


@given(
    body=st.binary(max_size=60).map(
        # Mostly the bytes that matter to the grammar, some that do not.
        lambda raw: bytes(_GRAMMAR_BYTES[byte % len(_GRAMMAR_BYTES)] for byte in raw)
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
@settings(max_examples=300, deadline=None)
def test_urlencoded_fields_match_python_multipart_however_the_body_is_cut(
    body: bytes, cuts: list[int]
) -> None:
    from flagstone_requests._forms import _decode_urlencoded

    bounds = [0, *sorted(cuts), len(body)]
    chunks = [body[a:b] for a, b in itertools.pairwise(bounds)]
    expected = [
        (_decode_urlencoded(name), _decode_urlencoded(value))
        for name, value in _fields_by_python_multipart(body)
    ]
    assert _read_urlencoded(chunks) == expected


@pytest.mark.parametrize(
    ("chunks", "limits", "message"),
    [
        pytest.param([b"a=1&b=2&c=3"], {"max_fields": 2}, "max_fields", id="count-in-one-chunk"),
        pytest.param(
            [b"a=1&", b"b=2&", b"c"], {"max_fields": 2}, "max_fields", id="count-across-chunks"
        ),
        pytest.param(
            [b"a=1&&&" * 5], {"max_fields": 3}, "max_fields", id="count-with-empty-fields"
        ),
        pytest.param(
            [b"a=" + b"v" * 11], {"max_part_size": 10}, "max_part_size", id="value-one-chunk"
        ),
        pytest.param(
            [b"a=v", b"v" * 9], {"max_part_size": 10}, "max_part_size", id="value-carried"
        ),
        pytest.param(
            [b"n" * 6, b"n" * 5], {"max_part_size": 10}, "max_part_size", id="name-carried"
        ),
        pytest.param(
            [b"a=12345&b=12", b"345"],
            {"max_form_memory_size": 11},
            "max_form_memory_size",
            id="memory-carried",
        ),
    ],
)
def test_urlencoded_limits_hold_however_the_body_is_cut(
    chunks: list[bytes], limits: dict[str, int], message: str
) -> None:
    with pytest.raises((FormError, ContentTooLarge), match=message):
        _read_urlencoded(chunks, **limits)


@pytest.mark.parametrize(
    ("chunks", "limits"),
    [
        pytest.param([b"a=1&b=2"], {"max_fields": 2}, id="count-at-the-limit"),
        pytest.param([b"a=", b"v" * 9], {"max_part_size": 10}, id="size-at-the-limit"),
        pytest.param([b"a=1&" * 3000], {"max_fields": float("inf")}, id="no-count-limit"),
    ],
)
def test_urlencoded_limits_let_a_form_at_the_limit_through(
    chunks: list[bytes], limits: dict[str, Any]
) -> None:
    assert _read_urlencoded(chunks, **limits)


# --- part parameters: the same as python-multipart's parse_options_header -----------

_DISPOSITION_PIECES = [
    b'form-data; name="',
    b"; filename=",
    b";",
    b"=",
    b'"',
    b" ",
    b"\t",
    b"*",
    b"\\",
    b"a",
    b"N",
    b"\xc0",
    b"name",
    b"NAME",
    b"filename",
    b"form-data",
    b"\xc3\xa9",
]


@given(st.lists(st.sampled_from(_DISPOSITION_PIECES), max_size=14).map(b"".join))
@settings(max_examples=1000, deadline=None)
def test_disposition_params_match_python_multipart(value: bytes) -> None:
    # Starlette reads part names with parse_options_header; flagstone's fast
    # path must give the same names for every header, odd ones included.
    from python_multipart.multipart import parse_options_header

    from flagstone_requests._forms import disposition_params

    assert disposition_params(value) == parse_options_header(value)[1]


@pytest.mark.parametrize(
    "value",
    [
        b'form-data; name="field"',
        b'form-data; name="n' + b"n" * 4000 + b'"',
        b'form-data; name="f"; filename="a b.txt"',
        b'form-data; name="a;b"',
        b'form-data; name="say \\"hi\\""',
        b'form-data; name="f"; filename="C:\\dir\\file.txt"',
        b'form-data; NAME="upper"; Filename="x"',
        b"form-data; name=bare",
        b"form-data; name=\"x\"; name*=utf-8''y",
        b"form-data",
        b"",
    ],
)
def test_disposition_params_examples_match_python_multipart(value: bytes) -> None:
    from python_multipart.multipart import parse_options_header

    from flagstone_requests._forms import disposition_params

    assert disposition_params(value) == parse_options_header(value)[1]


# --- the fields of a form held in memory have a default budget ----------------------

MiB = 1024 * 1024


def _eleven_mib_of_fields(kind: str) -> tuple[bytes, str]:
    """11 fields of 1 MiB minus a little (each under max_part_size), as urlencoded or multipart."""
    value = b"v" * (MiB - 64)
    if kind == "urlencoded":
        return b"&".join(
            b"f%d=" % i + value for i in range(11)
        ), "application/x-www-form-urlencoded"
    body = multipart(*(field(f"f{i}", value) for i in range(11)))
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def _form_request(
    http_scope: ScopeFactory, body_channel: ChannelFactory, body: bytes, ctype: str
) -> Request:
    chunks = [body[i : i + MiB] for i in range(0, len(body), MiB)]
    scope = http_scope(method="POST", headers=[("content-type", ctype)])
    return Request(scope, body_channel(*chunks).receive)


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
async def test_form_fields_over_the_default_memory_budget_are_a_413(
    http_scope: ScopeFactory, body_channel: ChannelFactory, kind: str
) -> None:
    assert 10 * MiB == DEFAULT_MAX_FORM_MEMORY_SIZE
    body, ctype = _eleven_mib_of_fields(kind)
    request = _form_request(http_scope, body_channel, body, ctype)
    with pytest.raises(ContentTooLarge, match="max_form_memory_size") as info:
        await request.form()
    assert isinstance(info.value, MultiPartException)
    assert info.value.limit == DEFAULT_MAX_FORM_MEMORY_SIZE


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
async def test_form_memory_budget_can_be_lifted(
    http_scope: ScopeFactory, body_channel: ChannelFactory, kind: str
) -> None:
    body, ctype = _eleven_mib_of_fields(kind)
    form = await _form_request(http_scope, body_channel, body, ctype).form(
        max_form_memory_size=None
    )
    assert len(form) == 11


async def test_uploaded_files_do_not_count_against_the_memory_budget(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    body = multipart(field("a", "x" * 60), upload("f", b"y" * 500))
    request = _form_request(
        http_scope, body_channel, body, f"multipart/form-data; boundary={BOUNDARY}"
    )
    async with request.form(max_form_memory_size=100) as form:
        assert form["a"] == "x" * 60


async def test_a_later_form_call_does_not_parse_again_under_a_smaller_memory_budget(
    http_scope: ScopeFactory, body_channel: ChannelFactory
) -> None:
    request = urlencoded_request(http_scope, body_channel, b"a=" + b"x" * 60 + b"&b=" + b"y" * 60)
    first = await request.form()
    assert len(first) == 2
    assert await request.form(max_form_memory_size=100) is first
