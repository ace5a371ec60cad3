"""Typing aliases Starlette's modules define and flagstone's packages do not need.

They are annotations only (no behaviour), spelled as Starlette 1.10 spells
them, so code that annotates with `starlette.types.StatelessLifespan` or
`starlette.responses.ContentStream` keeps type-checking.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

from flagstone import AppType, HTTPConnection, Response

# `Lifespan` itself is flagstone-routing's (the union of these two).
StatelessLifespan: TypeAlias = Callable[[AppType], AbstractAsyncContextManager[None]]
StatefulLifespan: TypeAlias = Callable[[AppType], AbstractAsyncContextManager[Mapping[str, Any]]]

Content: TypeAlias = str | bytes | memoryview
SyncContentStream: TypeAlias = Iterable[Content]
AsyncContentStream: TypeAlias = AsyncIterable[Content]
ContentStream: TypeAlias = AsyncContentStream | SyncContentStream

_Handler: TypeAlias = Callable[[HTTPConnection, Exception], Response | Awaitable[Response]]
ExceptionHandlers: TypeAlias = dict[Any, _Handler]
StatusHandlers: TypeAlias = dict[int, _Handler]
