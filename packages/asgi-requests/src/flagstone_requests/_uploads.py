"""`UploadFile` (an uploaded file with async I/O) and `FormData`.

Blocking I/O stays off the event loop (GHSA-2c2j-9gv5-cj73): an upload is a
`SpooledTemporaryFile` that lives in memory until it grows past its spool
limit, then "rolls over" to a real file on disk.  Memory operations are fast
and run inline; anything on a rolled file, AND the write that WOULD cause the
rollover (it copies the whole buffer to disk), runs in a worker thread.
"""

from __future__ import annotations

import io
import tempfile
from typing import IO, Any

import anyio.to_thread

from ._headers import Headers
from ._multidict import ImmutableMultiDict

__all__ = ["FormData", "UploadFile", "spool_in_memory"]


class UploadFile:
    """An uploaded file: `filename`, `content_type`, `headers`, `size`, `file`.

    `read`, `write`, `seek` and `close` are async; they run in a worker thread
    whenever they may touch the disk.  `size` counts the bytes written through
    `write` (or the size given by the parser).

    Deliberately without `__slots__`: frameworks serialise uploads for
    validation errors with `vars()` / `__dict__`-based encoders.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.file = file
        self.size = size
        self.filename = filename
        self.headers = headers if headers is not None else Headers()

    @property
    def content_type(self) -> str | None:
        """The part's `Content-Type` header, if it had one."""
        value: str | None = self.headers.get("content-type")
        return value

    def _in_memory(self, extra: int = 0) -> bool:
        # SpooledTemporaryFile keeps its limit and state in private attributes;
        # any other file object is treated as on-disk (thread it to be safe).
        if not isinstance(self.file, tempfile.SpooledTemporaryFile):
            return False
        if getattr(self.file, "_rolled", True):
            return False
        max_size: int = getattr(self.file, "_max_size", 0)
        if not max_size:
            return True
        return self.file.tell() + extra <= max_size

    async def write(self, data: bytes) -> None:
        """Append `data` (a write that would spill the spool runs in a thread)."""
        if self.size is not None:
            self.size += len(data)
        if self._in_memory(len(data)):
            self.file.write(data)
        else:
            await anyio.to_thread.run_sync(self.file.write, data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all remaining by default)."""
        if self._in_memory():
            return self.file.read(size)
        return await anyio.to_thread.run_sync(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to byte `offset`."""
        if self._in_memory():
            self.file.seek(offset)
        else:
            await anyio.to_thread.run_sync(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file (a spooled temporary file is deleted)."""
        if self._in_memory():
            self.file.close()
        else:
            await anyio.to_thread.run_sync(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, size={self.size!r}, "
            f"headers={self.headers!r})"
        )


def spool_in_memory(upload: UploadFile, data: bytes) -> bool:
    """Make `data` the content of `upload`'s fresh, empty in-memory spool, without a copy.

    Writing a file chunk by chunk into a `SpooledTemporaryFile` grows its
    `BytesIO` again and again, and every growth may copy everything written
    so far: a 1 MiB upload in 64 KiB chunks cost about five copies of the
    file.  A `BytesIO` built from a `bytes` object shares it instead (and
    `read()` of all of it hands the same object back), so the form parser
    joins a file's chunks once and hands the result over here.

    Only for a spool that is not rolled over, still empty, and that `data`
    fits in (its `_file` is the `BytesIO` that `SpooledTemporaryFile`
    creates: a private attribute, hence every check).  Returns False when
    any check fails; the caller then writes `data` the ordinary way.
    """
    file = upload.file
    if not isinstance(file, tempfile.SpooledTemporaryFile) or getattr(file, "_rolled", True):
        return False
    buffer = getattr(file, "_file", None)
    max_size: int = getattr(file, "_max_size", 0)
    if type(buffer) is not io.BytesIO or (max_size and len(data) > max_size):
        return False
    position = buffer.tell()
    if buffer.seek(0, io.SEEK_END) != 0:  # not empty: leave it as it was
        buffer.seek(position)
        return False
    # The spool's own state is unchanged: same max_size, not rolled, position 0.
    file._file = io.BytesIO(data)
    if upload.size is not None:
        upload.size += len(data)
    return True


class FormData(ImmutableMultiDict[str, "str | UploadFile"]):
    """Parsed form fields: a read-only multidict of `str` or `UploadFile` values.

    `await form.close()` closes every uploaded file in it.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    async def close(self) -> None:
        """Close every `UploadFile` in the form."""
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
