"""The outgoing side's public names: present in `__all__`, documented."""

from __future__ import annotations

import inspect

import flagstone_requests

EXPECTED_OUTGOING = {
    "BodyIdleTimeout",
    "EventSourceResponse",
    "ExceptionMiddleware",
    "FileResponse",
    "HTMLResponse",
    "HTTPEndpoint",
    "JSONResponse",
    "PlainTextResponse",
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
    "WebSocketState",
    "request_response",
    "websocket_session",
}


def test_outgoing_names_are_exported() -> None:
    assert set(flagstone_requests.__all__) >= EXPECTED_OUTGOING
    for name in EXPECTED_OUTGOING:
        assert hasattr(flagstone_requests, name), name


def test_outgoing_names_have_docstrings() -> None:
    for name in EXPECTED_OUTGOING:
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
    assert exported == EXPECTED_OUTGOING


def test_all_is_exactly_both_sides() -> None:
    """The exact pin: an accidental export or removal on either side fails here."""
    incoming = {
        "DEFAULT_MAX_FORM_MEMORY_SIZE", "DEFAULT_MAX_JSON_SIZE",
        "URL", "Address", "ClientDisconnect", "CommaSeparatedStrings", "ContentTooLarge",
        "FormData", "FormError", "HTTPConnection", "Headers", "ImmutableMultiDict",
        "InvalidJSON", "MultiDict", "MultiPartException", "MutableHeaders", "QueryParams",
        "Request", "RequestTimeout", "Secret",
        "State", "StreamConsumed", "UploadFile",
    }  # fmt: skip
    assert set(flagstone_requests.__all__) == incoming | EXPECTED_OUTGOING
    assert len(flagstone_requests.__all__) == len(incoming | EXPECTED_OUTGOING)
