"""Path templates: `compile_path` and the segment shape the router indexes.

A template such as `/users/{user_id:int}/files/{rest:path}` compiles, as in
Starlette, to an anchored regex with one named group per placeholder, a
format string for reversal (`/users/{user_id}/files/{rest}`) and the
convertor of each placeholder.  The regex stays the authority on what
matches; `segment_shape` only describes the template coarsely (literal
segment, one-segment placeholder, or "anything from here on") so the
router's index can rule routes *out* without ever ruling a match out that
the regex would accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flagstone_contract.http import get_route_path

from ._convertors import (
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    StringConvertor,
    UUIDConvertor,
    resolve_convertors,
)

__all__ = [
    "LITERAL",
    "ONE",
    "REST",
    "Segment",
    "compile_path",
    "get_route_path",
    "regex_is_template",
    "segment_shape",
]

PARAM_RE = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")

LITERAL = 0
ONE = 1
REST = 2
Segment = tuple[int, str]
"""`(LITERAL, text)`, `(ONE, "")` for a placeholder segment, `(REST, "")` for a slash-spanning one."""

_BUILTIN_SLASH_FREE: frozenset[type[Convertor[Any]]] = frozenset(
    {StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor}
)
# Regex fragments through which a custom convertor might match "/".  Used only
# when the convertor does not declare `matches_slash` itself: a false "may
# match" costs a little speed, a false "cannot" would make a route unreachable.
_SLASH_HINTS = ("/", ".", "\\W", "\\S", "\\D", "\\s", "[^", "\\x", "\\u", "\\0", "\\N")


def compile_path(
    path: str, convertors: Mapping[str, Convertor[Any]] | None = None
) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile a path (or host) template into `(regex, format, {name: convertor})`.

    A template not starting with `/` is a host pattern: a trailing `:port`
    is left out of the regex (kept in the format, for reversal) and it
    matches case-insensitively.  Unknown convertor types
    and duplicate parameter names raise `ValueError`.
    """
    available = resolve_convertors(convertors)
    is_host = not path.startswith("/")
    regex = "^"
    path_format = ""
    duplicates: set[str] = set()
    param_convertors: dict[str, Convertor[Any]] = {}
    index = 0
    for match in PARAM_RE.finditer(path):
        name, type_suffix = match.groups("str")
        type_name = type_suffix.lstrip(":")
        convertor = available.get(type_name)
        if convertor is None:
            raise _unknown_convertor(type_name, path, available)
        regex += _placeholder_pattern(path[index : match.start()], name, convertor)
        path_format += path[index : match.start()] + "{" + name + "}"
        if name in param_convertors:
            duplicates.add(name)
        param_convertors[name] = convertor
        index = match.end()
    if duplicates:
        names = ", ".join(sorted(duplicates))
        ending = "s" if len(duplicates) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    tail = path[index:]
    if is_host:
        # The port is not part of what a Host pattern matches: "Host" headers
        # carry it only sometimes, and the router strips it before matching.
        # (An IPv6 literal "[::1]" keeps its colons: only a trailing ":digits" goes.)
        # The port stays in the format, though: a reversed URL for
        # Host("api.example.org:3600") must point at port 3600 (Starlette too).
        hostname = re.sub(r":[0-9]+$", "", tail)
        regex += re.escape(hostname) + "$"
        return re.compile(regex, re.IGNORECASE), path_format + tail, param_convertors
    regex += re.escape(tail) + "$"
    # DOTALL: a path may hold a newline (a client sends %0A) and `{p:path}`'s
    # ".*" must take it.  The routes match with `fullmatch`, so "$" cannot
    # match before a trailing newline ("/int/5\n" is not "/int/5").
    return re.compile(regex, re.DOTALL), path_format + tail, param_convertors


def _placeholder_pattern(literal: str, name: str, convertor: Convertor[Any]) -> str:
    return re.escape(literal) + f"(?P<{name}>{convertor.regex})"


# Flags that cannot make a path regex accept more than its template says.
_HARMLESS_FLAGS = re.DOTALL | re.UNICODE


def regex_is_template(
    regex: re.Pattern[str], path: str, convertors: Mapping[str, Convertor[Any]]
) -> bool:
    """Whether `regex` is exactly what `compile_path(path)` builds with these convertors.

    A route subclass may set `path_regex` by hand; only a regex that is the
    template's own may be described to the router's index by the template's
    shape (any other is asked on every request, so it can never be ruled out
    wrongly).  Matching without DOTALL accepts less, so it is fine; any other
    flag (IGNORECASE) could accept more.
    """
    if not path.startswith("/") or regex.flags & ~_HARMLESS_FLAGS:
        return False
    expected = "^"
    index = 0
    for match in PARAM_RE.finditer(path):
        convertor = convertors.get(match.group(1))
        if convertor is None:
            return False
        expected += _placeholder_pattern(path[index : match.start()], match.group(1), convertor)
        index = match.end()
    return regex.pattern == expected + re.escape(path[index:]) + "$"


def _may_match_slash(convertor: Convertor[Any]) -> bool:
    for klass in type(convertor).__mro__:
        if klass is Convertor:
            break
        if "matches_slash" in vars(klass):
            return bool(vars(klass)["matches_slash"])
    if type(convertor) in _BUILTIN_SLASH_FREE:
        return False
    return any(hint in convertor.regex for hint in _SLASH_HINTS)


def segment_shape(path: str, convertors: Mapping[str, Convertor[Any]]) -> list[Segment]:
    """Describe a path template segment by segment for the router's index.

    `path.split("/")` is the unit, the same split the router applies to a
    request path, so a literal segment compares with `==`.  A segment with
    a placeholder that cannot match `/` is `ONE` (any one segment); the
    first placeholder that can match `/` makes the rest of the template
    `REST` (the route may match any path below this point).
    """
    shape: list[Segment] = []
    for part in path.split("/"):
        params = list(PARAM_RE.finditer(part))
        if not params:
            shape.append((LITERAL, part))
            continue
        for match in params:
            name = match.group(1)
            convertor = convertors.get(name)
            if convertor is None or _may_match_slash(convertor):
                shape.append((REST, ""))
                return shape
        shape.append((ONE, ""))
    return shape


class DefinitionError(ValueError, AssertionError):
    """A route, mount or host defined wrongly: Starlette's text, and `AssertionError`.

    Starlette checks route definitions with `assert`; this is an
    `AssertionError` too, so ported code and tests catch it the same way,
    and a `ValueError`, since the check must hold under `python -O`.  Our
    guidance goes in a note.  Private to the package (not exported).
    """


def definition_error(message: str, note: str) -> DefinitionError:
    """A `DefinitionError` with Starlette's `message` and our `note` (prefixed `flagstone: `)."""
    error = DefinitionError(message)
    error.add_note("flagstone: " + note)
    return error


def _unknown_convertor(
    type_name: str, path: str, available: Mapping[str, Convertor[Any]]
) -> DefinitionError:
    known = ", ".join(sorted(available))
    return definition_error(
        f"Unknown path convertor '{type_name}'",
        f"in {path!r}; known convertors: {known}. "
        f"Register it first: register_url_convertor({type_name!r}, MyConvertor())",
    )
