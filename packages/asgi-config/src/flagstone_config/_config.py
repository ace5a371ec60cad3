"""`Config`: typed settings from the environment, then a `.env` file, then a default."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from ._dotenv import read_dotenv
from ._environ import environ as default_environ

__all__ = ["Config", "ConfigKeyError"]

T = TypeVar("T")

_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class _Undefined:
    """The `default` of a setting that has none (None is a legitimate default)."""

    def __repr__(self) -> str:
        return "undefined"


_undefined: Any = _Undefined()


class ConfigKeyError(KeyError):
    """A setting is missing and has no default.

    A `KeyError`, like Starlette's, so `except KeyError` still catches it; the
    message also says where the key was looked for: the environment under the
    prefixed name, and the `.env` file (or that there was none).
    """

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.message = message
        self.key = key

    def __str__(self) -> str:
        # KeyError's own __str__ is the repr of its argument: quotes and
        # escaped newlines around a sentence meant for a person.
        return self.message


class Config:
    """Read settings: `config("DEBUG", cast=bool, default=False)`.

    A key is looked up as `env_prefix + key`, first in `environ` (the
    process environment behind the read-then-change guard by default), then
    in the `env_file` values, then the `default`.  A missing `env_file` is a
    warning, not an error (the file is usually only present in development).
    """

    def __init__(
        self,
        env_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] = default_environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ = environ
        self.env_prefix = env_prefix
        self.env_file = env_file
        self.file_values: dict[str, str] = {}
        if env_file is not None:
            if os.path.isfile(env_file):
                self.file_values = read_dotenv(env_file, encoding)
            else:
                warnings.warn(f"Config file '{os.fspath(env_file)}' not found.", stacklevel=2)

    @overload
    def __call__(self, key: str, *, default: None) -> str | None: ...

    @overload
    def __call__(self, key: str, cast: type[T], default: T = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: str = ...) -> str: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T] = ..., default: Any = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: T = ...) -> T | str: ...

    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = _undefined
    ) -> Any:
        """The setting `key`, cast with `cast` (see `get`)."""
        return self.get(key, cast, default)

    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = _undefined
    ) -> Any:
        """The setting `key`: from the environment, the file, or `default`, then cast.

        `cast=bool` accepts `true`/`false`/`1`/`0` (any case); any other
        callable is called with the string.  A cast that fails raises
        `ValueError` naming the key.  A missing key without a default raises
        `ConfigKeyError` (a `KeyError`) naming the key, the prefix and file.
        """
        name = self.env_prefix + key
        if name in self.environ:
            return self._cast(name, self.environ[name], cast)
        if name in self.file_values:
            return self._cast(name, self.file_values[name], cast)
        if default is not _undefined:
            return self._cast(name, default, cast)
        raise ConfigKeyError(self._missing_message(key, name), name)

    def _missing_message(self, key: str, name: str) -> str:
        where = f"the environment as '{name}'"
        if self.env_prefix:
            where += f" (key '{key}' with env_prefix '{self.env_prefix}')"
        if self.env_file is None:
            where += ", and no env_file was given"
        elif self.file_values or os.path.isfile(self.env_file):
            where += f", and in the file '{os.fspath(self.env_file)}'"
        else:
            where += f", and the file '{os.fspath(self.env_file)}' does not exist"
        return f"Config '{name}' is missing, and has no default. Looked in {where}."

    def _cast(self, name: str, value: Any, cast: Callable[[Any], Any] | None) -> Any:
        if cast is None or value is None:
            return value
        if cast is bool and isinstance(value, str):
            try:
                return _BOOLS[value.lower()]
            except KeyError:
                raise ValueError(
                    f"Config '{name}' has value '{value}'. Not a valid bool "
                    "(use true, false, 1 or 0)."
                ) from None
        try:
            return cast(value)
        except (TypeError, ValueError):
            # The value is not echoed: a mistyped cast on a secret (a token
            # read with cast=int) would otherwise print it in the traceback.
            kind = getattr(cast, "__name__", repr(cast))
            raise ValueError(
                f"Config '{name}' could not be cast with {kind}: a {len(str(value))}-character "
                "value that is not valid for it."
            ) from None
