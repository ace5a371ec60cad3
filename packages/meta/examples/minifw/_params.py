"""Parameter injection: read an endpoint's signature once, solve it per request.

A parameter is a path parameter when its name is in the path, a `Request` or
`WebSocket` when annotated so, a JSON body when annotated with a dataclass
(or marked `Body()`), an upload when marked `File()`, and a query parameter
otherwise.  Values are converted to the annotated type; every failure is
collected, and all of them are raised together as `RequestValidationError`
(answered 422 by the app's handler).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flagstone import HTTPConnection, Request, WebSocket

_MISSING: Any = inspect.Parameter.empty


class Query:
    """Mark a parameter as a query parameter (the default), optionally with a default."""

    def __init__(self, default: Any = _MISSING) -> None:
        self.default = default


class Body(Query):
    """Mark a parameter as the JSON request body."""


class File(Query):
    """Mark a parameter as an uploaded file from a multipart form."""


class RequestValidationError(Exception):
    """The request did not fit the endpoint's signature; `errors` says where and why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Param:
    """One endpoint parameter: where it comes from, its type and its default."""

    name: str
    source: str  # "path", "query", "body", "file", "connection"
    annotation: Any
    default: Any


def inspect_endpoint(endpoint: Callable[..., Any], path: str) -> list[Param]:
    """The endpoint's parameters, classified once when the route is built."""
    hints = typing.get_type_hints(endpoint)
    params = []
    for name, parameter in inspect.signature(endpoint).parameters.items():
        annotation = hints.get(name, str)
        marker, default = parameter.default, parameter.default
        if isinstance(marker, Query):
            default = marker.default
        if isinstance(annotation, type) and issubclass(annotation, HTTPConnection):
            source = "connection"
        elif "{" + name + "}" in path or "{" + name + ":" in path:
            source = "path"
        elif isinstance(marker, File):
            source = "file"
        elif isinstance(marker, Body) or dataclasses.is_dataclass(annotation):
            source = "body"
        else:
            source = "query"
        params.append(Param(name, source, annotation, default))
    return params


def _convert(value: Any, annotation: Any) -> Any:
    if annotation is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{value!r} is not a boolean")
        return value.lower() in ("true", "1")
    if annotation in (int, float, str) and not isinstance(value, annotation):
        if not isinstance(value, str | int | float):
            raise TypeError(f"expected {annotation.__name__}, got {type(value).__name__}")
        return annotation(value)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {annotation.__name__}")
        hints = typing.get_type_hints(annotation)
        return annotation(**{k: _convert(value[k], hints[k]) for k in value if k in hints})
    return value


async def _raw_value(param: Param, conn: HTTPConnection) -> Any:
    if param.source == "connection":
        return conn
    if param.source == "path":
        return conn.path_params.get(param.name, _MISSING)
    if param.source == "query":
        return conn.query_params.get(param.name, _MISSING)
    assert isinstance(conn, Request)
    if param.source == "file":
        form = await conn.form()
        return form.get(param.name, _MISSING)
    try:
        return await conn.json()
    except ValueError:
        return _MISSING


async def solve(params: list[Param], conn: Request | WebSocket) -> dict[str, Any]:
    """The keyword arguments for the endpoint, or `RequestValidationError` listing every problem."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for param in params:
        raw = await _raw_value(param, conn)
        if raw is _MISSING:
            if param.default is _MISSING:
                errors.append({"loc": [param.source, param.name], "msg": "field required"})
            else:
                values[param.name] = param.default
            continue
        if param.source in ("connection", "file") and param.annotation is not str:
            values[param.name] = raw
            continue
        try:
            values[param.name] = _convert(raw, param.annotation)
        except (ValueError, TypeError, KeyError) as exc:
            errors.append(
                {"loc": [param.source, param.name], "msg": str(exc), "input": jsonable(raw)}
            )
    if errors:
        raise RequestValidationError(errors)
    return values


def jsonable(value: Any) -> Any:
    """Turn a value into JSON data: dataclasses, containers, and objects by their `vars()`."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if hasattr(value, "__dict__"):
        # An object (an `UploadFile` in an error, say) by its public attributes.
        return {k: jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value
