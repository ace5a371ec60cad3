"""The outgoing side's public names: present in `__all__`, documented."""

from __future__ import annotations

import inspect

import flagstone_requests

EXPECTED_OUTGOING = {
    "BodyIdleTimeout",
    "EventSourceResponse",
    "ExceptionHandler",
    "ExceptionMiddleware",
    "FileResponse",
    "HTMLResponse",
    "HTTPEndpoint",
    "HTTPExceptionHandler",
    "JSONResponse",
    "MalformedRangeHeader",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Response",
    "ServerErrorMiddleware",
    "ServerSentEvent",
    "StreamingResponse",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketEndpoint",
    "WebSocketExceptionHandler",
    "WebSocketState",
    "is_async_callable",
    "iterate_in_threadpool",
    "request_response",
    "run_blocking_io",
    "run_in_threadpool",
    "run_until_first_complete",
    "websocket_session",
    "wrap_app_handling_exceptions",
}

# Typing aliases (no module of their own) and the contract's one
# `is_async_callable`, re-exported as the identical object.
NOT_DEFINED_HERE = {
    "ExceptionHandler",
    "HTTPExceptionHandler",
    "WebSocketExceptionHandler",
    "is_async_callable",
}


def test_outgoing_names_are_exported() -> None:
    assert set(flagstone_requests.__all__) >= EXPECTED_OUTGOING
    for name in EXPECTED_OUTGOING:
        assert hasattr(flagstone_requests, name), name


def test_outgoing_names_have_docstrings() -> None:
    for name in EXPECTED_OUTGOING - NOT_DEFINED_HERE:
        obj = getattr(flagstone_requests, name)
        assert inspect.getdoc(obj), f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


OUTGOING_MODULES = {
    f"flagstone_requests.{module}"
    for module in (
        "_responses",
        "_streaming",
        "_cookies",
        "_file_response",
        "_ranges",
        "_sse",
        "_websockets",
        "_exception_middleware",
        "_server_errors",
        "_endpoints",
        "_body_timeout",
        "_handlers",
        "_concurrency",
    )
} | {"flagstone_contract._exceptions"}  # WebSocketDisconnect: the contract's, re-exported


def test_no_accidental_outgoing_exports() -> None:
    """Every exported name defined in an outgoing-side module is one of the pinned names."""
    exported = {
        name
        for name in flagstone_requests.__all__
        if getattr(getattr(flagstone_requests, name), "__module__", None) in OUTGOING_MODULES
    }
    # ContentTooLarge is the contract's too, but an incoming-side name.
    exported.discard("ContentTooLarge")
    assert exported == EXPECTED_OUTGOING - NOT_DEFINED_HERE


def test_is_async_callable_is_the_contracts_one() -> None:
    from flagstone_contract.http import is_async_callable

    assert flagstone_requests.is_async_callable is is_async_callable


def test_all_is_exactly_both_sides() -> None:
    """The exact pin: an accidental export or removal on either side fails here."""
    incoming = {
        "DEFAULT_MAX_FORM_MEMORY_SIZE", "DEFAULT_MAX_JSON_SIZE",
        "URL", "Address", "ClientDisconnect", "CommaSeparatedStrings", "ContentTooLarge",
        "FormData", "FormError", "FormParser", "HTTPConnection", "Headers", "ImmutableMultiDict",
        "InvalidJSON", "MultiDict", "MultiPartException", "MultiPartParser", "MutableHeaders",
        "QueryParams",
        "Request", "RequestTimeout", "Secret",
        "State", "StreamConsumed", "UploadFile", "cookie_parser", "empty_receive", "empty_send",
    }  # fmt: skip
    assert set(flagstone_requests.__all__) == incoming | EXPECTED_OUTGOING
    assert len(flagstone_requests.__all__) == len(incoming | EXPECTED_OUTGOING)
