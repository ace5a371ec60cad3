"""StaticFiles behaves like Starlette's: files, HEAD, 304, ranges, html mode, errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest

from flagstone_contract import EXCEPTION_HANDLERS_KEY, HTTPException
from flagstone_staticfiles import StaticFiles

pytestmark = pytest.mark.anyio

Get = Callable[..., Any]


async def test_serves_a_file_with_validators(tree: Any, get: Get) -> None:
    reply = await get(StaticFiles(directory=tree.static), "/app.js")
    assert reply.status == 200
    assert reply.body == b"console.log('app');\n"
    assert reply.headers["content-type"].startswith("text/javascript")
    assert reply.headers["content-length"] == str(len(reply.body))
    assert reply.headers["etag"].startswith('"')
    assert "last-modified" in reply.headers
    assert reply.headers["accept-ranges"] == "bytes"


async def test_nested_path_and_pathlike_directory(tree: Any, get: Get) -> None:
    reply = await get(StaticFiles(directory=Path(tree.static)), "/css/site.css")
    assert reply.status == 200
    assert reply.text == "body { color: black; }\n"


async def test_mounted_below_root_path(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static)
    reply = await get(app, "/assets/css/site.css", root_path="/assets")
    assert reply.status == 200
    assert reply.text.startswith("body")


async def test_head_sends_headers_only(tree: Any, get: Get) -> None:
    reply = await get(StaticFiles(directory=tree.static), "/app.js", method="HEAD")
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["content-length"] == "20"


@pytest.mark.parametrize("header", ["if-none-match", "if-modified-since"])
async def test_conditional_get_is_304(tree: Any, get: Get, header: str) -> None:
    app = StaticFiles(directory=tree.static)
    first = await get(app, "/app.js")
    validator = first.headers["etag" if header == "if-none-match" else "last-modified"]
    reply = await get(app, "/app.js", headers=[(header, validator)])
    assert reply.status == 304
    assert reply.body == b""
    assert reply.headers["etag"] == first.headers["etag"]
    assert "content-length" not in reply.headers


async def test_weak_and_listed_etags_match(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static)
    etag = (await get(app, "/app.js")).headers["etag"]
    reply = await get(app, "/app.js", headers=[("if-none-match", f'"other", W/{etag}')])
    assert reply.status == 304


async def test_changed_file_is_200_again(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static)
    etag = (await get(app, "/app.js")).headers["etag"]
    (tree.static / "app.js").write_text("changed and longer\n")
    reply = await get(app, "/app.js", headers=[("if-none-match", etag)])
    assert reply.status == 200
    assert reply.text == "changed and longer\n"


async def test_range_request_through_file_response(tree: Any, get: Get) -> None:
    reply = await get(
        StaticFiles(directory=tree.static), "/app.js", headers=[("range", "bytes=0-6")]
    )
    assert reply.status == 206
    assert reply.body == b"console"
    assert reply.headers["content-range"] == "bytes 0-6/20"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "QUERY"])
async def test_other_methods_are_405_with_allow(tree: Any, get: Get, method: str) -> None:
    reply = await get(StaticFiles(directory=tree.static), "/app.js", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


async def test_errors_are_raised_for_installed_exception_handlers(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static)
    with pytest.raises(HTTPException) as info:
        await get(app, "/missing.js", **{EXCEPTION_HANDLERS_KEY: {}})
    assert info.value.status_code == 404
    with pytest.raises(HTTPException) as info:
        await get(app, "/app.js", method="POST", **{EXCEPTION_HANDLERS_KEY: {}})
    assert info.value.status_code == 405
    assert info.value.headers == {"Allow": "GET, HEAD"}


@pytest.mark.parametrize("path", ["/missing.js", "/css/missing.css", "/app.js/x"])
async def test_missing_files_are_404(tree: Any, get: Get, path: str) -> None:
    reply = await get(StaticFiles(directory=tree.static), path)
    assert reply.status == 404
    assert reply.text == "Not Found"


@pytest.mark.parametrize("path", ["/", "/css", "/css/", "/empty-dir/", "/docs"])
async def test_a_directory_is_never_listed(tree: Any, get: Get, path: str) -> None:
    reply = await get(StaticFiles(directory=tree.static), path)
    assert reply.status == 404
    assert b"site.css" not in reply.body


async def test_html_serves_index_files(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static, html=True)
    assert (await get(app, "/")).text == "<h1>home</h1>"
    docs = await get(app, "/docs/")
    assert docs.status == 200
    assert docs.text == "<h1>docs</h1>"
    assert docs.headers["content-type"] == "text/html; charset=utf-8"


async def test_html_redirects_a_directory_without_its_slash(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static, html=True)
    reply = await get(app, "/static/docs", root_path="/static", query_string=b"a=1")
    assert reply.status == 307
    assert reply.headers["location"] == "/static/docs/?a=1"


async def test_html_slash_redirect_cannot_leave_the_host(tree: Any, get: Get) -> None:
    (tree.static / "evil.example").mkdir()
    (tree.static / "evil.example" / "index.html").write_text("x")
    reply = await get(StaticFiles(directory=tree.static, html=True), "//evil.example")
    assert reply.status == 307
    assert not reply.headers["location"].startswith("//")
    assert reply.headers["location"] == "/%2Fevil.example/"


async def test_html_serves_404_page_for_misses(tree: Any, get: Get) -> None:
    app = StaticFiles(directory=tree.static, html=True)
    reply = await get(app, "/nope")
    assert reply.status == 404
    assert reply.text == "<h1>custom not found</h1>"
    empty = await get(app, "/empty-dir/")
    assert empty.status == 404
    assert empty.text == "<h1>custom not found</h1>"


async def test_html_without_404_page_is_plain_404(tmp_path: Path, get: Get) -> None:
    (tmp_path / "index.html").write_text("i")
    reply = await get(StaticFiles(directory=tmp_path, html=True), "/nope")
    assert reply.status == 404
    assert reply.text == "Not Found"


async def test_websocket_scope_is_refused(tree: Any, make_scope: Any) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = make_scope("/app.js")
    scope["type"] = "websocket"
    await StaticFiles(directory=tree.static)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Not Found"}]


def test_missing_directory_is_a_clear_error_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RuntimeError) as info:
        StaticFiles(directory=missing)
    assert str(info.value) == f"Directory '{missing}' does not exist"  # Starlette's text
    assert any("check_dir=False" in note for note in info.value.__notes__)


async def test_check_dir_false_defers_the_error_to_the_first_request(
    tmp_path: Path, get: Get
) -> None:
    app = StaticFiles(directory=tmp_path / "later", check_dir=False)
    with pytest.raises(RuntimeError, match=r"StaticFiles directory '.*later' does not exist\."):
        await get(app, "/x")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "x").write_text("now")
    assert (await get(app, "/x")).text == "now"


async def test_a_file_as_directory_is_refused_at_first_request(tmp_path: Path, get: Get) -> None:
    (tmp_path / "f").write_text("x")
    app = StaticFiles(directory=tmp_path / "f", check_dir=False)
    with pytest.raises(RuntimeError, match="is not a directory"):
        await get(app, "/x")


@pytest.fixture
def package_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pkg = tmp_path / "site-packages" / "flagstone_sf_demo_pkg"
    (pkg / "statics").mkdir(parents=True)
    (pkg / "assets").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "statics" / "a.txt").write_text("from statics")
    (pkg / "assets" / "b.txt").write_text("from assets")
    monkeypatch.syspath_prepend(str(tmp_path / "site-packages"))
    yield pkg
    sys.modules.pop("flagstone_sf_demo_pkg", None)


async def test_packages_and_package_tuples(package_dir: Path, tree: Any, get: Get) -> None:
    app = StaticFiles(
        directory=tree.static,
        packages=["flagstone_sf_demo_pkg", ("flagstone_sf_demo_pkg", "assets")],
    )
    assert len(app.all_directories) == 3
    assert (await get(app, "/a.txt")).text == "from statics"
    assert (await get(app, "/b.txt")).text == "from assets"
    assert (await get(app, "/app.js")).status == 200


@pytest.mark.parametrize(
    ("packages", "message"),
    [
        pytest.param(["flagstone_no_such_pkg"], "Package 'flagstone_no_such_pkg' could not be found.",
                     id="missing-package"),
        pytest.param([("flagstone_sf_demo_pkg", "nope")],
                     "Directory ''nope'' in package 'flagstone_sf_demo_pkg' could not be found.",
                     id="missing-folder"),
    ],
)  # fmt: skip
def test_bad_packages_are_clear_errors(
    package_dir: Path, packages: list[Any], message: str
) -> None:
    # Starlette raises AssertionError here, with these exact texts; ours is a
    # RuntimeError that is one too.
    with pytest.raises(AssertionError) as info:
        StaticFiles(packages=packages)
    assert str(info.value) == message
    with pytest.raises(RuntimeError):
        StaticFiles(packages=packages)


async def test_directories_are_searched_in_order(tmp_path: Path, get: Get) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "x.txt").write_text("second")

    class Two(StaticFiles):
        def __init__(self) -> None:  # no super().__init__: the subclassing contract
            self.directory = None
            self.all_directories = [first, second]
            self.html = False
            self.config_checked = False

    assert (await get(Two(), "/x.txt")).text == "second"
    (first / "x.txt").write_text("first")
    assert (await get(Two(), "/x.txt")).text == "first"


async def test_subclass_can_override_get_response_for_spa_fallback(tree: Any, get: Get) -> None:
    class SPA(StaticFiles):
        async def get_response(self, path: str, scope: Any) -> Any:
            try:
                return await super().get_response(path, scope)
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
                return await super().get_response("index.html", scope)

    reply = await get(SPA(directory=tree.static), "/client/route")
    assert reply.text == "<h1>home</h1>"


async def test_subclass_lookup_path_may_call_back_into_the_event_loop(tree: Any, get: Get) -> None:
    # Starlette runs lookup_path in anyio's worker thread, so an override may
    # use anyio.from_thread; flagstone's lighter hop would not allow that.
    calls: list[str] = []

    class Audited(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            anyio.from_thread.run_sync(calls.append, path)
            return super().lookup_path(path)

    reply = await get(Audited(directory=tree.static), "/app.js")
    assert reply.status == 200
    assert reply.body == b"console.log('app');\n"
    assert calls == ["app.js"]


class _Racy(StaticFiles):
    def file_response(
        self, full_path: Any, stat_result: Any, scope: Any, status_code: int = 200
    ) -> Any:
        os.unlink(full_path)  # the file goes away after it was found
        return super().file_response(full_path, stat_result, scope, status_code)


async def test_file_deleted_between_lookup_and_open_is_404(tree: Any, get: Get) -> None:
    # Past 64 KiB the file is opened after the lookup, in a hop of its own.
    (tree.static / "big.bin").write_bytes(b"x" * (64 * 1024 + 1))
    reply = await get(_Racy(directory=tree.static), "/big.bin")
    assert reply.status == 404


async def test_small_file_is_read_in_the_lookup(tree: Any, get: Get) -> None:
    # Up to 64 KiB the lookup reads the file in the same worker-thread call:
    # deleted afterwards, it is still served whole, as it was when found.
    reply = await get(_Racy(directory=tree.static), "/app.js")
    assert reply.status == 200
    assert reply.body == b"console.log('app');\n"
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("HEAD", []),
        ("GET", [("range", "bytes=0-3")]),
        ("GET", [("if-none-match", '"other"')]),
        ("GET", [("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")]),
    ],
)
async def test_partial_or_conditional_requests_open_the_file_themselves(
    tree: Any, get: Get, method: str, headers: list[tuple[str, str]]
) -> None:
    # Not read in the lookup: a deleted file is then a 404 (GET) or never
    # opened at all (HEAD), as before.
    reply = await get(_Racy(directory=tree.static), "/app.js", method=method, headers=headers)
    assert reply.status == (200 if method == "HEAD" else 404)


async def test_file_changed_between_stat_and_read_is_not_read_in_the_lookup(
    tree: Any, get: Get
) -> None:
    class Growing(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            found = super().lookup_path(path)
            (tree.static / "app.js").write_text("console.log('app, version 2');\n")
            return found

    reply = await get(Growing(directory=tree.static), "/app.js")
    # The headers describe the stat; the bytes sent match them (FileResponse
    # sends as many as the stat promised), never a mix of two versions'
    # validators and body lengths.
    assert reply.headers["content-length"] == str(len(reply.body))
    assert reply.body == b"console.log('app, version 2');\n"[: len(reply.body)]


async def test_file_truncated_while_sent_ends_without_extra_bytes(
    tree: Any, get: Get, caplog: pytest.LogCaptureFixture
) -> None:
    big = tree.static / "big.bin"
    big.write_bytes(b"x" * (200 * 1024))

    def shrink(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            with open(big, "r+b") as handle:
                handle.truncate(1000)

    reply = await get(StaticFiles(directory=tree.static), "/big.bin", on_send=shrink)
    assert reply.status == 200
    assert reply.headers["content-length"] == str(200 * 1024)
    assert not reply.complete  # no final body: the server closes the connection
    assert reply.body == b"x" * 1000
    assert "changed while it was being sent" in caplog.text


async def test_file_growing_while_sent_sends_only_the_promised_bytes(tree: Any, get: Get) -> None:
    big = tree.static / "grow.bin"
    big.write_bytes(b"a" * (100 * 1024))

    def grow(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            with open(big, "ab") as handle:
                handle.write(b"b" * 5000)

    reply = await get(StaticFiles(directory=tree.static), "/grow.bin", on_send=grow)
    assert reply.complete
    assert reply.body == b"a" * (100 * 1024)
