"""BaseHTTPMiddleware and `requires` need flagstone-requests; without it they say what to install.

The rest of the package imports and works without it (the isolated test run
of this package has no flagstone-requests at all).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from flagstone_middleware import BaseHTTPMiddleware, requires


@pytest.fixture
def no_flagstone_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import flagstone_requests` raise ImportError,
    # exactly as when it is not installed.
    monkeypatch.setitem(sys.modules, "flagstone_requests", None)


async def app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


@pytest.mark.usefixtures("no_flagstone_requests")
def test_base_http_middleware_says_what_to_install() -> None:
    with pytest.raises(ImportError, match=r'pip install "flagstone-middleware\[requests\]"'):
        BaseHTTPMiddleware(app)


@pytest.mark.usefixtures("no_flagstone_requests")
def test_requires_says_what_to_install() -> None:
    with pytest.raises(ImportError, match=r'pip install "flagstone-middleware\[requests\]"'):

        @requires("authenticated")
        async def endpoint(request: Any) -> None: ...


def test_importing_the_package_does_not_import_flagstone_requests() -> None:
    code = "import sys, flagstone_middleware; print('flagstone_requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
