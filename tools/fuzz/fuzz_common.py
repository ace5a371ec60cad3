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

__all__ = [
    "InvariantBroken",
    "call_app",
    "call_form",
    "call_json",
    "clean_rejection",
    "split_chunks",
]

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


def clean_rejection(exc: BaseException) -> bool:
    """Whether `exc` is a documented client error: an `HTTPException` with a 4xx status.

    That is the oracle every target shares.  A bare `ValueError` (or any
    other exception) is NOT a clean rejection: in production one that
    escapes an endpoint becomes a 500.  flagstone's client errors
    (`FormError` 400, `ContentTooLarge` 413, `InvalidJSON` 400,
    `RequestTimeout` 408) are all 4xx `HTTPException`s.
    """
    return isinstance(exc, HTTPException) and 400 <= exc.status_code < 500


def _body_messages(chunks: list[bytes]) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]


def call_form(content_type: bytes, chunks: list[bytes]) -> None:
    """Parse `chunks` as a request body through `Request.form()`.

    Allowed outcomes: a form, or a clean rejection (`clean_rejection`).
    Anything else escapes (or is raised as `InvariantBroken`) and is a finding.
    """
    messages = _body_messages(chunks)

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
            if not clean_rejection(exc):
                raise InvariantBroken(f"non-4xx HTTPException: {exc!r}") from exc
        finally:
            await request.close()

    _run(parse)


def call_json(chunks: list[bytes]) -> tuple[Any, HTTPException | None]:
    """`Request.json()` over `chunks`: the value, or the clean rejection it raised."""
    messages = _body_messages(chunks)
    outcome: list[Any] = [None, None]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def parse() -> None:
        request = Request(_scope(b"application/json"), receive)
        try:
            outcome[0] = await request.json()
        except HTTPException as exc:
            if not clean_rejection(exc):
                raise InvariantBroken(f"non-4xx HTTPException: {exc!r}") from exc
            outcome[1] = exc

    _run(parse)
    return outcome[0], outcome[1]


def call_app(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Call an ASGI app with an empty request body; return the messages it sent."""
    sent: list[dict[str, Any]] = []
    messages = _body_messages([b""])

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()  # the client stays: only the app may end the call
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        with anyio.fail_after(30):
            await app(scope, receive, send)

    _run(run)
    return sent


def _check_form(form: Any) -> None:
    for key, value in form.multi_items():
        if not isinstance(key, str):
            raise InvariantBroken(f"form key is not str: {key!r}")
        if not isinstance(value, str) and not hasattr(value, "read"):
            raise InvariantBroken(f"form value is neither str nor UploadFile: {value!r}")


def _run(func: Callable[[], Awaitable[None]]) -> None:
    anyio.run(func)
