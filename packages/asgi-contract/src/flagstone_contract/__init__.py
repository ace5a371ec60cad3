"""The shared contract of the flagstone toolkit.

What crosses package boundaries, and nothing else: the ASGI 3 types, the
exceptions routing raises and request handling renders (and the
`WebSocketDisconnect` both the app side and the test client raise), the middleware
declaration, the request-body limit every layer shares, HTTP and WebSocket
status codes, the HTTP grammar (`http`), and the scope keys one package
writes for another to read.  It has no runtime dependency, so a framework
author can build on it without pulling in any other flagstone package.
"""

__version__ = "0.3.0"

from . import http, status
from ._body_limit import (
    MAX_BODY_SIZE_SCOPE_KEY,
    BodyCounter,
    RequestBodyLimitMiddleware,
    limit_request_body,
)
from ._derived import DerivedAttributes
from ._exceptions import (
    ContentTooLarge,
    HTTPException,
    StarletteDeprecationWarning,
    WebSocketDisconnect,
    WebSocketException,
)
from ._middleware import Middleware, MiddlewareFactory, wrap_middleware
from ._scope_keys import (
    APP_TASKS_KEY,
    BACKGROUND_KEY,
    BODY_COUNTER_KEY,
    BODY_IDLE_TIMEOUT_KEY,
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
    "APP_TASKS_KEY",
    "ASGIApp",
    "ASGIVersions",
    "BACKGROUND_KEY",
    "BODY_IDLE_TIMEOUT_KEY",
    "BODY_COUNTER_KEY",
    "BODY_KEY",
    "BodyCounter",
    "ContentTooLarge",
    "DerivedAttributes",
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
    "MAX_BODY_SIZE_SCOPE_KEY",
    "Message",
    "Middleware",
    "MiddlewareFactory",
    "Receive",
    "RequestBodyLimitMiddleware",
    "SCOPE_KEYS",
    "Scope",
    "ScopeKey",
    "StarletteDeprecationWarning",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnect",
    "WebSocketDisconnectEvent",
    "WebSocketException",
    "WebSocketReceiveEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
    "http",
    "limit_request_body",
    "status",
    "wrap_middleware",
]
