"""httpx2 when installed, else httpx, silently; neither installed is an error saying what to do.

CI runs this package's suite twice: in `iso-testclient` (httpx2 and httpx
both installed: httpx2 must win) and in `iso-testclient-httpx` (httpx only).
Each run checks the library it actually has, so both code paths are tested
for real.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import warnings
from types import ModuleType
from typing import Any

import pytest

from flagstone_testclient import AsyncTestClient, TestClient

EXPECTED = "httpx2" if importlib.util.find_spec("httpx2") is not None else "httpx"


def expected_library() -> ModuleType:
    return importlib.import_module(EXPECTED)


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def test_the_sync_client_is_built_on_the_preferred_library() -> None:
    library = expected_library()
    client = TestClient(hello)
    response = client.get("/")
    assert isinstance(client, library.Client)
    assert isinstance(response, library.Response)
    assert response.text == "hello"


@pytest.mark.anyio
async def test_the_async_client_is_built_on_the_preferred_library() -> None:
    library = expected_library()
    client = AsyncTestClient(hello)
    response = await client.get("/")
    await client.aclose()
    assert isinstance(client, library.AsyncClient)
    assert isinstance(response, library.Response)


def test_using_either_library_warns_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TestClient(hello).get("/").status_code == 200


# A fresh interpreter in which importing httpx2 and httpx fails, as if neither
# were installed: the finder refuses just those two names.
WITHOUT_CLIENTS = """
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"httpx", "httpx2"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
try:
    import flagstone_testclient
except RuntimeError as error:
    print(type(error).__name__, isinstance(error, ImportError), error)
"""


def test_without_either_library_the_import_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_CLIENTS], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("HTTPClientMissingError True ")
    assert 'pip install "flagstone-testclient[httpx2]"' in result.stdout
