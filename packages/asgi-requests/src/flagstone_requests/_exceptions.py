"""Exceptions raised while reading a request body.

Client mistakes are `HTTPException` subclasses, so any exception handling
(flagstone's `ExceptionMiddleware`, Starlette's, or your own) renders them
as the right 4xx with a message naming the limit; without exception handling
they still say exactly what was wrong.  `ContentTooLarge` is the contract's
(the same class routing's body limit raises), re-exported here.  This differs from Starlette, where
form errors are HTTP errors only when `"app" in scope` and bad JSON is a 500.
"""

from __future__ import annotations

import json

from flagstone_contract import ContentTooLarge, HTTPException

__all__ = ["ClientDisconnect", "ContentTooLarge", "FormError", "InvalidJSON", "StreamConsumed"]


class ClientDisconnect(Exception):
    """The client disconnected before the whole request body arrived."""


class StreamConsumed(RuntimeError):
    """The body was already streamed without being kept, so it cannot be read again.

    A `RuntimeError`, like Starlette's "Stream consumed".  Read the body with
    `await request.body()` (which keeps it in the scope for every later
    reader) instead of `request.stream()` if more than one reader needs it.
    """


class FormError(HTTPException, ValueError):
    """400: a form body is malformed or breaks a count limit (fields, files, headers).

    Also a `ValueError`, so `except ValueError` code keeps working.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


class InvalidJSON(HTTPException, json.JSONDecodeError):
    """400: `request.json()` found a body that is not valid JSON.

    Also a `json.JSONDecodeError` (hence a `ValueError`), so Starlette-style
    `except json.JSONDecodeError` / `except ValueError` handlers still catch it,
    while exception middleware renders it as a 400 instead of a 500.
    """

    def __init__(self, error: Exception) -> None:
        if isinstance(error, json.JSONDecodeError):
            reason = f"{error.msg}: line {error.lineno} column {error.colno} (char {error.pos})"
            self.msg, self.doc, self.pos = error.msg, error.doc, error.pos
            self.lineno, self.colno = error.lineno, error.colno
        elif isinstance(error, RecursionError):
            reason = "nested too deeply"
        else:
            # Not UTF-8/16/32 text at all: json.loads raised UnicodeDecodeError.
            reason = f"body is not UTF-8 text ({error})"
            self.msg, self.doc, self.pos, self.lineno, self.colno = reason, "", 0, 1, 1
        self.status_code = 400
        self.detail = f"Invalid JSON in request body: {reason}"
        self.headers = None
        # Skip both parents' __init__: their argument lists are incompatible;
        # BaseException only needs args for pickling and the default str().
        Exception.__init__(self, 400, self.detail)
