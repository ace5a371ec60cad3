"""Endpoint adapters: how a plain function becomes an ASGI app.

Starlette hard-wires its own `request_response`.  Flagstone routing has no
Request type of its own, so a plain function (sync or async) or bound method
is adapted by an `EndpointAdapter`: by default flagstone-requests'
`request_response` / `websocket_session`, imported lazily so routing works
without it as long as every endpoint is an ASGI app.  A framework author
passes their own adapter (their own Request type) without subclassing
`Route`: `Route(..., adapter=...)`, or `Router(..., endpoint_adapter=...)`
for every function route the router dispatches to (inherited by the routers
of `Mount(routes=...)`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flagstone_contract import ASGIApp

__all__ = ["EndpointAdapter", "default_adapter", "is_function_endpoint"]

HandlerAdapter = Callable[[Callable[..., Any]], ASGIApp]

INSTALL_HINT = 'pip install "flagstone-routing[requests]"'


@dataclass(frozen=True, slots=True)
class EndpointAdapter:
    """A pair of adapters turning request/websocket handler functions into ASGI apps.

    `http(func)` is used for `Route` endpoints, `websocket(func)` for
    `WebSocketRoute` endpoints; each returns an ASGI app.
    """

    http: HandlerAdapter
    websocket: HandlerAdapter


def is_function_endpoint(endpoint: Any) -> bool:
    """Whether `endpoint` is a request handler (function or bound method), not an ASGI app.

    As in Starlette, `functools.partial` is unwrapped first, and classes and
    callable instances are ASGI apps.
    """
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


def default_adapter(what: str) -> EndpointAdapter:
    """flagstone-requests' adapters, or an ImportError that says what to install.

    `what` names the route for the message (e.g. `Route("/users", list_users)`).
    """
    try:
        from flagstone_requests import request_response, websocket_session
    except ImportError as exc:
        raise ImportError(
            f"{what}: the endpoint is a plain function, which needs flagstone-requests "
            f"to become an ASGI app. Install it with: {INSTALL_HINT} "
            "(or pass adapter= to the route / endpoint_adapter= to the Router to use "
            "your own Request type, or give an ASGI app as the endpoint)"
        ) from exc
    return EndpointAdapter(http=request_response, websocket=websocket_session)
