"""Starlette-compatible ASGI routing whose matching cost does not grow with the route table.

What it is: `Router`, `Route`, `WebSocketRoute`, `Mount` and `Host` with
Starlette 1.x names and semantics (first match in declaration order, 405
through partial matches, `url_path_for`, `root_path` through mounts), served
by a precompiled segment index instead of a linear regex scan, with lifespan
reaching mounted apps.

What it is not: a request/response library.  Endpoints that are plain
functions are adapted by flagstone-requests (`pip install
"flagstone-routing[requests]"`) or by your own `EndpointAdapter`; raw ASGI
endpoints need nothing else.
"""

__version__ = "0.4.0"

from ._adapters import EndpointAdapter
from ._compile import compile_path, get_route_path
from ._convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from ._lifespan import AppType, Lifespan
from ._mounts import Host, Mount
from ._router import Router
from ._routes import (
    BaseRoute,
    Match,
    Route,
    RouteInfo,
    WebSocketRoute,
    get_name,
    replace_params,
)
from ._urls import NoMatchFound, URLPath

__all__ = [
    "CONVERTOR_TYPES",
    "AppType",
    "BaseRoute",
    "Convertor",
    "EndpointAdapter",
    "FloatConvertor",
    "Host",
    "IntegerConvertor",
    "Lifespan",
    "Match",
    "Mount",
    "NoMatchFound",
    "PathConvertor",
    "Route",
    "RouteInfo",
    "Router",
    "StringConvertor",
    "URLPath",
    "UUIDConvertor",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "get_route_path",
    "register_url_convertor",
    "replace_params",
]
