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
import sys

from flagstone_contract import ContentTooLarge, HTTPException

__all__ = [
    "ClientDisconnect",
    "ContentTooLarge",
    "FormError",
    "FormTooLarge",
    "InvalidJSON",
    "MultiPartException",
    "RequestTimeout",
    "StreamConsumed",
]


class ClientDisconnect(Exception):
    """The client disconnected before the whole request body arrived."""


class StreamConsumed(RuntimeError):
    """The body was already streamed without being kept, so it cannot be read again.

    A `RuntimeError` with Starlette's message, "Stream consumed" (why, and
    what to do, are in its note).  Read the body with
    `await request.body()` (which keeps it in the scope for every later
    reader) instead of `request.stream()` if more than one reader needs it.
    """


class MultiPartException(Exception):
    """Starlette's name for "this form body could not be parsed": every form error is one.

    Ported code that writes `except MultiPartException` keeps catching
    flagstone's form errors: `FormError` (400: malformed body, too many
    fields, files or part headers) and the 413s of a form part or file over
    its size limit are all instances of it, and all `HTTPException`s, so they
    render as 400/413 with or without an `"app"` in the scope (Starlette
    turns its `MultiPartException` into a 400 only inside an app).
    `message` is the text, as in Starlette.
    """

    # No __init__ of its own: `MultiPartException(message)` needs none, and
    # the HTTPException subclasses below pass (status, detail) up the MRO.

    @property
    def message(self) -> str:
        """What was wrong with the form (the `detail` of flagstone's form errors)."""
        detail = getattr(self, "detail", None)
        if isinstance(detail, str):
            return detail
        return str(self.args[0]) if self.args else ""


class RequestTimeout(HTTPException):
    """408: no body bytes arrived for `timeout` seconds (the body-read idle timeout).

    Raised by every body reader when `scope["flagstone.body_idle_timeout"]`
    (or `Request.body_idle_timeout`) is set and the client stalls: a stalled
    upload then stops holding its task and temporary files.  Carries
    `Connection: close`, since the rest of the body may still be on its way.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(
            408,
            f"Request Timeout: no request body bytes arrived for {timeout:g} s "
            "(body_idle_timeout).",
            {"Connection": "close"},
        )
        self.timeout = timeout


class FormError(HTTPException, ValueError, MultiPartException):
    """400: a form body is malformed or breaks a count limit (fields, files, headers).

    Also a `ValueError`, so `except ValueError` code keeps working, and a
    `MultiPartException`, so Starlette-style `except` clauses do.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


class FormTooLarge(ContentTooLarge, MultiPartException):
    """413: one form field (`max_part_size`) or uploaded file (`max_file_size`) is too large.

    A `ContentTooLarge` and a `MultiPartException`: catchable either way.
    """


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
        else:
            reason = _json_failure(error)
            self.msg, self.doc, self.pos, self.lineno, self.colno = reason, "", 0, 1, 1
        self.status_code = 400
        self.detail = f"Invalid JSON in request body: {reason}"
        self.headers = None
        # Skip both parents' __init__: their argument lists are incompatible;
        # BaseException only needs args for pickling and the default str().
        Exception.__init__(self, 400, self.detail)


def _json_failure(error: Exception) -> str:
    """Name what `json.loads` refused when it was not a syntax error."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, UnicodeDecodeError):
        # json picks UTF-8, -16 or -32 from the first bytes (RFC 8259 / 4627
        # detection); name the encoding it tried, not always "UTF-8".
        return f"body is not text in the encoding its first bytes announce ({error})"
    if "integer string conversion" in str(error):
        # Python refuses to turn more than sys.get_int_max_str_digits() digits
        # into an int (CVE-2020-10735: the conversion is quadratic).
        return (
            "a number has more digits than Python's integer-digit limit "
            f"({sys.get_int_max_str_digits()} digits, sys.set_int_max_str_digits)"
        )
    return str(error)


class WrongScopeType(ValueError, AssertionError):
    """A connection class or endpoint given a scope of the wrong type.

    Starlette checks the scope type with a bare `assert`; this is also an
    `AssertionError`, so ported code and tests catch it the same way, and a
    `ValueError`, since the check holds under `python -O` too.  Private to
    the package (not exported).
    """


class BadArguments(TypeError, AssertionError):
    """A constructor called with conflicting or too many arguments.

    Starlette asserts these (its messages are kept); also a `TypeError`,
    since it is a bad call, and the check holds under `python -O`.
    Private to the package (not exported).
    """
