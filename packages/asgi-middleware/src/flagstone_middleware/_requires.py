"""`requires`: guard an endpoint by the scopes in `scope["auth"]`.

It needs flagstone-requests (the guarded endpoints take a `Request` or a
`WebSocket`, and a refusal is an `HTTPException` or a `RedirectResponse`),
imported when an endpoint is decorated: the rest of this package works
without it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from flagstone_contract import HTTPException
from flagstone_contract.http import is_async_callable, safe_location_path

__all__ = ["INSTALL_HINT", "has_required_scope", "requires"]

INSTALL_HINT = 'pip install "flagstone-middleware[requests]"'

F = TypeVar("F", bound=Callable[..., Any])


class _WrongConnection(TypeError, AssertionError):
    """The guarded endpoint was called with something else than a Request / WebSocket.

    A `TypeError`, and the `AssertionError` Starlette's `assert` raises, with
    its text; a real check, so it holds under `python -O` too.
    """


def has_required_scope(conn: Any, scopes: Sequence[str]) -> bool:
    """Whether every name in `scopes` is in `conn.auth.scopes`."""
    granted = conn.auth.scopes
    return all(scope in granted for scope in scopes)


def _requests() -> Any:
    try:
        import flagstone_requests
    except ImportError:
        raise ImportError(
            f"`requires` works on flagstone-requests' Request and WebSocket: {INSTALL_HINT}"
        ) from None
    return flagstone_requests


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
) -> Callable[[F], F]:
    """Decorate an endpoint so it runs only when the caller holds every one of `scopes`.

    Works on function endpoints and `HTTPEndpoint` methods (sync or async),
    found by a parameter named `request`, and on WebSocket endpoints (a
    parameter named `websocket`).  A refused HTTP request raises
    `HTTPException(status_code)`, or, with `redirect="route_name"`,
    answers 303 to that route with `?next=<original path and query>`; a
    refused WebSocket is closed.  As Starlette, except that the `Location`
    and `next` are relative (`/login?next=%2Fadmin`): Starlette builds both
    from the request's `Host`, so `Host: evil.com` got a redirect to
    `http://evil.com/login?next=http%3A%2F%2Fevil.com%2Fadmin`.
    """
    needed = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: F) -> F:
        requests = _requests()  # at decoration: a missing install shows at import time
        names = list(inspect.signature(func).parameters)
        kind = next((n for n in names if n in ("request", "websocket")), None)
        if kind is None:
            raise TypeError(f'No "request" or "websocket" argument on function "{func}"')
        index = names.index(kind)
        expected = requests.WebSocket if kind == "websocket" else requests.Request

        def connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            conn = kwargs[kind] if kind in kwargs else args[index] if index < len(args) else None
            if not isinstance(conn, expected):
                raise _WrongConnection(
                    f"Parameter with name '{kind}' is required to be of type "
                    f"'{expected.__name__}' not '{type(conn).__name__}'"
                )
            return conn

        def refusal(request: Any) -> Any:
            if redirect is None:
                raise HTTPException(status_code=status_code)
            # Paths only: the browser resolves them against the origin it
            # used, never against a Host header an attacker chose.
            login = safe_location_path(request.url_for(redirect).path)
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            next_url = f"{login}?{urlencode({'next': here})}"
            return requests.RedirectResponse(url=next_url, status_code=303)

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: Any, **kwargs: Any) -> None:
                websocket = connection(args, kwargs)
                if not has_required_scope(websocket, needed):
                    await websocket.close()
                else:
                    await func(*args, **kwargs)

            return websocket_wrapper  # type: ignore[return-value]

        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                request = connection(args, kwargs)
                if not has_required_scope(request, needed):
                    return refusal(request)
                return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            request = connection(args, kwargs)
            if not has_required_scope(request, needed):
                return refusal(request)
            return func(*args, **kwargs)

        return sync_wrapper  # type: ignore[return-value]

    return decorator
