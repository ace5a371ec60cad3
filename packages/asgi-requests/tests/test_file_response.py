"""FileResponse: whole files, HEAD, pathsend, conditional GET and failures."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import pytest

from flagstone_requests import FileResponse

pytestmark = pytest.mark.anyio

CONTENT = b"0123456789" * 10_000  # 100,000 bytes: several chunks


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.txt"
    path.write_bytes(CONTENT)
    return path


async def test_sends_whole_file_in_chunks(data_file, http_scope, run_asgi, sent_response) -> None:
    resp = sent_response((await run_asgi(FileResponse(data_file), http_scope())).sent)
    assert resp.status == 200
    assert resp.body == CONTENT
    assert resp.header("content-length") == str(len(CONTENT))
    assert resp.header("content-type") == "text/plain; charset=utf-8"
    assert resp.header("accept-ranges") == "bytes"
    assert resp.header("etag").startswith('"')
    assert resp.header("last-modified").endswith("GMT")
    assert len(resp.body_messages) == 2  # 64 KiB + the rest
    assert resp.body_messages[-1]["more_body"] is False


async def test_validators_follow_each_version_of_the_file(
    data_file, http_scope, run_asgi, sent_response
) -> None:
    """Same file, same validators; a new mtime or size, new ones (they are cached per version)."""

    async def validators() -> tuple[str | None, ...]:
        resp = sent_response((await run_asgi(FileResponse(data_file), http_scope())).sent)
        return resp.header("etag"), resp.header("last-modified"), resp.header("content-length")

    first = await validators()
    assert await validators() == first
    os.utime(data_file, (1_000_000_000, 1_000_000_000))
    touched = await validators()
    assert touched[0] != first[0]
    assert touched[1] == formatdate(1_000_000_000, usegmt=True)
    data_file.write_bytes(CONTENT + b"!")
    os.utime(data_file, (1_000_000_000, 1_000_000_000))
    grown = await validators()
    assert grown[0] not in (first[0], touched[0])
    assert grown[2] == str(len(CONTENT) + 1)


async def test_head_sends_no_body(data_file, http_scope, run_asgi, sent_response) -> None:
    resp = sent_response((await run_asgi(FileResponse(data_file), http_scope(method="HEAD"))).sent)
    assert resp.body == b""
    assert resp.header("content-length") == str(len(CONTENT))


async def test_pathsend_when_server_offers_it(data_file, http_scope, run_asgi) -> None:
    scope = http_scope(extensions={"http.response.pathsend": {}})
    chan = await run_asgi(FileResponse(data_file), scope)
    assert [m["type"] for m in chan.sent] == ["http.response.start", "http.response.pathsend"]
    assert chan.sent[1]["path"] == str(data_file.absolute())


async def test_no_pathsend_for_head(data_file, http_scope, run_asgi) -> None:
    scope = http_scope(method="HEAD", extensions={"http.response.pathsend": {}})
    chan = await run_asgi(FileResponse(data_file), scope)
    assert chan.sent[1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_missing_file_fails_before_anything_is_sent(tmp_path, http_scope, run_asgi) -> None:
    missing = tmp_path / "nope.txt"
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    with pytest.raises(RuntimeError, match=r"nope\.txt does not exist"):
        await FileResponse(missing)(http_scope(), receive, send)
    assert sent == []


async def test_directory_is_not_a_file(tmp_path, http_scope, run_asgi) -> None:
    with pytest.raises(RuntimeError, match="is not a file"):
        await run_asgi(FileResponse(tmp_path), http_scope())


def test_content_disposition_plain_and_extended(data_file) -> None:
    plain = FileResponse(data_file, filename="report.txt")
    assert plain.headers["content-disposition"] == 'attachment; filename="report.txt"'
    fancy = FileResponse(data_file, filename='naïve "q".txt', content_disposition_type="inline")
    assert fancy.headers["content-disposition"] == (
        "inline; filename*=utf-8''na%C3%AFve%20%22q%22.txt"
    )


def test_media_type_guessed_from_filename(data_file) -> None:
    assert FileResponse(data_file, filename="x.json").media_type == "application/json"
    assert FileResponse(Path("/no/such.unknownext")).media_type == "application/octet-stream"


def test_stat_result_sets_headers_up_front(data_file) -> None:
    response = FileResponse(data_file, stat_result=os.stat(data_file))
    assert response.headers["content-length"] == str(len(CONTENT))
    assert "etag" in response.headers
    assert "last-modified" in response.headers


async def test_etag_is_stable(data_file, http_scope, run_asgi, sent_response) -> None:
    first = sent_response((await run_asgi(FileResponse(data_file), http_scope())).sent)
    given = FileResponse(data_file, stat_result=os.stat(data_file))
    assert first.header("etag") == given.headers["etag"]


# --- conditional GET -----------------------------------------------------------------


async def _etag_and_date(data_file, http_scope, run_asgi, sent_response) -> tuple[str, str]:
    resp = sent_response((await run_asgi(FileResponse(data_file), http_scope())).sent)
    return resp.header("etag"), resp.header("last-modified")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_if_none_match_gives_304(
    method, data_file, http_scope, run_asgi, sent_response
) -> None:
    etag, _ = await _etag_and_date(data_file, http_scope, run_asgi, sent_response)
    scope = http_scope(method=method, headers=[("if-none-match", f'"zzz", W/{etag}')])
    resp = sent_response((await run_asgi(FileResponse(data_file), scope)).sent)
    assert resp.status == 304
    assert resp.body == b""
    assert resp.header("etag") == etag
    assert resp.header("content-length") is None


async def test_if_none_match_star(data_file, http_scope, run_asgi, sent_response) -> None:
    scope = http_scope(headers=[("if-none-match", "*")])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == 304


async def test_if_none_match_other_tag_sends_file(
    data_file, http_scope, run_asgi, sent_response
) -> None:
    scope = http_scope(headers=[("if-none-match", '"other"')])
    resp = sent_response((await run_asgi(FileResponse(data_file), scope)).sent)
    assert resp.status == 200
    assert resp.body == CONTENT


async def test_if_modified_since(data_file, http_scope, run_asgi, sent_response) -> None:
    _, last_modified = await _etag_and_date(data_file, http_scope, run_asgi, sent_response)
    scope = http_scope(headers=[("if-modified-since", last_modified)])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == 304
    older = formatdate(os.stat(data_file).st_mtime - 3600, usegmt=True)
    scope = http_scope(headers=[("if-modified-since", older)])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == 200


@pytest.mark.parametrize(
    ("since", "status"),
    [
        pytest.param("echo", 304, id="our-own-date-echoed-fast-path"),
        pytest.param(+3600, 304, id="a-later-date-parsed"),
        pytest.param(-3600, 200, id="an-earlier-date-parsed"),
    ],
)
async def test_if_modified_since_echoed_or_parsed(
    since, status, data_file, http_scope, run_asgi, sent_response
) -> None:
    mtime = os.stat(data_file).st_mtime
    value = formatdate(mtime if since == "echo" else mtime + since, usegmt=True)
    scope = http_scope(headers=[("if-modified-since", value)])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == status


async def test_echoed_last_modified_that_is_no_date_is_ignored(
    data_file, http_scope, run_asgi, sent_response
) -> None:
    # The app set a Last-Modified that is not a date; the client echoes it.
    # RFC 9110 ignores a condition on an invalid date: the file is sent.
    response = FileResponse(data_file, headers={"last-modified": "yesterday-ish"})
    scope = http_scope(headers=[("if-modified-since", "yesterday-ish")])
    resp = sent_response((await run_asgi(response, scope)).sent)
    assert resp.status == 200
    assert resp.body == CONTENT


async def test_if_none_match_wins_over_if_modified_since(
    data_file, http_scope, run_asgi, sent_response
) -> None:
    _, last_modified = await _etag_and_date(data_file, http_scope, run_asgi, sent_response)
    scope = http_scope(headers=[("if-none-match", '"other"'), ("if-modified-since", last_modified)])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == 200


# RFC 9110: an invalid conditional header is ignored, never an error.
UNPARSEABLE_DATES = {
    "garbage": "garbage",
    "empty": "",
    "bad_day_and_month": "Mon, 99 Foo 2020",
    "huge_year_overflow": "Mon, 01 Jan 99999999999 00:00:00 GMT",
    "offset_of_days": "Mon, 01 Jan 2020 00:00:00 +9999",
    "offset_of_years": "Mon, 01 Jan 2020 00:00:00 +99999999999",
    "hour_99": "01 Jan 2020 99:99:99 GMT",
    "no_time_zone": "Mon, 01 Jan 2020 00:00:00",
    "nul_byte": "Mon, 01 Jan 2020\x00 00:00:00 GMT",
}
CONDITIONAL_HEADERS = ["if-modified-since", "if-unmodified-since", "if-range"]


@pytest.mark.parametrize("header", CONDITIONAL_HEADERS)
@pytest.mark.parametrize("value", UNPARSEABLE_DATES.values(), ids=UNPARSEABLE_DATES.keys())
async def test_unparseable_conditional_date_is_ignored(
    header, value, data_file, http_scope, run_asgi, sent_response
) -> None:
    headers = (
        [(header, value), ("range", "bytes=0-9")] if header == "if-range" else [(header, value)]
    )
    scope = http_scope(headers=headers)
    resp = sent_response((await run_asgi(FileResponse(data_file), scope)).sent)
    assert resp.status == 200
    assert resp.body == CONTENT


@pytest.mark.parametrize("header", ["if-none-match", "if-match"])
@pytest.mark.parametrize("value", ["", ",,,", "W/", '"unterminated', "\x00\xff", 'W/W/W/"x"'])
async def test_odd_entity_tag_lists_are_treated_as_no_match(
    header, value, data_file, http_scope, run_asgi, sent_response
) -> None:
    scope = http_scope(headers=[(header, value)])
    resp = sent_response((await run_asgi(FileResponse(data_file), scope)).sent)
    assert resp.status == 200


@pytest.mark.parametrize("method", ["head", "Head", "HEAD"])
async def test_head_is_recognised_in_any_case(
    method, data_file, http_scope, run_asgi, sent_response
) -> None:
    chan = await run_asgi(FileResponse(data_file), http_scope(method=method))
    resp = sent_response(chan.sent)
    assert resp.body == b""
    assert resp.header("content-length") == str(len(CONTENT))
    assert chan.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


@pytest.mark.parametrize("method", ["get", "Get"])
async def test_range_honoured_for_lower_case_get(
    method, data_file, http_scope, run_asgi, sent_response
) -> None:
    scope = http_scope(method=method, headers=[("range", "bytes=0-9")])
    resp = sent_response((await run_asgi(FileResponse(data_file), scope)).sent)
    assert resp.status == 206
    assert resp.body == CONTENT[:10]


async def test_head_range_ends_with_more_body_false(data_file, http_scope, run_asgi) -> None:
    scope = http_scope(method="head", headers=[("range", "bytes=0-9")])
    chan = await run_asgi(FileResponse(data_file), scope)
    assert chan.sent[0]["status"] == 206
    assert chan.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_no_304_for_post_or_non_200(data_file, http_scope, run_asgi, sent_response) -> None:
    scope = http_scope(method="POST", headers=[("if-none-match", "*")])
    assert sent_response((await run_asgi(FileResponse(data_file), scope)).sent).status == 200
    scope = http_scope(headers=[("if-none-match", "*")])
    resp = sent_response((await run_asgi(FileResponse(data_file, status_code=404), scope)).sent)
    assert resp.status == 404


# --- disconnects and background ----------------------------------------------------------


async def test_disconnect_stops_file_transfer(data_file, http_scope) -> None:
    sent: list[Any] = []
    first_chunk = anyio.Event()

    async def receive() -> Any:
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_chunk.set()
            await anyio.sleep_forever()  # a slow client: the disconnect must win

    response = FileResponse(data_file)
    response.chunk_size = 1000
    with anyio.fail_after(5):
        await response(http_scope(), receive, send)
    assert len([m for m in sent if m["type"] == "http.response.body"]) == 1


async def test_background_runs_after_file(data_file, http_scope, run_asgi) -> None:
    ran: list[str] = []

    async def task() -> None:
        ran.append("done")

    await run_asgi(FileResponse(data_file, background=task), http_scope())
    assert ran == ["done"]


async def test_file_as_websocket_denial(data_file, ws_scope, run_asgi) -> None:
    chan = await run_asgi(FileResponse(data_file, status_code=403), ws_scope(), messages=[])
    assert chan.sent[0]["type"] == "websocket.http.response.start"
    assert b"".join(m.get("body", b"") for m in chan.sent[1:]) == CONTENT


async def test_file_response_with_stat_result_sends_that_many_bytes(
    tmp_path, http_scope, run_asgi, sent_response
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdef")
    stat_result = os.stat(path)
    path.write_bytes(b"abcdefghij")  # grew after the stat: headers say 6 bytes
    resp = sent_response(
        (await run_asgi(FileResponse(path, stat_result=stat_result), http_scope())).sent
    )
    assert resp.header("content-length") == "6"
    assert resp.body == b"abcdef"


# --- set_content: a file already read along with its stat ----------------------------


async def test_set_content_sends_those_bytes_without_opening_the_file(
    tmp_path, http_scope, run_asgi, sent_response
) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"hello, file")
    response = FileResponse(path, stat_result=os.stat(path))
    response.set_content(b"hello, file")
    path.unlink()  # never opened: the bytes given are sent
    resp = sent_response((await run_asgi(response, http_scope())).sent)
    assert resp.status == 200
    assert resp.body == b"hello, file"
    assert resp.header("content-length") == "11"


@pytest.mark.parametrize(
    ("method", "headers", "status", "body"),
    [
        ("GET", [("range", "bytes=7-10")], 206, b"file"),
        ("HEAD", [], 200, b""),
        ("GET", [("if-none-match", "*")], 304, b""),
    ],
)
async def test_set_content_keeps_ranges_head_and_304(
    tmp_path, http_scope, run_asgi, sent_response, method, headers, status, body
) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"hello, file")
    response = FileResponse(path, stat_result=os.stat(path))
    response.set_content(b"hello, file")
    resp = sent_response(
        (await run_asgi(response, http_scope(method=method, headers=headers))).sent
    )
    assert resp.status == status
    assert resp.body == body


@pytest.mark.parametrize(
    ("with_stat", "content"),
    [(False, b"hello, file"), (True, b"hello"), (True, b"hello, file!")],
    ids=["no-stat-result", "shorter", "longer"],
)
def test_set_content_refuses_bytes_the_stat_does_not_describe(
    tmp_path, with_stat: bool, content: bytes
) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"hello, file")
    response = FileResponse(path, stat_result=os.stat(path) if with_stat else None)
    with pytest.raises(ValueError, match="stat_result"):
        response.set_content(content)


@pytest.mark.parametrize("with_stat", [True, False], ids=["stat-given", "stat-read"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("if-none-match", "*")], 304),
        ([("if-none-match", '"other"')], 200),
        ([("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")], 200),
        ([("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")], 304),
    ],
)
async def test_conditions_decided_the_same_with_or_without_a_given_stat(
    data_file, http_scope, run_asgi, sent_response, with_stat, headers, status
) -> None:
    response = FileResponse(data_file, stat_result=os.stat(data_file) if with_stat else None)
    resp = sent_response((await run_asgi(response, http_scope(headers=headers))).sent)
    assert resp.status == status
    assert resp.body == (CONTENT if status == 200 else b"")


@pytest.mark.parametrize(
    "headers", [[], [("range", "bytes=0-9,90-199")]], ids=["whole-file", "multipart-ranges"]
)
async def test_a_file_shorter_than_its_stat_result_says_so(
    tmp_path, http_scope, run_asgi, headers
) -> None:
    # The file shrank after it was stat-ed: Starlette's message, same type.
    path = tmp_path / "shrunk.bin"
    path.write_bytes(b"x" * 100)
    grown = os.stat_result((*os.stat(path)[:6], 200, *os.stat(path)[7:]))
    assert grown.st_size == 200
    with pytest.raises(RuntimeError) as info:
        await run_asgi(FileResponse(path, stat_result=grown), http_scope(headers=headers))
    assert str(info.value) == f"File at path {path} is shorter than expected."


@pytest.mark.parametrize(
    ("spec_version", "quiet"), [("2.3", False), ("2.4", True)], ids=["spec-2.3", "spec-2.4"]
)
async def test_an_oserror_from_send_is_a_disconnect_only_from_spec_2_4(
    data_file, http_scope, spec_version: str, quiet: bool
) -> None:
    # Before ASGI 2.4 an OSError from send is the server's error, as in Starlette.
    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise OSError("broken pipe")

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    scope = http_scope(asgi={"version": "3.0", "spec_version": spec_version})
    with anyio.fail_after(5):
        if quiet:
            await FileResponse(data_file)(scope, receive, send)
        else:
            with pytest.raises(OSError) as info:
                await FileResponse(data_file)(scope, receive, send)
            assert str(info.value) == "broken pipe"
