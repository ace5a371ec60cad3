"""The shared contract of the flagstone toolkit.

What crosses package boundaries, and nothing else: the ASGI 3 types, the
exceptions routing raises and request handling renders, the middleware
declaration, HTTP and WebSocket status codes, and the scope keys one package
writes for another to read.  It has no runtime dependency, so a framework
author can build on it without pulling in any other flagstone package.
"""

from . import status
from ._exceptions import HTTPException, WebSocketException
from ._middleware import Middleware, MiddlewareFactory, wrap_middleware
from ._scope_keys import (
    BACKGROUND_KEY,
    BODY_KEY,
    EXCEPTION_HANDLERS_KEY,
    MAX_BODY_SIZE_KEY,
    SCOPE_KEYS,
    ScopeKey,
)
from ._types import (
    ASGIApp,
    ASGIVersions,
    HTTPDisconnectEvent,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseEarlyHintEvent,
    HTTPResponsePathsendEvent,
    HTTPResponseStartEvent,
    HTTPResponseTrailersEvent,
    HTTPScope,
    HTTPServerPushEvent,
    LifespanScope,
    LifespanShutdownCompleteEvent,
    LifespanShutdownEvent,
    LifespanShutdownFailedEvent,
    LifespanStartupCompleteEvent,
    LifespanStartupEvent,
    LifespanStartupFailedEvent,
    Message,
    Receive,
    Scope,
    Send,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketConnectEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveEvent,
    WebSocketResponseBodyEvent,
    WebSocketResponseStartEvent,
    WebSocketScope,
    WebSocketSendEvent,
)

__all__ = [
    "ASGIApp",
    "ASGIVersions",
    "BACKGROUND_KEY",
    "BODY_KEY",
    "EXCEPTION_HANDLERS_KEY",
    "HTTPDisconnectEvent",
    "HTTPException",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "HTTPServerPushEvent",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "MAX_BODY_SIZE_KEY",
    "Message",
    "Middleware",
    "MiddlewareFactory",
    "Receive",
    "SCOPE_KEYS",
    "Scope",
    "ScopeKey",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketException",
    "WebSocketReceiveEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
    "status",
    "wrap_middleware",
]
