"""Fuzz target: the `.env` parser behind `Config(env_file)`.

The input is the file's bytes, decoded as UTF-8 (undecodable bytes become
U+FFFD, as a file with stray bytes would be after a lenient read).
Invariants: parsing never raises (a malformed line is a `DotenvWarning`,
silenced here); it gives a `dict[str, str]` whose keys are non-empty, carry
no surrounding whitespace, no `=` and no line break; and every key is the
key of one physical line, a line ending only at `\\n`, `\\r\\n` or `\\r`: no
other character (form feed, NEL, U+2028, ...) can start a new key (the key
injection of issue 27).
"""

from __future__ import annotations

import re
import warnings

from fuzz_common import InvariantBroken

from flagstone_config._dotenv import parse_dotenv

NAME = "dotenv"

SEEDS = [
    b'# settings\nexport DEBUG=true\nNAME = alice # inline\r\nEMPTY=\rQUOTED="a \\"b\\" #c\\n"\n',
    b"SINGLE='literal \\n # kept'\nOPEN=\"never closed\nJUSTAWORD\n=novalue\n",
    b"NAME=alice\x0cIS_ADMIN=true\nA=1\x0bB=2\xc2\x85C=3\xe2\x80\xa8D=4\xe2\x80\xa9E=5\x1cF=6\n",
]

_PHYSICAL_LINE_END = re.compile(r"\r\n|\r|\n")


def _line_keys(text: str) -> set[str]:
    """The key each physical line could define (the text before its first `=`)."""
    keys = set()
    for raw in _PHYSICAL_LINE_END.split(text):
        line = raw.strip()
        if line.startswith("export "):
            line = line.removeprefix("export ").lstrip()
        keys.add(line.partition("=")[0].strip())
    return keys


def check(data: bytes) -> None:
    """Parse one fuzzed `.env` file and check the settings it gives."""
    text = data.decode("utf-8", "replace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = parse_dotenv(text, source="fuzz.env")
    if not isinstance(values, dict):
        raise InvariantBroken(f"settings are not a dict: {values!r}")
    possible = _line_keys(text)
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvariantBroken(f"setting is not str: {key!r}={value!r}")
        if not key or key != key.strip() or "=" in key or "\n" in key or "\r" in key:
            raise InvariantBroken(f"malformed key: {key!r}")
        if key not in possible:
            raise InvariantBroken(f"key {key!r} does not start any physical line")
