"""No request path ever leaves the served directory: in-process, and through uvicorn.

One row per attack.  In-process rows give `scope["path"]` exactly as a
server would after its one percent-decoding; the server rows send raw
request targets over a socket, so the server's own decoding is part of the
test.  Every row must answer 400 or 404 and never carry the secret.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagstone_staticfiles import StaticFiles
from flagstone_staticfiles._paths import contained

# tools/serving.py: the repository's one helper for ports and server processes.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
import serving

HOSTILE_SCOPE_PATHS = [
    pytest.param("/../secret.txt", id="dotdot"),
    pytest.param("/css/../../secret.txt", id="dotdot-nested"),
    pytest.param("/css/../css/../../secret.txt", id="dotdot-zigzag"),
    pytest.param("/../static-secret/x.txt", id="dotdot-prefix-sibling"),
    pytest.param("/..", id="dotdot-alone"),
    pytest.param("/%2e%2e/secret.txt", id="double-encoded-dots-stay-literal"),
    pytest.param("/%252e%252e/secret.txt", id="triple-encoded-dots"),
    pytest.param("/..%2fsecret.txt", id="double-encoded-slash-stays-literal"),
    pytest.param("/..\\secret.txt", id="backslash"),
    pytest.param("/\\..\\secret.txt", id="leading-backslash"),
    pytest.param("/css\\..\\..\\secret.txt", id="backslash-nested"),
    pytest.param("/\\\\attacker\\share\\x", id="unc-path"),
    pytest.param("//etc/passwd", id="absolute-double-slash"),
    pytest.param("/" + "/etc/passwd", id="absolute-posix"),
    pytest.param("/C:/Windows/win.ini", id="drive-letter"),
    pytest.param("/C:\\Windows\\win.ini", id="drive-letter-backslash"),
    pytest.param("/c:secret.txt", id="drive-relative"),
    pytest.param("/app.js::$DATA", id="ntfs-stream"),
    pytest.param("/app.js\x00.png", id="nul-in-name"),
    pytest.param("/\x00", id="nul-alone"),
    pytest.param("/css/\x00/../../secret.txt", id="nul-then-dotdot"),
    pytest.param("/\xc0\xae\xc0\xae/secret.txt", id="overlong-utf8-as-latin1"),
    pytest.param("/%c0%ae%c0%ae/secret.txt", id="overlong-utf8-encoded"),
    pytest.param("/\ufffd\ufffd/secret.txt", id="overlong-utf8-replaced"),
    pytest.param("/\uff0e\uff0e/secret.txt", id="fullwidth-dots"),
    pytest.param("/\u2024\u2024/secret.txt", id="one-dot-leaders"),
    pytest.param("/app.js\r\nx", id="crlf"),
    pytest.param("/link-out", id="symlink-to-file-outside"),
    pytest.param("/link-prefix", id="symlink-to-prefix-sibling"),
    pytest.param("/dir-out/secret.txt", id="symlink-to-dir-outside"),
    pytest.param("/" + "a" * 5000, id="name-too-long"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("path", HOSTILE_SCOPE_PATHS)
@pytest.mark.parametrize("html", [False, True], ids=["plain", "html"])
async def test_hostile_path_in_process(
    tree: Any, get: Any, secret: str, path: str, html: bool
) -> None:
    reply = await get(StaticFiles(directory=tree.static, html=html), path)
    assert reply.status == 404
    assert secret.encode() not in reply.body


@pytest.mark.anyio
@pytest.mark.parametrize("path", HOSTILE_SCOPE_PATHS)
async def test_hostile_path_under_a_mount(tree: Any, get: Any, secret: str, path: str) -> None:
    reply = await get(StaticFiles(directory=tree.static), "/static" + path, root_path="/static")
    assert reply.status == 404
    assert secret.encode() not in reply.body


@pytest.mark.anyio
async def test_lookup_path_refuses_hostile_paths_from_subclasses(tree: Any) -> None:
    app = StaticFiles(directory=tree.static)
    for path in ("../secret.txt", "css/../../secret.txt", "..\\secret.txt", "C:/x", "a\x00"):
        assert app.lookup_path(path) == ("", None), path


def _realpath_lookup(directory: Path, path: str) -> tuple[str, tuple[int, int] | None]:
    """What lookup_path must find: the real path inside the real directory, or nothing."""
    base = os.path.realpath(directory)
    full = os.path.realpath(os.path.join(base, *[p for p in path.split("/") if p]))
    if os.path.commonpath([full, base]) != base:
        return "", None
    try:
        found = os.stat(full)
    except (FileNotFoundError, NotADirectoryError):
        return "", None
    return full, (found.st_ino, found.st_mode)


@pytest.mark.parametrize(
    "path",
    [
        "app.js",  # no link: one lstat per segment
        "css/site.css",
        "",  # the directory itself
        "css",
        "missing.txt",
        "css/missing.css",
        "app.js/child",  # a file used as a directory
        "link-in",  # links: the general resolution
        "link-out",
        "link-prefix",
        "dir-out/secret.txt",
        "dir-out/static/app.js",  # out through a link and back in
        "linked-css/site.css",  # a link in the middle, leading inside
    ],
)
def test_lookup_path_finds_what_realpath_finds(tree: Any, path: str) -> None:
    os.symlink(tree.static / "css", tree.static / "linked-css")
    full, stat_result = StaticFiles(directory=tree.static).lookup_path(path)
    found = None if stat_result is None else (stat_result.st_ino, stat_result.st_mode)
    assert (full, found) == _realpath_lookup(tree.static, path)


def test_lookup_path_resolves_a_symlinked_directory_on_each_call(tmp_path: Path) -> None:
    # A deploy that swaps `current -> release-N` is seen at once.
    for release in ("one", "two"):
        (tmp_path / release).mkdir()
        (tmp_path / release / "v.txt").write_text(release)
    os.symlink(tmp_path / "one", tmp_path / "current")
    app = StaticFiles(directory=tmp_path / "current")
    assert app.lookup_path("v.txt")[0] == os.path.realpath(tmp_path / "one" / "v.txt")
    os.unlink(tmp_path / "current")
    os.symlink(tmp_path / "two", tmp_path / "current")
    assert app.lookup_path("v.txt")[0] == os.path.realpath(tmp_path / "two" / "v.txt")


@pytest.mark.anyio
async def test_symlinks_inside_are_served(tree: Any, get: Any) -> None:
    reply = await get(StaticFiles(directory=tree.static), "/link-in")
    assert reply.status == 200
    assert reply.text == "console.log('app');\n"


@pytest.mark.anyio
async def test_follow_symlink_opts_into_links_leading_outside(
    tree: Any, get: Any, secret: str
) -> None:
    app = StaticFiles(directory=tree.static, follow_symlink=True)
    assert (await get(app, "/link-out")).text == secret
    assert (await get(app, "/dir-out/secret.txt")).text == secret
    # Following symlinks never re-opens plain traversal.
    assert (await get(app, "/../secret.txt")).status == 404


@pytest.mark.anyio
async def test_a_served_directory_that_is_a_symlink_still_works(tree: Any, get: Any) -> None:
    os.symlink(tree.static, tree.root / "static-link")
    reply = await get(StaticFiles(directory=tree.root / "static-link"), "/app.js")
    assert reply.status == 200


# --- the same attacks through a real server ---------------------------------------

RAW_TARGETS = [
    pytest.param("/static/../secret.txt", id="dotdot"),
    pytest.param("/static/css/../../secret.txt", id="dotdot-nested"),
    pytest.param("/static/%2e%2e/secret.txt", id="encoded-dots"),
    pytest.param("/static/%2E%2E/secret.txt", id="encoded-dots-upper"),
    pytest.param("/static/.%2e/secret.txt", id="half-encoded-dots"),
    pytest.param("/static/..%2fsecret.txt", id="encoded-slash"),
    pytest.param("/static/%2e%2e%2fsecret.txt", id="all-encoded"),
    pytest.param("/static/%252e%252e/secret.txt", id="double-encoded"),
    pytest.param("/static/..%5csecret.txt", id="encoded-backslash"),
    pytest.param("/static/..\\secret.txt", id="raw-backslash"),
    pytest.param("/static/%5c..%5csecret.txt", id="encoded-leading-backslash"),
    pytest.param("/static//etc/passwd", id="absolute"),
    pytest.param("/static/%2fetc%2fpasswd", id="encoded-absolute"),
    pytest.param("/static/C:%5cWindows%5cwin.ini", id="drive-letter"),
    pytest.param("/static/C:/Windows/win.ini", id="drive-letter-slash"),
    pytest.param("/static/app.js%00.png", id="encoded-nul"),
    pytest.param("/static/%00", id="nul-alone"),
    pytest.param("/static/%c0%ae%c0%ae/secret.txt", id="overlong-utf8"),
    pytest.param("/static/%c0%af..%c0%afsecret.txt", id="overlong-slash"),
    pytest.param("/static/%ef%bc%8e%ef%bc%8e/secret.txt", id="fullwidth-dots"),
    pytest.param("/static/link-out", id="symlink-out"),
    pytest.param("/static/link-prefix", id="symlink-prefix-sibling"),
    pytest.param("/static/dir-out/secret.txt", id="symlink-dir-out"),
]


def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send `target` byte for byte (no client-side normalisation) and read the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line = data.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    root = tmp_path_factory.mktemp("served")
    static = root / "static"
    (static / "css").mkdir(parents=True)
    (static / "app.js").write_text("console.log('app');\n")
    (root / "secret.txt").write_text("TOP-SECRET-CONTENT-7f3a")
    (root / "static-secret").mkdir()
    (root / "static-secret" / "x.txt").write_text("TOP-SECRET-CONTENT-7f3a")
    os.symlink(root / "secret.txt", static / "link-out")
    os.symlink(root / "static-secret" / "x.txt", static / "link-prefix")
    os.symlink(root, static / "dir-out")
    port = serving.free_port()
    command = [
        sys.executable, "-m", "uvicorn", "static_server_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    served = serving.start(
        "uvicorn",
        command,
        root / "server.log",
        port=port,
        cwd=Path(__file__).resolve().parent,
        env={"FLAGSTONE_SF_DIR": str(static)},
    )
    try:
        served.wait_until(lambda: serving.http_answers(port, "/static/app.js"), "answering")
        yield port, root
    finally:
        served.stop()
    log = served.log_tail(100_000)
    assert "Traceback" not in log, log


def test_server_serves_the_control_file(server: tuple[int, Path]) -> None:
    status, data = _raw_get(server[0], "/static/app.js")
    assert status == 200
    assert data.endswith(b"console.log('app');\n")


@pytest.mark.parametrize("target", RAW_TARGETS)
def test_hostile_target_through_uvicorn(server: tuple[int, Path], target: str) -> None:
    status, data = _raw_get(server[0], target)
    # 400: the server's parser refused the target; 404: StaticFiles did.
    assert status in (400, 404), data[:200]
    assert b"TOP-SECRET" not in data


@pytest.mark.parametrize(
    ("full_path", "directory", "inside"),
    [
        ("/srv/static", "/srv/static", True),
        ("/srv/static/app.js", "/srv/static", True),
        ("/srv/static/css/site.css", "/srv/static", True),
        ("/srv/static-private/x", "/srv/static", False),  # CVE-2023-29159: no string prefix
        ("/srv/staticx", "/srv/static", False),
        ("/srv", "/srv/static", False),
        ("/srv/other/app.js", "/srv/static", False),
        ("/etc/passwd", "/", True),  # serving the root: everything is inside
        ("/", "/", True),
    ],
)
def test_contained_compares_whole_components(full_path: str, directory: str, inside: bool) -> None:
    assert contained(full_path, directory) is inside
    # The same answer as the component comparison it short-cuts.
    assert (os.path.commonpath([full_path, directory]) == directory) is inside
