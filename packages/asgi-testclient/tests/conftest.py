"""Shared fixtures: both anyio backends, and client factories bound to the backend."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from flagstone_testclient import AsyncTestClient, TestClient


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(anyio_backend: str) -> Callable[..., TestClient]:
    """TestClient factory whose portal runs on the current anyio backend."""
    return partial(TestClient, backend=anyio_backend)  # type: ignore[arg-type]


@pytest.fixture
def make_async_client() -> Callable[..., AsyncTestClient]:
    return AsyncTestClient


class Recorder:
    """Collects what an app saw, for assertions after the request."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.events: list[str] = []


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
