"""The import hook: `import starlette...` builds modules from `_table` on flagstone's objects."""

from __future__ import annotations

import dis
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import logging
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from . import _table

__all__ = ["StarletteFinder", "install", "installed", "uninstall"]

logger = logging.getLogger("flagstone_compat")

_IMPORT_FROM = dis.opmap["IMPORT_FROM"]
_lock = threading.Lock()


def _missing_text(module: str, name: str | None) -> str:
    """The message for a Starlette module or name flagstone does not offer."""
    what = module if name is None else f"{module}.{name}"
    reason = _table.MISSING.get(module, {}).get(name)
    if reason is None:
        reason = (
            "it is not part of Starlette's public API that flagstone serves"
            if name is None or name.startswith("_")
            else "flagstone does not offer it"
        )
    return (
        f"{what} is not offered by flagstone (served through flagstone_compat): {reason}. "
        f"See {_table.PORTING_GUIDE}, section '{_table.MISSING_SECTION}'; "
        "report a name you need at https://github.com/flagstone-toolkit/flagstone/issues"
    )


class StarletteModule(types.ModuleType):
    """A Starlette module served by flagstone: its names are flagstone's objects."""

    __flagstone_fallback__: types.ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        fallback = self.__flagstone_fallback__
        if fallback is not None:
            try:
                return getattr(fallback, name)
            except AttributeError:
                pass
        message = _missing_text(self.__name__, name)
        # `from starlette.x import Name` turns an AttributeError into a bare
        # "cannot import name" and drops our text; the importing frame is
        # the caller here (no Python frame in between), so say it ourselves.
        caller = sys._getframe(1)
        if caller.f_code.co_code[caller.f_lasti] == _IMPORT_FROM:
            raise ImportError(
                f"cannot import name {name!r} from {self.__name__!r}: {message}",
                name=self.__name__,
            )
        raise AttributeError(message, name=name, obj=self)

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        if self.__flagstone_fallback__ is not None:
            names.update(n for n in dir(self.__flagstone_fallback__) if not n.startswith("_"))
        return sorted(names)


class StarletteLoader(importlib.abc.Loader):
    """Creates a `StarletteModule` and fills it from `_table.OFFERED`."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StarletteModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        namespace = vars(module)
        exported: list[str] = []
        for entry in _table.OFFERED[name]:
            attr_name, source, attr = _table.parse_entry(entry)
            namespace[attr_name] = getattr(importlib.import_module(source), attr)
            exported.append(attr_name)
        fallback = _table.FALLBACK.get(name)
        if fallback is not None:
            source_module = importlib.import_module(fallback)
            module.__flagstone_fallback__ = source_module  # type: ignore[attr-defined]
            exported.extend(getattr(source_module, "__all__", ()))
        namespace["__all__"] = exported
        namespace["__doc__"] = (
            f"Starlette's `{name}`, served by flagstone through flagstone_compat "
            f"(Starlette {_table.STARLETTE_API_VERSION} API)."
        )
        if name == "starlette":
            namespace["__version__"] = _table.STARLETTE_API_VERSION


class StarletteFinder(importlib.abc.MetaPathFinder):
    """First on `sys.meta_path`: answers for `starlette` and every `starlette.*` module."""

    loader = StarletteLoader()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "starlette" and not fullname.startswith("starlette."):
            return None
        if fullname not in _table.OFFERED:
            raise ModuleNotFoundError(_missing_text(fullname, None), name=fullname)
        return importlib.machinery.ModuleSpec(
            fullname, self.loader, origin="flagstone_compat", is_package=_table.is_package(fullname)
        )


_finder: StarletteFinder | None = None


def installed() -> bool:
    """Whether `install()` has run in this process (and `uninstall()` has not)."""
    return _finder is not None and _finder in sys.meta_path


def install() -> None:
    """Serve `import starlette...` from flagstone in this process, from now on.

    Call it before anything imports Starlette (the framework, its plugins):
    at the top of your entry point, in `conftest.py`'s first lines, or run
    your command as `python -m flagstone_compat <command...>`, which also
    covers the worker processes it starts.  Calling it again is a no-op.

    Raises RuntimeError when a real Starlette module is already imported:
    objects from it would mix with flagstone's and fail `isinstance` checks.
    Logs one warning (logger `flagstone_compat`) when a real Starlette is
    installed, to say that it is shadowed.
    """
    _install(announce=True)


def _install(*, announce: bool) -> None:
    """`install()`; `announce=False` for the processes a layered command starts.

    Their parent already logged that Starlette is shadowed, and a line on
    every child's stderr would change what a program's own subprocesses
    print.
    """
    global _finder
    with _lock:
        if installed():
            return
        loaded = sorted(
            name
            for name, module in sys.modules.items()
            if (name == "starlette" or name.startswith("starlette."))
            and not isinstance(module, StarletteModule)
        )
        if loaded:
            first = sys.modules[loaded[0]]
            where = getattr(first, "__file__", None) or "an unknown location"
            raise RuntimeError(
                "flagstone_compat.install() must run before anything imports Starlette, "
                f"but {', '.join(loaded[:3])}{' ...' if len(loaded) > 3 else ''} "
                f"is already imported (from {where}). Call install() first (at the top of "
                "your entry point or conftest.py), or start your command with "
                "`python -m flagstone_compat <command...>`."
            )
        real = importlib.machinery.PathFinder.find_spec("starlette")
        _finder = StarletteFinder()
        sys.meta_path.insert(0, _finder)
    if real is not None and announce:
        try:
            version = importlib.metadata.version("starlette")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        logger.warning(
            "flagstone_compat: `import starlette` is served by flagstone (Starlette %s API); "
            "the installed Starlette %s at %s is shadowed in this process",
            _table.STARLETTE_API_VERSION,
            version,
            real.origin,
        )


def uninstall() -> None:
    """Stop serving Starlette from flagstone and forget the modules served so far.

    For tests and tools; objects already imported from `starlette...` stay
    flagstone's.
    """
    global _finder
    with _lock:
        if _finder is not None and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None
        for name, module in list(sys.modules.items()):
            if isinstance(module, StarletteModule):
                del sys.modules[name]
