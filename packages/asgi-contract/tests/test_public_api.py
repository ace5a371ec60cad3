"""The public surface of flagstone-contract is pinned: a change here is deliberate."""

import inspect

import flagstone_contract

EXPECTED = {
    "APP_TASKS_KEY", "ASGIApp", "ASGIVersions", "BACKGROUND_KEY", "BODY_COUNTER_KEY",
    "BODY_IDLE_TIMEOUT_KEY", "BODY_KEY",
    "BodyCounter", "ContentTooLarge", "DerivedAttributes", "RequestBodyLimitMiddleware", "limit_request_body", "EXCEPTION_HANDLERS_KEY",
    "HTTPDisconnectEvent", "HTTPException", "HTTPRequestEvent", "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent", "HTTPResponsePathsendEvent", "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent", "HTTPScope", "HTTPServerPushEvent", "LifespanScope",
    "LifespanShutdownCompleteEvent", "LifespanShutdownEvent", "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent", "LifespanStartupEvent", "LifespanStartupFailedEvent",
    "MAX_BODY_SIZE_KEY", "MAX_BODY_SIZE_SCOPE_KEY", "Message", "Middleware", "MiddlewareFactory", "Receive",
    "SCOPE_KEYS", "Scope", "ScopeKey", "Send", "StarletteDeprecationWarning", "WebSocketAcceptEvent", "WebSocketCloseEvent",
    "WebSocketConnectEvent", "WebSocketDisconnect", "WebSocketDisconnectEvent", "WebSocketException",
    "WebSocketReceiveEvent", "WebSocketResponseBodyEvent", "WebSocketResponseStartEvent",
    "WebSocketScope", "WebSocketSendEvent", "http", "status", "wrap_middleware",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(flagstone_contract.__all__) == EXPECTED
    assert len(flagstone_contract.__all__) == len(EXPECTED)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in flagstone_contract.__all__:
        obj = getattr(flagstone_contract, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_no_runtime_dependency() -> None:
    from importlib.metadata import requires

    assert requires("flagstone-contract") in (None, [])


def test_http_module_all_is_pinned() -> None:
    from flagstone_contract import http

    assert sorted(http.__all__) == [
        "HostPort", "MalformedContentLength", "accept_encoding_weights", "build_set_cookie",
        "get_route_path", "is_async_callable", "is_header_value", "is_token", "is_valid_host",
        "negotiate_encodings", "parse_content_length", "redact_url", "safe_location_path",
        "split_host",
    ]  # fmt: skip
    for name in http.__all__:
        assert getattr(http, name).__doc__, f"http.{name} has no docstring"
