"""The public surface of flagstone-contract is pinned: a change here is deliberate."""

import inspect

import flagstone_contract

EXPECTED = {
    "APP_TASKS_KEY", "ASGIApp", "ASGIVersions", "BACKGROUND_KEY", "BODY_KEY", "EXCEPTION_HANDLERS_KEY",
    "HTTPDisconnectEvent", "HTTPException", "HTTPRequestEvent", "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent", "HTTPResponsePathsendEvent", "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent", "HTTPScope", "HTTPServerPushEvent", "LifespanScope",
    "LifespanShutdownCompleteEvent", "LifespanShutdownEvent", "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent", "LifespanStartupEvent", "LifespanStartupFailedEvent",
    "MAX_BODY_SIZE_KEY", "Message", "Middleware", "MiddlewareFactory", "Receive",
    "SCOPE_KEYS", "Scope", "ScopeKey", "Send", "WebSocketAcceptEvent", "WebSocketCloseEvent",
    "WebSocketConnectEvent", "WebSocketDisconnectEvent", "WebSocketException",
    "WebSocketReceiveEvent", "WebSocketResponseBodyEvent", "WebSocketResponseStartEvent",
    "WebSocketScope", "WebSocketSendEvent", "status", "wrap_middleware",
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
