"""Shared fixtures: both anyio backends, a served tree with hostile neighbours, an ASGI driver.

Test modules cannot import each other (pytest --import-mode=importlib), so
helpers are handed out through fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flagstone_contract import ASGIApp, Message, Scope

SECRET = "TOP-SECRET-CONTENT-7f3a"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass(frozen=True)
class Tree:
    """`root/static` is served; `root/secret.txt` and `root/static-secret/` must never be."""

    root: Path
    static: Path


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "docs").mkdir()
    (static / "empty-dir").mkdir()
    (static / "app.js").write_text("console.log('app');\n")
    (static / "css" / "site.css").write_text("body { color: black; }\n")
    (static / "docs" / "index.html").write_text("<h1>docs</h1>")
    (static / "index.html").write_text("<h1>home</h1>")
    (static / "404.html").write_text("<h1>custom not found</h1>")
    (tmp_path / "secret.txt").write_text(SECRET)
    # A sibling directory whose name starts with the served one: the string-
    # prefix confusion of CVE-2023-29159.
    (tmp_path / "static-secret").mkdir()
    (tmp_path / "static-secret" / "x.txt").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", static / "link-out")
    os.symlink(tmp_path / "static-secret" / "x.txt", static / "link-prefix")
    os.symlink(static / "app.js", static / "link-in")
    os.symlink(tmp_path, static / "dir-out")
    return Tree(tmp_path, static)


def http_scope(
    path: str,
    *,
    method: str = "GET",
    headers: Iterable[tuple[str, str]] = (),
    root_path: str = "",
    query_string: bytes = b"",
    **extra: Any,
) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    scope.update(extra)
    return scope


@dataclass
class Reply:
    """What the app sent: status, headers (lower-case names), body, and every message."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    messages: list[Message] = field(default_factory=list)
    complete: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def call(
    app: ASGIApp, path: str, *, on_send: Callable[[Message], None] | None = None, **kw: Any
) -> Reply:
    """Drive `app` with one request; a real server's channel, recorded."""
    reply = Reply()
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Like a server: the client stays until the response is over.
        import anyio

        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        reply.messages.append(message)
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")
            reply.complete = not message.get("more_body", False)
        if on_send is not None:
            on_send(message)

    await app(http_scope(path, **kw), receive, send)
    return reply


@pytest.fixture
def get() -> Callable[..., Any]:
    """`await get(app, "/path", method=..., headers=[...])` -> Reply."""
    return call


@pytest.fixture
def make_scope() -> Callable[..., Scope]:
    return http_scope


@pytest.fixture
def secret() -> str:
    return SECRET
