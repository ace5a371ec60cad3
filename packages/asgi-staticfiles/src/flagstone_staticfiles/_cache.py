"""`Cache-Control` policies for static files.

A policy is a string (the same header for every file) or a callable that
gets the file's path relative to the served directory and returns the
header value, or None for no header.  `immutable_if_fingerprinted` is the
common case: names that carry a content hash never change, so browsers may
keep them for a year without revalidating; everything else is revalidated
with the ETag on each use.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["CachePolicy", "immutable_if_fingerprinted"]

CachePolicy = str | Callable[[str], str | None]

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# `app.3f9a2b1c.js`, `app-BXk3f9a2.js`, `chunk.4f2e9a71c0.min.css`: a run of at
# least 8 letters/digits/underscores holding at least one digit and one letter,
# between a `.` or `-` and a `.`.  Plain words ("settings") have no digit;
# version numbers ("v2") are too short.
_FINGERPRINT = re.compile(r"[.-](?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8,}\.")


def immutable_if_fingerprinted(path: str) -> str:
    """`public, max-age=31536000, immutable` for fingerprinted names, else `no-cache`.

    A name is fingerprinted when its last path segment contains a hash-like
    run (8+ letters/digits with at least one of each) between `.`/`-` and
    `.`: `app.3f9a2b1c.js`, `index-BXk3f9a2.css`.  `no-cache` does not
    mean "do not cache": the browser keeps the file and revalidates it with
    its ETag (a cheap 304).
    """
    name = path.rsplit("/", 1)[-1]
    return IMMUTABLE if _FINGERPRINT.search(name) else REVALIDATE
