"""The README's examples run (the types gate also checks them with mypy --strict)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def run_example(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str) -> None:
    run_example(code)


@pytest.mark.anyio
async def test_typed_example_app_sends_the_typed_messages(anyio_backend: str) -> None:
    [namespace] = [run_example(code) for code in EXAMPLES if "async def hello" in code]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await namespace["hello"]({"type": "http"}, receive, send)
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"hello"
