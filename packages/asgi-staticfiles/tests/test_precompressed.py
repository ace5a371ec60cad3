"""Precompressed siblings (`.br`, `.zst`, `.gz`) and the Cache-Control policy."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from flagstone_staticfiles import StaticFiles, immutable_if_fingerprinted

pytestmark = pytest.mark.anyio


@pytest.fixture
def compressed(tree: Any) -> Any:
    source = (tree.static / "app.js").read_bytes()
    (tree.static / "app.js.gz").write_bytes(gzip.compress(source))
    (tree.static / "app.js.br").write_bytes(b"BROTLI-BYTES")
    (tree.static / "app.js.zst").write_bytes(b"ZSTD-BYTES")
    return tree


@pytest.mark.parametrize(
    ("accept", "encoding", "body"),
    [
        pytest.param("gzip, deflate, br, zstd", "br", b"BROTLI-BYTES", id="browser-prefers-br"),
        pytest.param("gzip", "gzip", None, id="gzip-only"),
        pytest.param("x-gzip", "gzip", None, id="x-gzip-alias"),
        pytest.param("zstd, gzip;q=0.5", "zstd", b"ZSTD-BYTES", id="zstd"),
        pytest.param("br;q=0.1, gzip;q=0.9", "gzip", None, id="q-values-win"),
        pytest.param("*", "br", b"BROTLI-BYTES", id="star"),
        pytest.param("*, br;q=0", "zstd", b"ZSTD-BYTES", id="star-minus-br"),
        pytest.param("BR", "br", b"BROTLI-BYTES", id="case-insensitive"),
    ],
)
async def test_accepted_sibling_is_served(
    compressed: Any, get: Any, accept: str, encoding: str, body: bytes | None
) -> None:
    app = StaticFiles(directory=compressed.static, precompressed=True)
    reply = await get(app, "/app.js", headers=[("accept-encoding", accept)])
    assert reply.status == 200
    assert reply.headers["content-encoding"] == encoding
    assert reply.headers["content-type"].startswith("text/javascript")
    assert reply.headers["vary"] == "Accept-Encoding"
    if body is None:
        assert gzip.decompress(reply.body) == b"console.log('app');\n"
    else:
        assert reply.body == body
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty"),
        pytest.param("identity", id="identity"),
        pytest.param("deflate", id="unknown-coding"),
        pytest.param("gzip;q=0, br;q=0, zstd;q=0", id="all-refused"),
        pytest.param("gzip;q=abc", id="malformed-q"),
        pytest.param("gzip;q=2", id="out-of-range-q"),
    ],
)
async def test_original_is_served_otherwise_still_with_vary(
    compressed: Any, get: Any, accept: str | None
) -> None:
    app = StaticFiles(directory=compressed.static, precompressed=True)
    headers = [] if accept is None else [("accept-encoding", accept)]
    reply = await get(app, "/app.js", headers=headers)
    assert reply.body == b"console.log('app');\n"
    assert "content-encoding" not in reply.headers
    assert reply.headers["vary"] == "Accept-Encoding"


async def test_only_the_codings_asked_for(compressed: Any, get: Any) -> None:
    app = StaticFiles(directory=compressed.static, precompressed=("gzip",))
    reply = await get(app, "/app.js", headers=[("accept-encoding", "br, gzip")])
    assert reply.headers["content-encoding"] == "gzip"


async def test_off_by_default(compressed: Any, get: Any) -> None:
    reply = await get(
        StaticFiles(directory=compressed.static), "/app.js", headers=[("accept-encoding", "br")]
    )
    assert "content-encoding" not in reply.headers
    assert "vary" not in reply.headers


async def test_missing_sibling_falls_back(tree: Any, get: Any) -> None:
    app = StaticFiles(directory=tree.static, precompressed=True)
    reply = await get(app, "/css/site.css", headers=[("accept-encoding", "br, gzip")])
    assert reply.text == "body { color: black; }\n"
    assert "content-encoding" not in reply.headers


async def test_sibling_validators_differ_and_304_works(compressed: Any, get: Any) -> None:
    app = StaticFiles(directory=compressed.static, precompressed=True)
    plain = await get(app, "/app.js")
    br = await get(app, "/app.js", headers=[("accept-encoding", "br")])
    assert plain.headers["etag"] != br.headers["etag"]
    again = await get(
        app, "/app.js", headers=[("accept-encoding", "br"), ("if-none-match", br.headers["etag"])]
    )
    assert again.status == 304
    assert again.headers["vary"] == "Accept-Encoding"


async def test_a_sibling_symlinked_outside_is_not_served(tree: Any, get: Any, secret: str) -> None:
    import os

    os.symlink(tree.root / "secret.txt", tree.static / "app.js.br")
    app = StaticFiles(directory=tree.static, precompressed=True)
    reply = await get(app, "/app.js", headers=[("accept-encoding", "br")])
    assert reply.text == "console.log('app');\n"
    assert secret.encode() not in reply.body


@pytest.mark.parametrize("bad", [["deflate"], "gzip", ["gzip", "lzma"]])
def test_unknown_codings_are_rejected(tree: Any, bad: Any) -> None:
    with pytest.raises(ValueError, match="precompressed must be"):
        StaticFiles(directory=tree.static, precompressed=bad)


async def test_cache_control_string(tree: Any, get: Any) -> None:
    app = StaticFiles(directory=tree.static, cache_control="public, max-age=60")
    reply = await get(app, "/app.js")
    assert reply.headers["cache-control"] == "public, max-age=60"
    etag = reply.headers["etag"]
    not_modified = await get(app, "/app.js", headers=[("if-none-match", etag)])
    assert not_modified.status == 304
    assert not_modified.headers["cache-control"] == "public, max-age=60"


async def test_cache_control_callable_gets_the_relative_path(tree: Any, get: Any) -> None:
    seen: list[str] = []

    def policy(path: str) -> str | None:
        seen.append(path)
        return None if path.endswith(".css") else "max-age=5"

    app = StaticFiles(directory=tree.static, cache_control=policy)
    assert (await get(app, "/app.js")).headers["cache-control"] == "max-age=5"
    assert "cache-control" not in (await get(app, "/css/site.css")).headers
    assert seen == ["app.js", "css/site.css"]


async def test_cache_policy_sees_the_original_name_for_siblings(compressed: Any, get: Any) -> None:
    seen: list[str] = []
    app = StaticFiles(
        directory=compressed.static,
        precompressed=True,
        cache_control=lambda path: seen.append(path) or None,
    )
    await get(app, "/app.js", headers=[("accept-encoding", "br")])
    assert seen == ["app.js"]


@pytest.mark.parametrize(
    ("path", "fingerprinted"),
    [
        ("app.3f9a2b1c.js", True),
        ("assets/index-BXk3f9a2.css", True),
        ("chunk.4f2e9a71c0.min.css", True),
        ("app.js", False),
        ("app-settings.js", False),
        ("jquery-3.7.1.min.js", False),
        ("v2/app.js", False),
        ("deadbeef.js", False),
        ("photo.20240101.jpg", False),
    ],
)
def test_immutable_if_fingerprinted(path: str, fingerprinted: bool) -> None:
    expected = "public, max-age=31536000, immutable" if fingerprinted else "no-cache"
    assert immutable_if_fingerprinted(path) == expected
