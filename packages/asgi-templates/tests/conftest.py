"""Shared fixtures: both anyio backends, a template folder, a request over a scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flagstone_contract import ASGIApp, Message, Scope
from flagstone_requests import Request


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    (tmp_path / "hello.html").write_text("Hello {{ name }} at {{ request.url.path }}")
    (tmp_path / "escape.html").write_text("{{ value }}")
    (tmp_path / "user.html").write_text("{{ user }} {{ theme }}")
    (tmp_path / "broken.html").write_text("{{ missing.attr.deeper }}")
    (tmp_path / "syntax.html").write_text("{% if %}")
    return tmp_path


def _scope(path: str = "/page", **extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.org")],
        "client": ("127.0.0.1", 50000),
        "server": ("example.org", 80),
    }
    scope.update(extra)
    return scope


@pytest.fixture
def make_request() -> Callable[..., Request]:
    return lambda path="/page", **extra: Request(_scope(path, **extra))


async def _send_through(app: ASGIApp, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.fixture
def send_through() -> Callable[..., Any]:
    """`await send_through(response, scope)` -> the ASGI messages it sent."""
    return _send_through


@pytest.fixture
def make_scope() -> Callable[..., Scope]:
    return _scope
