"""`DerivedAttributes`: derived state built without `__init__`, rebuilt after a change."""

from __future__ import annotations

from typing import ClassVar

import pytest

from flagstone_contract import DerivedAttributes


class Greeter(DerivedAttributes):
    _derived_from: ClassVar[frozenset[str]] = frozenset({"name"})
    _derived_names: ClassVar[frozenset[str]] = frozenset({"_greeting"})
    name = "world"
    derivations = 0

    def __init__(self, name: str) -> None:
        self.name = name
        self._derive()

    def _derive(self) -> None:
        type(self).derivations += 1
        self._greeting = f"hello {self.name}".encode()

    def greet(self) -> bytes:
        return self._greeting


def test_built_by_init() -> None:
    assert Greeter("ada").greet() == b"hello ada"


def test_built_on_first_use_when_init_was_skipped() -> None:
    class Bare(Greeter):
        def __init__(self) -> None:
            pass

    assert Bare().greet() == b"hello world"


def test_rebuilt_after_a_public_attribute_is_assigned() -> None:
    greeter = Greeter("ada")
    greeter.name = "bob"
    assert greeter.greet() == b"hello bob"
    before = Greeter.derivations
    assert greeter.greet() == b"hello bob"
    assert Greeter.derivations == before  # once, then an ordinary attribute


def test_other_missing_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="'Greeter' object has no attribute 'nothing'"):
        Greeter("ada").nothing  # type: ignore[attr-defined]  # noqa: B018
