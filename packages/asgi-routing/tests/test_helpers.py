"""Helpers frameworks import from flagstone-routing: `get_name`, `replace_params`, `Lifespan`."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, get_args

import pytest
from routing_helpers import run_lifespan

from flagstone_routing import (
    CONVERTOR_TYPES,
    AppType,
    Lifespan,
    Route,
    Router,
    get_name,
    replace_params,
)


def list_users() -> None: ...


class UsersEndpoint:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        (list_users, "list_users"),
        (UsersEndpoint, "UsersEndpoint"),
        (UsersEndpoint(), "UsersEndpoint"),
        (functools.partial(list_users), "partial"),
        (lambda: None, "<lambda>"),
    ],
    ids=["function", "class", "instance", "partial", "lambda"],
)
def test_get_name_is_the_default_route_name(endpoint: Any, name: str) -> None:
    assert get_name(endpoint) == name
    assert Route("/", endpoint).name == name


def test_replace_params_fills_through_convertors_and_returns_the_rest() -> None:
    convertors = {"id": CONVERTOR_TYPES["int"], "slug": CONVERTOR_TYPES["str"]}
    path, rest = replace_params("/u/{id}/{slug}", convertors, {"id": 7, "slug": "a", "q": 1})
    assert path == "/u/7/a"
    assert rest == {"q": 1}


def test_replace_params_keeps_a_value_that_looks_like_a_placeholder() -> None:
    convertors = {"a": CONVERTOR_TYPES["str"], "b": CONVERTOR_TYPES["str"]}
    path, _ = replace_params("/{a}/{b}", convertors, {"a": "{b}", "b": "x"})
    assert path == "/{b}/x"


def test_lifespan_is_generic_in_the_app_type() -> None:
    assert Lifespan[Router] is not None
    assert AppType in Lifespan.__parameters__
    assert len(get_args(Lifespan[Router])) == 2  # stateless | stateful


@pytest.mark.anyio
async def test_a_lifespan_annotated_with_lifespan_of_router_runs() -> None:
    @asynccontextmanager
    async def lifespan(app: Router) -> AsyncIterator[dict[str, Any]]:
        yield {"app_type": type(app).__name__}

    typed: Lifespan[Router] = lifespan
    result = await run_lifespan(Router(lifespan=typed))
    assert result.state == {"app_type": "Router"}
