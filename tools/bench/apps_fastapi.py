"""The FastAPI scenarios: one FastAPI app, unchanged, for the starlette and flagstone columns.

Which toolkit runs it is decided by the process, not by this file: the
starlette column's child process imports it as it is (FastAPI on the
installed Starlette); the flagstone column's child is started as
`python -m flagstone_compat python ...`, so every `import starlette...`
inside FastAPI is served by flagstone.  `check_toolkit` makes sure the
process is what the column says before anything is measured.

Written the way FastAPI's documentation writes them: `FastAPI()` with its
defaults (the docs and OpenAPI routes included), `async def` endpoints (a
plain `def` would add a worker-thread hop to every request).
"""

from __future__ import annotations

import sys

from bench_scenarios import FASTAPI_HELLO, Scenario
from fastapi import FastAPI
from pydantic import BaseModel

from flagstone_contract import ASGIApp

__all__ = ["Item", "ItemOut", "LineItem", "Owner", "build", "check_toolkit", "on_flagstone"]


class Owner(BaseModel):
    """The item's owner."""

    id: int
    login: str
    roles: list[str]


class LineItem(BaseModel):
    """One line of the item."""

    sku: str
    qty: int


class Item(BaseModel):
    """The posted item (bench_scenarios.JSON_PAYLOAD), validated by FastAPI."""

    id: int
    name: str
    active: bool
    score: float
    tags: list[str]
    owner: Owner
    items: list[LineItem]


class ItemOut(Item):
    """The response model: the item and its total quantity."""

    total_qty: int


def on_flagstone() -> bool:
    """True when `starlette` in this process is served by flagstone (flagstone-compat)."""
    import starlette.requests

    return starlette.requests.Request.__module__.startswith("flagstone")


def check_toolkit(toolkit: str) -> None:
    """Raise unless FastAPI in this process runs on the toolkit the column is named after."""
    expected = toolkit == "flagstone"
    if on_flagstone() != expected:
        served = "flagstone" if on_flagstone() else "Starlette"
        raise RuntimeError(
            f"the {toolkit} column's process runs FastAPI on {served}; "
            "the flagstone child must be started as `python -m flagstone_compat python ...` "
            f"(sys.argv: {sys.argv})"
        )


def build(scenario: Scenario) -> ASGIApp:
    """The FastAPI app of a `fastapi-*` scenario."""
    app = FastAPI()
    if scenario.name == "fastapi-hello":
        # response_model=None: FastAPI's first example has no return
        # annotation, so no response model; this one is annotated for mypy.
        @app.get("/", response_model=None)
        async def root() -> dict[str, object]:
            return FASTAPI_HELLO

    elif scenario.name == "fastapi-json":

        @app.post("/items")
        async def create_item(item: Item) -> ItemOut:
            return ItemOut(**item.model_dump(), total_qty=sum(line.qty for line in item.items))

    else:
        raise KeyError(f"no FastAPI app for scenario {scenario.name!r}")
    return app
