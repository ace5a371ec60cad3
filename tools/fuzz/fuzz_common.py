"""What every fuzz target shares: a direct ASGI call and the allowed errors.

A target is a module with `NAME`, `SEEDS` (a few well-formed inputs to start
from) and `check(data: bytes) -> None`, which feeds one input to a parser and
raises `InvariantBroken` (or lets an unexpected exception escape) when the
parser misbehaves.  `run.py` drives targets with atheris or hypothesis.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from flagstone_contract import HTTPException
from flagstone_requests import Request

__all__ = ["InvariantBroken", "call_form", "split_chunks"]

# python-multipart logs every malformed byte it skips; at hundreds of inputs
# a second that logging is most of the run time and buries libFuzzer's output.
logging.getLogger("python_multipart").setLevel(logging.CRITICAL)
logging.getLogger("multipart").setLevel(logging.CRITICAL)


class InvariantBroken(AssertionError):
    """A parser broke one of the invariants a target checks."""


def split_chunks(body: bytes, chunk_size: int) -> list[bytes]:
    """`body` in pieces of `chunk_size` bytes (at least one piece)."""
    if chunk_size <= 0 or not body:
        return [body]
    return [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]


def _scope(content_type: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", content_type)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def call_form(content_type: bytes, chunks: list[bytes]) -> None:
    """Parse `chunks` as a request body through `Request.form()`.

    Allowed outcomes: a form, or an `HTTPException` with a 4xx status (the
    documented `FormError` / `ContentTooLarge`), or a `ValueError`.  Anything
    else escapes and is a finding.
    """
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        raise InvariantBroken("form parsing must not send anything")

    async def parse() -> None:
        request = Request(_scope(content_type), receive, send)
        try:
            async with request.form(max_part_size=64 * 1024, spool_max_size=16 * 1024) as form:
                _check_form(form)
        except HTTPException as exc:
            if not 400 <= exc.status_code < 500:
                raise InvariantBroken(f"non-4xx HTTPException: {exc!r}") from exc
        except ValueError:
            pass
        finally:
            await request.close()

    _run(parse)


def _check_form(form: Any) -> None:
    for key, value in form.multi_items():
        if not isinstance(key, str):
            raise InvariantBroken(f"form key is not str: {key!r}")
        if not isinstance(value, str) and not hasattr(value, "read"):
            raise InvariantBroken(f"form value is neither str nor UploadFile: {value!r}")


def _run(func: Callable[[], Awaitable[None]]) -> None:
    anyio.run(func)
