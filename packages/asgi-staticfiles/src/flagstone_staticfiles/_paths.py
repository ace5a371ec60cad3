"""Turn a request path into a file path that cannot leave the served directories.

Two independent walls, so a mistake in one is caught by the other:

1. **Segment screening** (`safe_segments`): the route path is split on `/`
   and every segment that could mean something other than "a name in this
   directory" on *any* platform is refused outright: `..` (traversal), a
   backslash (a separator on Windows: `..\\..\\x`), a colon (a drive letter
   `C:`, or an NTFS stream `file::$DATA`), NUL (truncates the path in C
   APIs; Python raises), and other control characters.  Empty and `.`
   segments are dropped, so the result is always relative.  The path is
   never percent-decoded here: the server decoded it once, and decoding
   again is what turns `%252e%252e` into a traversal.
2. **Containment** (`contained`): after joining, the real path (symlinks
   resolved, unless the application opted into following them) must lie
   inside the real directory, compared with `os.path.commonpath` on whole
   components (a string prefix would let `/static-private` pass for
   `/static`, CVE-2023-29159).
"""

from __future__ import annotations

import os
import stat

__all__ = ["contained", "safe_segments", "without_links"]

# Control characters (NUL included) have no place in a file name we serve.
_FORBIDDEN = frozenset(chr(code) for code in range(32)) | {"\x7f", "\\", ":"}


def safe_segments(path: str) -> list[str] | None:
    """The path's name segments, or None if any segment is hostile (see module doc)."""
    segments = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == ".." or not _FORBIDDEN.isdisjoint(segment):
            return None
        segments.append(segment)
    return segments


def contained(full_path: str, directory: str) -> bool:
    """True if `full_path` is `directory` or inside it (both absolute, normalised)."""
    # The common case, decided on whole components without splitting either
    # path: equal, or `directory` plus a separator is a prefix.
    if full_path == directory:
        return True
    if full_path.startswith(directory if directory.endswith(os.sep) else directory + os.sep):
        return True
    # Anything else (outside on POSIX; on Windows maybe the same path in
    # another letter case) goes through the component comparison.
    try:
        return os.path.commonpath([full_path, directory]) == directory
    except ValueError:  # different drives on Windows
        return False


def without_links(base: str, segments: list[str]) -> tuple[str, os.stat_result] | None:
    """`base` joined with `segments` and its stat, or None if a segment is a symbolic link.

    `base` must be a real path (no links in it).  Then a result is the real
    path of the file, what `os.path.realpath` would return, found with one
    `lstat` per segment; a link anywhere needs the general resolution.
    Errors of `lstat` (a missing name, a file used as a directory) propagate.
    """
    if not segments:
        return base, os.stat(base)
    path = base if base.endswith(os.sep) else base + os.sep
    path += segments[0]
    result = os.lstat(path)
    for segment in segments[1:]:
        if stat.S_ISLNK(result.st_mode):
            return None
        path += os.sep + segment
        result = os.lstat(path)
    return None if stat.S_ISLNK(result.st_mode) else (path, result)
