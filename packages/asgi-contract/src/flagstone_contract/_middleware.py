"""The declaration of a middleware: a class (or factory) plus its arguments.

Routers, routes, mounts and the App take lists of these and build the stack
once.  `Middleware` iterates as `(cls, args, kwargs)` like Starlette's, so
code that unpacks it keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ParamSpec, Protocol

from ._types import ASGIApp

__all__ = ["Middleware", "MiddlewareFactory", "wrap_middleware"]

P = ParamSpec("P")


class MiddlewareFactory(Protocol[P]):
    """Anything called as `factory(app, *args, **kwargs)` that returns an ASGI app."""

    def __call__(self, app: ASGIApp, /, *args: P.args, **kwargs: P.kwargs) -> ASGIApp: ...


class Middleware:
    """Declare a middleware: `Middleware(SessionMiddleware, secret_key="...")`.

    The arguments are type-checked against the factory's signature, and the
    middleware is only instantiated when a stack is built.
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: MiddlewareFactory[P], *args: P.args, **kwargs: P.kwargs) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Instantiate this middleware around `app` and return the result."""
        return self.cls(app, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        parts = [name, *map(repr, self.args)]
        parts += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"Middleware({', '.join(parts)})"


def wrap_middleware(app: ASGIApp, middleware: Sequence[Middleware] | None) -> ASGIApp:
    """Wrap `app` in `middleware`, the first item outermost (Starlette's order)."""
    for item in reversed(middleware or ()):
        app = item.wrap(app)
    return app
