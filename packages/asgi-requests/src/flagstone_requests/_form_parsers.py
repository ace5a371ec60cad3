"""`FormParser` and `MultiPartParser`: Starlette's form parser classes, on flagstone's parsers.

Frameworks that validate form data themselves build the parser from the
request's headers and body stream instead of calling `request.form()`:

    parser = MultiPartParser(request.headers, request.stream(), max_files=10)
    form = await parser.parse()

Same constructors and `parse()` contract as Starlette's; the parsing, the
limits and the error texts are `request.form()`'s (`_forms`).  Errors are
`MultiPartException`s (so `except MultiPartException` catches them, as with
Starlette) that are also `HTTPException`s (400, or 413 for a part over
`max_part_size`), so they render as client errors wherever they escape.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from ._datastructures import FormData, Headers, UploadFile
from ._forms import FormLimits, NextChunk, parse_multipart, parse_urlencoded

__all__ = ["FormParser", "MultiPartParser"]


def _chunks_of(stream: AsyncIterable[bytes]) -> NextChunk:
    """`next_chunk()` over `stream`: the next non-empty chunk, None at the end."""
    iterator: AsyncIterator[bytes] = aiter(stream)

    async def next_chunk() -> bytes | None:
        async for chunk in iterator:
            if chunk:
                return chunk
        return None

    return next_chunk


class FormParser:
    """Parse an `application/x-www-form-urlencoded` body from `stream` (Starlette's class).

    `max_fields` caps the number of fields, `max_part_size` the bytes of
    one field (name and value).  `await parse()` returns the `FormData`.
    """

    # The constructor's defaults; `headers` and `stream` are set by `__init__`.
    max_fields: int | float = 1000
    max_part_size: int = 1024 * 1024

    def __init__(
        self,
        headers: Headers,
        stream: AsyncIterable[bytes],
        *,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_fields = max_fields
        self.max_part_size = max_part_size

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields, in order."""
        limits = FormLimits(max_fields=self.max_fields, max_part_size=self.max_part_size)
        return await parse_urlencoded(_chunks_of(self.stream), limits)


class MultiPartParser:
    """Parse a `multipart/form-data` body from `stream` (Starlette's class).

    The boundary and charset come from `headers["content-type"]`.  Limits:
    `max_files` file parts, `max_fields` other parts, `max_part_size` bytes
    of one non-file part; files spool to disk past `spool_max_size` bytes
    (a class attribute, as in Starlette).  `await parse()` returns the
    `FormData`; on an error every file it opened is closed.
    """

    # The constructor's defaults; `headers` and `stream` are set by `__init__`.
    max_files: int | float = 1000
    max_fields: int | float = 1000

    spool_max_size: int = 1024 * 1024
    """Bytes of one uploaded file kept in memory before it spools to disk."""
    max_part_size: int = 1024 * 1024
    """Bytes of one non-file part (overridden by the constructor argument)."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncIterable[bytes],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size

    async def parse(self) -> FormData:
        """Read the whole stream and return its fields and files, in order."""
        limits = FormLimits(
            max_files=self.max_files,
            max_fields=self.max_fields,
            max_part_size=self.max_part_size,
            spool_max_size=self.spool_max_size,
        )
        created: list[UploadFile] = []
        try:
            return await parse_multipart(self.headers, _chunks_of(self.stream), limits, created)
        except BaseException:
            # The form is lost with the error: its files belong to no one.
            for upload in created:
                upload.file.close()
            raise
