"""Starlette's middlewares as pure ASGI, for any ASGI 3 app.

CORS, compression (gzip, and zstd / brotli with the extras), trusted hosts,
HTTPS redirects and authentication, each a plain `app(scope, receive, send)`
wrapper that depends only on flagstone-contract; plus `BaseHTTPMiddleware`
and `requires`, which work on flagstone-requests' `Request` (install
`flagstone-middleware[requests]`) and are imported lazily.  Not here:
sessions (flagstone-sessions), exception and error middleware
(flagstone-requests), background tasks (flagstone-background).
"""

__version__ = "0.2.0"

from ._authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from ._base import BaseHTTPMiddleware, DispatchFunction, RequestResponseEndpoint
from ._compression import CompressionMiddleware, GZipMiddleware
from ._cors import CORSMiddleware
from ._hosts import HTTPSRedirectMiddleware, TrustedHostMiddleware
from ._requires import has_required_scope, requires

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "BaseHTTPMiddleware",
    "BaseUser",
    "CORSMiddleware",
    "CompressionMiddleware",
    "DispatchFunction",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "RequestResponseEndpoint",
    "SimpleUser",
    "TrustedHostMiddleware",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
]
