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
    callable instances are ASGI apps -- except an instance whose `__call__`
    can only take one argument: it cannot be an ASGI app (which is called
    with scope, receive and send), so it is the handler it looks like.
    """
    original = endpoint
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
        return True
    if inspect.isclass(endpoint) or not callable(endpoint):
        return False
    return _takes_one_argument_only(original)


def _takes_one_argument_only(endpoint: Any) -> bool:
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):  # a builtin or C callable: keep Starlette's rule
        return False
    try:
        signature.bind(None, None, None)
    except TypeError:
        pass
    else:
        return False  # can be called as ASGI: it is an app
    try:
        signature.bind(None)
    except TypeError:
        return False  # neither shape: left as an app, whose call will say why
    return True


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
