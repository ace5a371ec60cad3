"""The one record of what `import starlette...` serves: Starlette 1.10's modules on flagstone.

`OFFERED` maps each Starlette module flagstone serves to the names it offers.
An entry is `"Name"` (the object `flagstone.Name`, the meta package's
re-export) or `"Name=module:attr"` (another home, e.g. `Starlette=flagstone:App`).
Every name is the identical object flagstone's own import gives, so
`isinstance` and `except` work across both spellings.

`FALLBACK` names, per module, a flagstone module whose other attributes are
served too (`starlette.status` is flagstone's status module, deprecated
names and their warnings included).

`MISSING` lists what Starlette 1.10 has and flagstone does not offer, module
by module (`None` as the name: the whole module), each with the reason and
the porting-guide section that explains it.  Asking for one raises
`ImportError` / `ModuleNotFoundError` / `AttributeError` with that text: never a
silent stand-in.  A name in neither table is a Starlette internal (a
`TypeVar`, a private helper).

`packages/asgi-compat/tests/test_table.py` holds this record against the
real Starlette when it is installed: every public name of every public
Starlette module is offered or listed here.
"""

from __future__ import annotations

from typing import Final

#: The Starlette release whose API these modules implement (`starlette.__version__`).
STARLETTE_API_VERSION: Final = "1.10.0"

#: Where each MISSING row's explanation lives.
PORTING_GUIDE: Final = "docs/porting-from-starlette.md"

_HTTP_STATUS = "flagstone_contract.status"

OFFERED: Final[dict[str, tuple[str, ...]]] = {
    "starlette": (),
    "starlette._exception_handler": (
        "wrap_app_handling_exceptions",
        "is_async_callable",
        "run_in_threadpool",
        "HTTPException",
        "Request",
        "WebSocket",
        "ExceptionHandlers=flagstone_compat._types:ExceptionHandlers",
        "StatusHandlers=flagstone_compat._types:StatusHandlers",
    ),
    "starlette._utils": ("is_async_callable", "get_route_path"),
    "starlette.applications": (
        "Starlette=flagstone:App",
        "State",
        "URLPath",
        "Middleware",
        "RequestBodyLimitMiddleware",
        "ServerErrorMiddleware",
        "ExceptionMiddleware",
        "Request",
        "Response",
        "BaseRoute",
        "Router",
        "AppType",
    ),
    "starlette.authentication": (
        "has_required_scope",
        "requires",
        "AuthenticationError",
        "AuthenticationBackend",
        "AuthCredentials",
        "BaseUser",
        "SimpleUser",
        "UnauthenticatedUser",
        "is_async_callable",
        "HTTPException",
        "HTTPConnection",
        "Request",
        "RedirectResponse",
        "WebSocket",
    ),
    "starlette.background": (
        "BackgroundTask",
        "BackgroundTasks",
        "is_async_callable",
        "run_in_threadpool",
    ),
    "starlette.concurrency": (
        "StarletteDeprecationWarning",
        "run_in_threadpool",
        "iterate_in_threadpool",
        "run_until_first_complete",
    ),
    "starlette.config": ("Config", "Environ", "EnvironError", "environ"),
    "starlette.convertors": (
        "Convertor",
        "StringConvertor",
        "PathConvertor",
        "IntegerConvertor",
        "FloatConvertor",
        "UUIDConvertor",
        "CONVERTOR_TYPES",
        "register_url_convertor",
    ),
    "starlette.datastructures": (
        "Address",
        "URL",
        "URLPath",
        "Secret",
        "CommaSeparatedStrings",
        "ImmutableMultiDict",
        "MultiDict",
        "QueryParams",
        "UploadFile",
        "FormData",
        "Headers",
        "MutableHeaders",
        "State",
        "run_in_threadpool",
    ),
    "starlette.endpoints": (
        "HTTPEndpoint",
        "WebSocketEndpoint",
        "status",
        "is_async_callable",
        "run_in_threadpool",
        "HTTPException",
        "Request",
        "PlainTextResponse",
        "Response",
        "WebSocket",
    ),
    "starlette.exceptions": ("StarletteDeprecationWarning", "HTTPException", "WebSocketException"),
    "starlette.formparsers": (
        "StarletteDeprecationWarning",
        "FormData",
        "Headers",
        "UploadFile",
        "MultiPartException",
        "FormParser",
        "MultiPartParser",
    ),
    "starlette.middleware": ("Middleware",),
    "starlette.middleware.authentication": (
        "AuthenticationMiddleware",
        "AuthCredentials",
        "AuthenticationBackend",
        "AuthenticationError",
        "UnauthenticatedUser",
        "HTTPConnection",
        "PlainTextResponse",
        "Response",
    ),
    "starlette.middleware.base": (
        "BaseHTTPMiddleware",
        "ClientDisconnect",
        "Request",
        "Response",
        "DispatchFunction",
        "RequestResponseEndpoint",
    ),
    "starlette.middleware.body_limit": (
        "RequestBodyLimitMiddleware",
        "MAX_BODY_SIZE_SCOPE_KEY",
        # Private in Starlette, but frameworks look it up (FastAPI, with
        # getattr) to tell a body-limit error from others: flagstone's is
        # ContentTooLarge, the HTTPException(413) every body limit raises.
        "_RequestBodyTooLarge=flagstone:ContentTooLarge",
        "Headers",
        "HTTPException",
        "PlainTextResponse",
    ),
    "starlette.middleware.cors": (
        "CORSMiddleware",
        "Headers",
        "MutableHeaders",
        "PlainTextResponse",
        "Response",
    ),
    "starlette.middleware.errors": (
        "ServerErrorMiddleware",
        "is_async_callable",
        "run_in_threadpool",
        "Request",
        "HTMLResponse",
        "PlainTextResponse",
        "Response",
    ),
    "starlette.middleware.exceptions": (
        "ExceptionMiddleware",
        "wrap_app_handling_exceptions",
        "HTTPException",
        "WebSocketException",
        "Request",
        "PlainTextResponse",
        "Response",
        "WebSocket",
    ),
    "starlette.middleware.gzip": ("GZipMiddleware", "Headers", "MutableHeaders"),
    "starlette.middleware.httpsredirect": (
        "HTTPSRedirectMiddleware",
        "URL",
        "PlainTextResponse",
        "RedirectResponse",
    ),
    "starlette.middleware.sessions": (
        "SessionMiddleware",
        "Session",
        "MutableHeaders",
        "Secret",
        "HTTPConnection",
    ),
    "starlette.middleware.trustedhost": (
        "TrustedHostMiddleware",
        "URL",
        "Headers",
        "PlainTextResponse",
        "RedirectResponse",
        "Response",
    ),
    "starlette.requests": (
        "Request",
        "HTTPConnection",
        "ClientDisconnect",
        "cookie_parser",
        "empty_receive",
        "empty_send",
        "URL",
        "Address",
        "FormData",
        "Headers",
        "QueryParams",
        "State",
        "HTTPException",
        "MultiPartException",
        "FormParser",
        "MultiPartParser",
    ),
    "starlette.responses": (
        "Response",
        "HTMLResponse",
        "PlainTextResponse",
        "JSONResponse",
        "RedirectResponse",
        "StreamingResponse",
        "FileResponse",
        "MalformedRangeHeader",
        "RangeNotSatisfiable",
        "BackgroundTask",
        "iterate_in_threadpool",
        "URL",
        "Headers",
        "MutableHeaders",
        "ClientDisconnect",
        "ContentStream=flagstone_compat._types:ContentStream",
        "SyncContentStream=flagstone_compat._types:SyncContentStream",
        "AsyncContentStream=flagstone_compat._types:AsyncContentStream",
        "Content=flagstone_compat._types:Content",
    ),
    "starlette.routing": (
        "StarletteDeprecationWarning",
        "Router",
        "Route",
        "WebSocketRoute",
        "Mount",
        "Host",
        "BaseRoute",
        "Match",
        "NoMatchFound",
        "compile_path",
        "get_name",
        "replace_params",
        "request_response",
        "websocket_session",
        "wrap_app_handling_exceptions",
        "get_route_path",
        "is_async_callable",
        "run_in_threadpool",
        "CONVERTOR_TYPES",
        "Convertor",
        "URL",
        "Headers",
        "URLPath",
        "HTTPException",
        "Middleware",
        "RequestBodyLimitMiddleware",
        "Request",
        "PlainTextResponse",
        "RedirectResponse",
        "Response",
        "WebSocket",
        "WebSocketClose",
    ),
    "starlette.staticfiles": (
        "StaticFiles",
        "PathLike",
        "get_route_path",
        "URL",
        "Headers",
        "HTTPException",
        "FileResponse",
        "RedirectResponse",
        "Response",
        "WebSocketClose",
    ),
    "starlette.status": ("StarletteDeprecationWarning",),
    "starlette.templating": ("Jinja2Templates", "BackgroundTask", "URL", "Request", "HTMLResponse"),
    "starlette.testclient": (
        "StarletteDeprecationWarning",
        "TestClient",
        "WebSocketTestSession",
        "WebSocketDenialResponse",
        "WebSocketDisconnect",
        "is_async_callable",
    ),
    "starlette.types": (
        "AppType",
        "Scope",
        "Message",
        "Receive",
        "Send",
        "ASGIApp",
        "Lifespan",
        "StatelessLifespan=flagstone_compat._types:StatelessLifespan",
        "StatefulLifespan=flagstone_compat._types:StatefulLifespan",
        "HTTPExceptionHandler",
        "WebSocketExceptionHandler",
        "ExceptionHandler",
    ),
    "starlette.websockets": (
        "WebSocket",
        "WebSocketState",
        "WebSocketDisconnect",
        "WebSocketDisconnected",
        "WebSocketClose",
        "HTTPConnection",
        "Response",
    ),
}

#: Modules whose other attributes come from a flagstone module of the same role.
FALLBACK: Final[dict[str, str]] = {
    "starlette.status": _HTTP_STATUS,
}

_INTERNALS = "Starlette internals"
_WSGI = (
    "Starlette deprecated its WSGI middleware; flagstone does not offer one. "
    "Use a2wsgi (`from a2wsgi import WSGIMiddleware`), which Starlette recommends"
)

#: module -> {name or None (the whole module): reason}.  The section of the
#: porting guide each reason belongs to is `MISSING_SECTION`.
MISSING: Final[dict[str, dict[str | None, str]]] = {
    "starlette.middleware.wsgi": {None: _WSGI},
    "starlette.schemas": {
        None: "flagstone has no OpenAPI schema generator; generate schemas with your "
        "framework (FastAPI does) or apispec",
    },
    "starlette.middleware.opentelemetry": {
        None: "flagstone has no OpenTelemetry middleware; use "
        "opentelemetry-instrumentation-asgi's OpenTelemetryMiddleware, which wraps any ASGI app",
    },
    "starlette.formparsers": {
        "FormMessage": "python-multipart callback plumbing of Starlette's parser",
        "MultipartPart": "python-multipart callback plumbing of Starlette's parser",
    },
    "starlette.middleware.body_limit": {
        "RequestBodyLimitResponder": _INTERNALS,
    },
    "starlette.requests": {
        "SERVER_PUSH_HEADERS_TO_COPY": "HTTP/2 server push is not offered (browsers dropped it)",
        "AwaitableOrContextManager": _INTERNALS,
        "AwaitableOrContextManagerWrapper": _INTERNALS,
    },
    "starlette._utils": {
        "parse_host_header": _INTERNALS,
        "create_collapsing_task_group": _INTERNALS,
        "AwaitableOrContextManager": _INTERNALS,
        "AwaitableOrContextManagerWrapper": _INTERNALS,
        "SupportsAsyncClose": _INTERNALS,
        "SupportsAsyncCloseType": _INTERNALS,
        "ParsedHost": _INTERNALS,
    },
    "starlette.config": {"undefined": _INTERNALS},
    "starlette.datastructures": {"parse_host_header": _INTERNALS},
    "starlette.middleware.cors": {"ALL_METHODS": _INTERNALS, "SAFELISTED_HEADERS": _INTERNALS},
    "starlette.middleware.gzip": {
        "GZipResponder": _INTERNALS,
        "IdentityResponder": _INTERNALS,
        "DEFAULT_EXCLUDED_CONTENT_TYPES": _INTERNALS,
        "unattached_send": _INTERNALS,
    },
    "starlette.middleware.trustedhost": {
        "ENFORCE_DOMAIN_WILDCARD": _INTERNALS,
        "parse_host_header": _INTERNALS,
    },
    "starlette.middleware.errors": dict.fromkeys(
        ("STYLES", "JS", "TEMPLATE", "FRAME_TEMPLATE", "LINE", "CENTER_LINE"),
        "the debug page's template pieces; flagstone's debug page is its own",
    ),
    "starlette.staticfiles": {"NotModifiedResponse": _INTERNALS},
    "starlette.routing": {"parse_host_header": _INTERNALS},
    "starlette.responses": {"create_collapsing_task_group": _INTERNALS},
    "starlette.middleware.base": {"create_collapsing_task_group": _INTERNALS},
}


#: The porting-guide section every MISSING reason is listed under.
MISSING_SECTION: Final = "Running Starlette-based code unchanged (flagstone-compat)"


def is_package(module: str) -> bool:
    """Whether a served Starlette module is a package (has submodules)."""
    prefix = module + "."
    return any(name.startswith(prefix) for name in (*OFFERED, *MISSING))


def parse_entry(entry: str) -> tuple[str, str, str]:
    """`"Name"` or `"Name=module:attr"` -> `(name, module, attr)`."""
    name, _, target = entry.partition("=")
    if not target:
        return name, "flagstone", name
    module, _, attr = target.partition(":")
    return name, module, attr
