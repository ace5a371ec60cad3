from typing import Any

import pytest

from flagstone_contract import ASGIApp, Middleware, Receive, Scope, Send, wrap_middleware


class Tag:
    """A pass-through middleware that records its tag in the scope."""

    def __init__(self, app: ASGIApp, tag: str, *, extra: int = 0) -> None:
        self.app = app
        self.tag = tag
        self.extra = extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("tags", []).append(self.tag)
        await self.app(scope, receive, send)


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    pass


def test_middleware_iterates_as_cls_args_kwargs() -> None:
    m = Middleware(Tag, "a", extra=3)
    cls, args, kwargs = m
    assert cls is Tag
    assert args == ("a",)
    assert kwargs == {"extra": 3}
    assert repr(m) == "Middleware(Tag, 'a', extra=3)"


def test_wrap_builds_the_instance() -> None:
    wrapped = Middleware(Tag, "a", extra=3).wrap(endpoint)
    assert isinstance(wrapped, Tag)
    assert (wrapped.app, wrapped.tag, wrapped.extra) == (endpoint, "a", 3)


@pytest.mark.anyio
async def test_wrap_middleware_first_is_outermost(anyio_backend: str) -> None:
    app = wrap_middleware(endpoint, [Middleware(Tag, "outer"), Middleware(Tag, "inner")])
    scope: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        pass

    await app(scope, receive, send)
    assert scope["tags"] == ["outer", "inner"]


def test_wrap_middleware_none_is_identity() -> None:
    assert wrap_middleware(endpoint, None) is endpoint
    assert wrap_middleware(endpoint, []) is endpoint
