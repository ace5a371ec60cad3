"""Shared fixtures: both anyio backends, a real redis-server and a real PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tools/serving.py starts the real redis-server (shared with the other packages' tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from serving import ServiceMissing, StartFailed, postgres_server, redis_server
from system_deps import require


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A redis-server on a free 127.0.0.1 port for this test session."""
    require("redis-server")
    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as redis:
            yield redis.port
    except (ServiceMissing, StartFailed) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL on a free 127.0.0.1 port for this test session (trust login)."""
    require("initdb")
    try:
        with postgres_server(tmp_path_factory.mktemp("postgres")) as server:
            yield f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    except (ServiceMissing, StartFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
