"""The table of served names, held against the real Starlette installed beside it."""

from __future__ import annotations

import importlib
import pkgutil
import types
import warnings

import pytest

from flagstone_compat import _table

starlette = pytest.importorskip("starlette")


def _public_modules() -> list[str]:
    found = ["starlette"]
    for info in pkgutil.walk_packages(starlette.__path__, "starlette."):
        leaf = info.name.rsplit(".", 1)[1]
        if not leaf.startswith("_"):
            found.append(info.name)
    return [*found, "starlette._exception_handler", "starlette._utils"]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user can import from `module`: defined in Starlette, public, not a TypeVar."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or name == "TYPE_CHECKING" or isinstance(value, types.ModuleType):
            continue
        if type(value).__name__ in ("TypeVar", "ParamSpec"):
            continue
        home = getattr(value, "__module__", None)
        if home is not None and not str(home).startswith("starlette"):
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("module_name", _public_modules())
def test_every_public_starlette_name_is_offered_or_listed_as_missing(module_name: str) -> None:
    missing_here = _table.MISSING.get(module_name, {})
    if None in missing_here:
        assert module_name not in _table.OFFERED
        return
    assert module_name in _table.OFFERED, f"{module_name}: neither offered nor listed as missing"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            pytest.skip(f"{module_name} needs an optional dependency of Starlette")
    offered = {_table.parse_entry(entry)[0] for entry in _table.OFFERED[module_name]}
    fallback = _table.FALLBACK.get(module_name)
    if fallback is not None:
        offered |= set(dir(importlib.import_module(fallback)))
    unlisted = _public_names(module) - offered - set(missing_here)
    assert not unlisted, f"{module_name}: not offered and not in MISSING: {sorted(unlisted)}"


@pytest.mark.parametrize("module_name", sorted(_table.OFFERED))
def test_every_offered_entry_resolves_to_a_flagstone_object(module_name: str) -> None:
    for entry in _table.OFFERED[module_name]:
        name, source, attr = _table.parse_entry(entry)
        assert hasattr(importlib.import_module(source), attr), f"{module_name}.{name}: {entry}"
        assert name not in _table.MISSING.get(module_name, {}), f"{module_name}.{name} is both"


def test_missing_modules_of_starlette_are_real_starlette_modules() -> None:
    known = set(_public_modules())
    for module_name, names in _table.MISSING.items():
        if None in names:
            assert module_name in known, f"{module_name} is not a Starlette module"
