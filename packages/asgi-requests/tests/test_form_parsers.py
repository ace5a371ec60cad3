"""`FormParser` and `MultiPartParser`, used the way frameworks that parse forms themselves do.

`FormParser(headers, stream)` / `MultiPartParser(headers, stream, *, max_files,
max_fields, max_part_size)`, then `await parser.parse()`: Starlette's
constructors and contract, with Starlette's error texts, caught as
`MultiPartException`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from flagstone_contract import HTTPException
from flagstone_requests import (
    FormData,
    FormParser,
    Headers,
    MultiPartException,
    MultiPartParser,
    Request,
    UploadFile,
)

pytestmark = pytest.mark.anyio

BOUNDARY = "p4rser"
URLENCODED = Headers({"content-type": "application/x-www-form-urlencoded"})
MULTIPART = Headers({"content-type": f"multipart/form-data; boundary={BOUNDARY}"})


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def part(name: str, value: bytes, filename: str | None = None, extra: str = "") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n"
    return head.encode() + value + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


async def parse_error(parser: FormParser | MultiPartParser) -> MultiPartException:
    """Parse, catching the error the Starlette way."""
    try:
        await parser.parse()
    except MultiPartException as exc:
        return exc
    pytest.fail("no MultiPartException")


async def test_form_parser_reads_a_urlencoded_stream_in_any_chunks() -> None:
    parser = FormParser(URLENCODED, stream(b"a=1&b=", b"", b"caf%C3%A9&a=2", b""))
    form = await parser.parse()
    assert isinstance(form, FormData)
    assert form.multi_items() == [("a", "1"), ("b", "café"), ("a", "2")]


async def test_multipart_parser_reads_fields_and_files() -> None:
    body = part("name", b"Ada") + part("doc", b"hello\r\nworld", filename="n.txt") + END
    parser = MultiPartParser(MULTIPART, stream(body[:7], body[7:40], body[40:]))
    form = await parser.parse()
    assert form["name"] == "Ada"
    upload = form["doc"]
    assert isinstance(upload, UploadFile)
    assert (upload.filename, await upload.read()) == ("n.txt", b"hello\r\nworld")
    await form.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: FormParser(URLENCODED, stream(b"a=1&b=2&c=3"), max_fields=2),
            "Too many fields. Maximum number of fields is 2.",
            id="urlencoded-too-many-fields",
        ),
        pytest.param(
            lambda: MultiPartParser(
                MULTIPART, stream(part("a", b"1") + part("b", b"2") + END), max_fields=1
            ),
            "Too many fields. Maximum number of fields is 1.",
            id="multipart-too-many-fields",
        ),
        pytest.param(
            lambda: MultiPartParser(
                MULTIPART,
                stream(part("a", b"1", "a.txt") + part("b", b"2", "b.txt") + END),
                max_files=1,
            ),
            "Too many files. Maximum number of files is 1.",
            id="multipart-too-many-files",
        ),
        pytest.param(
            lambda: MultiPartParser(
                Headers({"content-type": "multipart/form-data; boundary=" + "b" * 257}),
                stream(b"--" + b"b" * 257 + b"--\r\n"),
            ),
            "Invalid multipart data.",
            id="boundary-too-long",
        ),
        pytest.param(
            lambda: MultiPartParser(
                MULTIPART, stream(part("a", b"1", extra="X-Big: " + "v" * 5000 + "\r\n") + END)
            ),
            "Invalid multipart data.",
            id="part-header-too-large",
        ),
        pytest.param(
            lambda: MultiPartParser(MULTIPART, stream(b"not multipart at all")),
            "Invalid multipart data.",
            id="garbage",
        ),
        pytest.param(
            lambda: MultiPartParser(Headers({"content-type": "multipart/form-data"}), stream(END)),
            "Missing boundary in multipart.",
            id="missing-boundary",
        ),
    ],
)
async def test_errors_carry_starlettes_text(make: Any, message: str) -> None:
    exc = await parse_error(make())
    assert exc.message == message
    # Also an HTTPException, so it renders as a 400 wherever it escapes.
    assert isinstance(exc, HTTPException)
    assert (exc.status_code, exc.detail) == (400, message)


async def test_the_limit_that_was_hit_is_in_a_note() -> None:
    exc = await parse_error(FormParser(URLENCODED, stream(b"a=1&b=2"), max_fields=1))
    assert "max_fields=1" in "\n".join(exc.__notes__)
    body = part("a", b"1", extra="X-Big: " + "v" * 5000 + "\r\n") + END
    exc = await parse_error(MultiPartParser(MULTIPART, stream(body)))
    assert "max_part_header_size" in "\n".join(exc.__notes__)


async def test_a_part_over_max_part_size_is_starlettes_400_with_its_text() -> None:
    exc = await parse_error(
        MultiPartParser(MULTIPART, stream(part("a", b"x" * 3000) + END), max_part_size=2048)
    )
    assert isinstance(exc, MultiPartException)
    assert exc.status_code == 400
    assert exc.message == "Part exceeded maximum size of 2KB."
    exc = await parse_error(FormParser(URLENCODED, stream(b"a=" + b"x" * 3000), max_part_size=2048))
    assert exc.message == "Field exceeded maximum size of 2KB."


async def test_files_opened_before_an_error_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []

    class Watching(MultiPartParser):
        spool_max_size = 10  # a class attribute, as in Starlette

    body = part("a", b"x" * 100, "a.bin") + part("b", b"2", "b.bin") + END
    parser = Watching(MULTIPART, stream(body), max_files=1)
    original = UploadFile.__init__

    def spy(self: UploadFile, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self.file)

    monkeypatch.setattr(UploadFile, "__init__", spy)
    await parse_error(parser)
    assert len(opened) == 1
    assert opened[0].closed


async def test_spool_max_size_is_a_class_attribute_a_subclass_sets() -> None:
    class SmallSpool(MultiPartParser):
        spool_max_size = 10

    body = part("doc", b"x" * 100, filename="big.bin") + END
    form = await SmallSpool(MULTIPART, stream(body)).parse()
    upload = form["doc"]
    assert isinstance(upload, UploadFile)
    assert upload.file._rolled  # type: ignore[union-attr]  # on disk past 10 bytes
    await form.close()


async def test_a_framework_parses_the_request_stream_itself() -> None:
    body = part("title", b"On flagstone") + part("cover", b"\x89PNG", filename="c.png") + END
    chunks = iter([body[:20], body[20:]])

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, b"")
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    request = Request(scope, receive)
    parser = MultiPartParser(request.headers, request.stream(), max_files=1, max_fields=1)
    form = await parser.parse()
    assert form["title"] == "On flagstone"
    cover = form["cover"]
    assert isinstance(cover, UploadFile)
    assert await cover.read() == b"\x89PNG"
    await form.close()


@pytest.mark.parametrize("cls", [FormParser, MultiPartParser])
async def test_a_parser_built_without_init_works_from_headers_and_stream(cls: type) -> None:
    # What docs/building-a-framework.md lists: `headers` and `stream` set,
    # the limits read from their class-level defaults.
    parser = object.__new__(cls)
    if cls is FormParser:
        parser.headers, parser.stream = URLENCODED, stream(b"a=1&b=2")
        assert (await parser.parse())["b"] == "2"
    else:
        parser.headers, parser.stream = MULTIPART, stream(part("a", b"1") + END)
        assert (await parser.parse())["a"] == "1"
