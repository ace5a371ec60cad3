"""Requests, responses, WebSockets, forms and error handling for any ASGI 3 app.

The incoming side (datastructures, `Request`, bodies and forms) and the
outgoing side (responses, WebSockets, exception middleware, endpoints) of an
ASGI application, Starlette-compatible, with no routing: pair it with
flagstone-routing or any router.
"""

__version__ = "0.4.0"

# --- incoming side: datastructures, connections, bodies, forms ---------------
from ._connection import HTTPConnection, cookie_parser
from ._datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    FormData,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    UploadFile,
)
from ._exceptions import (
    ClientDisconnect,
    ContentTooLarge,
    FormError,
    InvalidJSON,
    MultiPartException,
    RequestTimeout,
    StreamConsumed,
)
from ._form_parsers import FormParser, MultiPartParser
from ._forms import DEFAULT_MAX_FORM_MEMORY_SIZE
from ._request import DEFAULT_MAX_JSON_SIZE, Request, empty_receive, empty_send

__all__: list[str] = [
    "DEFAULT_MAX_FORM_MEMORY_SIZE",
    "DEFAULT_MAX_JSON_SIZE",
    "URL",
    "Address",
    "ClientDisconnect",
    "CommaSeparatedStrings",
    "ContentTooLarge",
    "FormData",
    "FormParser",
    "FormError",
    "HTTPConnection",
    "Headers",
    "ImmutableMultiDict",
    "InvalidJSON",
    "MultiDict",
    "MultiPartException",
    "MultiPartParser",
    "MutableHeaders",
    "QueryParams",
    "Request",
    "RequestTimeout",
    "Secret",
    "State",
    "StreamConsumed",
    "UploadFile",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

# --- outgoing side: responses, websockets, errors, endpoints -----------------
from flagstone_contract.http import is_async_callable

from ._body_timeout import BodyIdleTimeout
from ._concurrency import (
    iterate_in_threadpool,
    run_blocking_io,
    run_in_threadpool,
    run_until_first_complete,
)
from ._endpoints import HTTPEndpoint, WebSocketEndpoint, request_response, websocket_session
from ._exception_middleware import ExceptionMiddleware
from ._file_response import FileResponse
from ._handlers import (
    ExceptionHandler,
    HTTPExceptionHandler,
    WebSocketExceptionHandler,
    wrap_app_handling_exceptions,
)
from ._ranges import MalformedRangeHeader, RangeNotSatisfiable
from ._responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from ._server_errors import ServerErrorMiddleware
from ._sse import EventSourceResponse, ServerSentEvent
from ._streaming import StreamingResponse
from ._websockets import (
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

__all__ += [
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
]
