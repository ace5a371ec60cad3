"""Fixtures for the middleware tests; the helpers live in middleware_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules cannot import each other under --import-mode=importlib; the
# shared helper module is made importable from this directory instead.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
