"""Range parsing and FileResponse byte ranges, including hostile `Range` headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flagstone_requests import FileResponse
from flagstone_requests._ranges import if_range_matches, parse_range

pytestmark = pytest.mark.anyio

CONTENT = bytes(range(256)) * 4  # 1024 bytes, every offset recognisable


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


async def get(
    path: Path,
    http_scope: Any,
    run_asgi: Any,
    sent_response: Any,
    *headers: tuple[str, str],
    method: str = "GET",
) -> Any:
    scope = http_scope(method=method, headers=list(headers))
    return sent_response((await run_asgi(FileResponse(path), scope)).sent)


# --- the parser --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "outcome", "ranges"),
    [
        ("bytes=0-9", "partial", ((0, 10),)),
        ("bytes=10-", "partial", ((10, 100),)),
        ("bytes=-10", "partial", ((90, 100),)),
        ("BYTES=0-0", "partial", ((0, 1),)),
        ("bytes=0-9, 20-29", "partial", ((0, 10), (20, 30))),
        ("bytes=50-200", "partial", ((50, 100),)),
        ("bytes=0-9,,", "partial", ((0, 10),)),
        ("bytes=0-9,x-y", "partial", ((0, 10),)),
        ("bytes=0-9,200-300", "partial", ((0, 10),)),
        ("items=0-9", "full", ()),
    ],
)
def test_parse_range_valid(header: str, outcome: str, ranges: tuple[Any, ...]) -> None:
    decision = parse_range(header, 100)
    assert decision.outcome == outcome
    assert decision.ranges == ranges


@pytest.mark.parametrize(
    ("if_range", "etag", "last_modified", "expected"),
    [
        ('"abc"', '"abc"', None, True),
        ('"abc"', '"other"', None, False),
        ('W/"abc"', 'W/"abc"', None, False),
        ('"abc"', 'W/"abc"', None, False),
        ("Wed, 01 Jan 2020 00:00:00 GMT", None, "Wed, 01 Jan 2020 00:00:00 GMT", True),
        ("Wed, 01 Jan 2020 00:00:01 GMT", None, "Wed, 01 Jan 2020 00:00:00 GMT", False),
    ],
)
def test_if_range(
    if_range: str, etag: str | None, last_modified: str | None, expected: bool
) -> None:
    assert if_range_matches(if_range, etag, last_modified) is expected


# --- hostile Range headers: one row per attack -----------------------------------

MANY = ",".join(f"{i}-{i}" for i in range(5000))
OVERLAPPING = ",".join("0-1023" for _ in range(99))
HUGE_DIGITS = "9" * 100_000


@pytest.mark.parametrize(
    ("header", "status", "content_range"),
    [
        pytest.param(f"bytes={MANY}", 200, None, id="thousands-of-ranges-ignored"),
        pytest.param("bytes=" + "0-0," * 100_000, 200, None, id="comma-flood-ignored"),
        pytest.param(f"bytes={OVERLAPPING}", 206, "bytes 0-1023/1024", id="overlapping-merged"),
        pytest.param("bytes=0-10,5-20,15-30", 206, "bytes 0-30/1024", id="chained-overlaps-merged"),
        pytest.param("bytes=0-9,10-19", 206, "bytes 0-19/1024", id="adjacent-merged"),
        pytest.param("bytes=-0", 416, "bytes */1024", id="empty-suffix"),
        pytest.param(f"bytes=-{HUGE_DIGITS}", 206, "bytes 0-1023/1024", id="huge-suffix-clamped"),
        pytest.param("bytes=-99999999999", 206, "bytes 0-1023/1024", id="suffix-larger-than-file"),
        pytest.param(f"bytes=0-{HUGE_DIGITS}", 206, "bytes 0-1023/1024", id="huge-end-clamped"),
        pytest.param(f"bytes={HUGE_DIGITS}-", 416, "bytes */1024", id="huge-start"),
        pytest.param("bytes=1024-", 416, "bytes */1024", id="start-at-eof"),
        pytest.param("bytes=5000-6000", 416, "bytes */1024", id="start-past-eof"),
        pytest.param("bytes=10-5", 400, None, id="inverted"),
        pytest.param("bytes=abc", 400, None, id="junk"),
        pytest.param("bytes=", 400, None, id="empty-set"),
        pytest.param("bytes=-", 400, None, id="lone-dash"),
        pytest.param("bytes=--5", 400, None, id="double-dash"),
        pytest.param("bytes=+1-2", 400, None, id="plus-sign"),
        pytest.param("bytes=²-³", 400, None, id="superscript-digits"),
        pytest.param("bytes 0-10", 400, None, id="missing-equals"),
        pytest.param("chunks=0-10", 200, None, id="unknown-unit-ignored"),
    ],
)
async def test_hostile_range_headers(
    header: str,
    status: int,
    content_range: str | None,
    data_file: Path,
    http_scope: Any,
    run_asgi: Any,
    sent_response: Any,
) -> None:
    resp = await get(data_file, http_scope, run_asgi, sent_response, ("range", header))
    assert resp.status == status
    assert resp.header("content-range") == content_range
    if status == 200:
        assert resp.body == CONTENT


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=10-5", 400, b"Range header: start must be less than end"),
        ("bytes=abc", 400, b"Range header: range must be requested"),
        ("bytes= - ", 400, b"Range header: range must be requested"),
        ("bytes=", 400, b"Range header: range must be requested"),
        ("bytes 0-10", 400, b"Malformed range header."),
        ("bytes=5000-6000", 416, b""),
        ("bytes=5000-10", 416, b""),  # past the end is checked before inverted
    ],
)
async def test_range_errors_have_starlettes_bodies(
    header: str,
    status: int,
    body: bytes,
    data_file: Path,
    http_scope: Any,
    run_asgi: Any,
    sent_response: Any,
) -> None:
    resp = await get(data_file, http_scope, run_asgi, sent_response, ("range", header))
    assert resp.status == status
    assert resp.body == body


# --- FileResponse ranges ------------------------------------------------------------


async def test_single_range(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    resp = await get(data_file, http_scope, run_asgi, sent_response, ("range", "bytes=10-19"))
    assert resp.status == 206
    assert resp.body == CONTENT[10:20]
    assert resp.header("content-length") == "10"
    assert resp.header("content-range") == "bytes 10-19/1024"
    assert resp.header("content-type") == "application/octet-stream"


async def test_multiple_ranges_are_multipart(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    resp = await get(data_file, http_scope, run_asgi, sent_response, ("range", "bytes=0-4,-5"))
    assert resp.status == 206
    content_type = resp.header("content-type")
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("=", 1)[1]
    assert len(boundary) == 26
    expected = (
        (
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Range: bytes 0-4/1024\r\n\r\n"
        ).encode()
        + CONTENT[:5]
        + b"\r\n"
        + (
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Range: bytes 1019-1023/1024\r\n\r\n"
        ).encode()
        + CONTENT[-5:]
        + f"\r\n--{boundary}--".encode()
    )
    # No CRLF after the closing delimiter: Starlette's body, byte for byte.
    assert resp.body == expected
    assert resp.header("content-length") == str(len(expected))


async def test_head_range_sends_no_body(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    resp = await get(
        data_file, http_scope, run_asgi, sent_response, ("range", "bytes=0-9"), method="HEAD"
    )
    assert resp.status == 206
    assert resp.body == b""
    assert resp.header("content-length") == "10"


async def test_range_ignored_for_post(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    resp = await get(
        data_file, http_scope, run_asgi, sent_response, ("range", "bytes=0-9"), method="POST"
    )
    assert resp.status == 200
    assert resp.body == CONTENT


async def test_if_range_with_current_etag_applies_range(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    full = await get(data_file, http_scope, run_asgi, sent_response)
    etag = full.header("etag")
    resp = await get(
        data_file, http_scope, run_asgi, sent_response, ("range", "bytes=0-1"), ("if-range", etag)
    )
    assert resp.status == 206


@pytest.mark.parametrize("if_range", ['"stale"', 'W/"x"', "Wed, 01 Jan 2000 00:00:00 GMT"])
async def test_if_range_mismatch_sends_whole_file(
    if_range: str, data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    resp = await get(
        data_file,
        http_scope,
        run_asgi,
        sent_response,
        ("range", "bytes=0-1"),
        ("if-range", if_range),
    )
    assert resp.status == 200
    assert resp.body == CONTENT


async def test_if_range_with_last_modified(
    data_file: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    full = await get(data_file, http_scope, run_asgi, sent_response)
    resp = await get(
        data_file,
        http_scope,
        run_asgi,
        sent_response,
        ("range", "bytes=0-1"),
        ("if-range", full.header("last-modified")),
    )
    assert resp.status == 206
    assert resp.body == CONTENT[:2]


async def test_empty_file_range_is_unsatisfiable(
    tmp_path: Path, http_scope: Any, run_asgi: Any, sent_response: Any
) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    resp = await get(path, http_scope, run_asgi, sent_response, ("range", "bytes=0-"))
    assert resp.status == 416
    assert resp.header("content-range") == "bytes */0"


def test_parse_range_bounded_split() -> None:
    # 101 ranges with max_ranges=100: ignored without parsing the rest.
    header = "bytes=" + ",".join(["0-1"] * 101)
    assert parse_range(header, 10, max_ranges=100).outcome == "full"
    assert parse_range(header, 10, max_ranges=200).outcome == "partial"


def test_starlettes_range_exception_names_carry_their_arguments() -> None:
    from flagstone_requests import MalformedRangeHeader, RangeNotSatisfiable

    assert MalformedRangeHeader().content == "Malformed range header."
    assert MalformedRangeHeader("bytes=x").content == "bytes=x"
    assert RangeNotSatisfiable(1024).max_size == 1024
    with pytest.raises(Exception, match="1024"):
        raise RangeNotSatisfiable(1024)
