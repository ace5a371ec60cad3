"""Parse a `.env` file: `KEY=value` lines, quotes and comments.

The grammar is the common subset of python-dotenv and docker's env files:

- lines end at `\\n`, `\\r\\n` or `\\r` (no other Unicode line break);
- blank lines and lines starting with `#` are skipped; an `export ` prefix is
  allowed (so the file can also be `source`d by a shell);
- `KEY=value`: the key and the value are stripped of surrounding spaces;
- an unquoted value ends at ` #` (an inline comment), so `A=1 # one` is `1`;
- `"double"` quotes keep `#` and spaces and understand `\\n`, `\\t`, `\\"`
  and `\\\\`; `'single'` quotes keep everything literally;
- a line without `=`, or a quote that is never closed, is kept the way
  Starlette keeps it (skipped; the rest of the line) but warned about with
  the file and line number: a typo there would otherwise silently leave a
  setting unset or wrong.
"""

from __future__ import annotations

import os
import re
import warnings

__all__ = ["DotenvWarning", "parse_dotenv", "read_dotenv"]

# A line ends at `\n`, `\r\n` or `\r` only, as Python's text files see it
# (universal newlines: what Starlette reads the file with).
# `str.splitlines()` also breaks at `\x0b`, `\x0c`, `\x1c`-`\x1e`, `\x85`,
# U+2028 and U+2029: a value such as `NAME=alice\x0cIS_ADMIN=true` (pasted
# or written by another program) would smuggle in a second key.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


class DotenvWarning(UserWarning):
    """A line of a `.env` file is not `KEY=value`, or leaves a quote open."""


def _warn(source: str, number: int, problem: str) -> None:
    warnings.warn(f"{source}, line {number}: {problem}", DotenvWarning, stacklevel=4)


def read_dotenv(path: str | os.PathLike[str], encoding: str = "utf-8") -> dict[str, str]:
    """The settings in the file at `path` (see the module docstring for the grammar)."""
    with open(path, encoding=encoding) as file:
        return parse_dotenv(file.read(), source=os.fspath(path))


def parse_dotenv(text: str, source: str = "<string>") -> dict[str, str]:
    """The settings in `text`; later lines win over earlier ones for the same key."""
    values: dict[str, str] = {}
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            # Not echoed: the line may be a secret that lost its `KEY=`.
            _warn(source, number, "expected KEY=value; the line is ignored")
            continue
        values[key] = _value(value.strip(), source, number)
    return values


def _value(text: str, source: str, number: int) -> str:
    if text[:1] == "'":
        end = text.find("'", 1)
        if end == -1:
            _warn(source, number, "single quote is not closed; the rest of the line is the value")
            return text[1:]
        return text[1:end]
    if text[:1] == '"':
        return _double_quoted(text, source, number)
    comment = text.find(" #")
    return (text[:comment] if comment != -1 else text).rstrip()


def _double_quoted(text: str, source: str, number: int) -> str:
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(out)
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            index += 2
            continue
        out.append(char)
        index += 1
    _warn(source, number, "double quote is not closed; the rest of the line is the value")
    return "".join(out)
