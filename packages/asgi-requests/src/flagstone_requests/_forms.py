"""Form parsing: `application/x-www-form-urlencoded` and `multipart/form-data`.

Both encodings are parsed one body chunk at a time (multipart by
python-multipart's push parser, urlencoded by `_UrlencodedReader`), so memory
stays bounded by the limits below rather than by the body.  Every limit holds
in BOTH encodings where it makes sense (Starlette applied them to multipart
only until GHSA-82w8-qh3p-5jfq), and every error names the limit that was
hit:

- `max_fields`: non-file fields.  Stops CPU/memory exhaustion through
  millions of tiny fields (GHSA-74m5-2c7w-9w3x).
- `max_files`: file parts (same advisory).
- `max_part_size`: bytes of one non-file field, name + value for urlencoded.
  Stops a giant field being buffered in memory (GHSA-f96h-pmfr-66vw).
- `max_file_size`: bytes of one uploaded file.  Starlette has no such limit,
  so without a body limit an upload could fill the disk.
- `max_form_memory_size` (default `DEFAULT_MAX_FORM_MEMORY_SIZE`, 10 MiB):
  bytes of all non-file fields together, the part of a form held in memory
  (Django's DATA_UPLOAD_MAX_MEMORY_SIZE, Werkzeug's max_form_memory_size).
  Without it, 1000 fields of 1 MiB each would be 1 GiB of memory per request.
- `max_part_header_count` / `max_part_header_size`: headers of one multipart
  part.  Stops endless or giant part headers (GHSA-pp6c-gr5w-3c5g).
- `MAX_BOUNDARY_LENGTH`: a boundary is matched at every byte of the body, so
  a huge one makes parsing quadratic.

Count and syntax errors are `FormError` (400); size errors `ContentTooLarge`
(413) -- Starlette answers 400 for an oversized field; 413 says what it is.
The texts are Starlette's (`Too many fields. Maximum number of fields is
1000.`, `Invalid multipart data.` for any unparseable multipart body); the
limit that was hit is named in a note on the exception (`exc.__notes__`).
"""

from __future__ import annotations

import codecs
import re
import tempfile
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ._datastructures import FormData, Headers, UploadFile
from ._exceptions import ContentTooLarge, FormError, FormTooLarge
from ._uploads import spool_in_memory

_E = TypeVar("_E", bound=BaseException)

__all__ = [
    "DEFAULT_MAX_FORM_MEMORY_SIZE",
    "MAX_BOUNDARY_LENGTH",
    "FormLimits",
    "decode_text",
    "disposition_params",
    "form_charset",
    "parse_form",
    "parse_multipart",
    "parse_urlencoded",
]

MAX_BOUNDARY_LENGTH = 256
"""RFC 2046 allows 70 characters; 256 is python-multipart's own cap (so Starlette's too)."""

DEFAULT_MAX_FORM_MEMORY_SIZE = 10 * 1024 * 1024
"""The default `max_form_memory_size` of `request.form()`: 10 MiB of non-file fields.

Uploaded files are not counted (they spool to disk past `spool_max_size`);
pass `max_form_memory_size=None` to lift the limit.
"""


class FormLimits(NamedTuple):
    """The limits one `request.form(...)` call parses under.

    A NamedTuple: built on every `form()` call, and a frozen dataclass
    costs several times more to construct.
    """

    max_files: int | float = 1000
    max_fields: int | float = 1000
    max_part_size: int = 1024 * 1024
    max_file_size: int | None = None
    max_part_header_count: int = 8
    max_part_header_size: int = 4096
    spool_max_size: int = 1024 * 1024
    max_form_memory_size: int | None = None


def _size(n: int) -> str:
    # Starlette prints n // 1024 "KB", which reads "0KB" for small limits.
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n} bytes ({n // (1024 * 1024)} MiB)"
    if n >= 1024 and n % 1024 == 0:
        return f"{n} bytes ({n // 1024} KiB)"
    return f"{n} bytes"


# Codecs that Python calls text encodings but that are no charset a form can
# be sent in: `punycode` decodes in quadratic time (a 1 MiB field costs
# ~45 s of CPU), `undefined` always raises, the escape codecs interpret
# backslashes (and warn), and `idna` is for host names.
_NOT_CHARSETS = frozenset({"punycode", "idna", "undefined", "unicode-escape", "raw-unicode-escape"})


def form_charset(declared: bytes | str) -> str:
    """The codec to decode form text with: `declared` if it names a text charset, else latin-1.

    A client names the charset, so every name must end in a usable codec,
    never an exception: unknown names (`LookupError`), codecs that are not
    text encodings (`base64`, `rot13`, `hex`, `zlib`: bytes-to-bytes, their
    `decode` raises) and the codecs in `_NOT_CHARSETS` all fall back to
    latin-1, as Starlette falls back for unknown names.
    """
    name = declared.decode("latin-1") if isinstance(declared, bytes) else declared
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        # ValueError: a name with a NUL byte ("utf-8\x00") is refused by the
        # codec registry with ValueError, not LookupError.
        return "latin-1"
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return "latin-1"
    return info.name


def decode_text(raw: bytes | bytearray, charset: str) -> str:
    """Decode one form text (field name, value, file name): the one rule for every form.

    Starlette 1.10's rule, for urlencoded and multipart alike: decode with
    the charset (`form_charset`; UTF-8 unless the request says otherwise),
    and if the bytes are not valid in it, decode them as latin-1.  Nothing
    is refused and nothing is lost: `value.encode("latin-1")` gives back the
    exact bytes the client sent.  (Before, flagstone answered 400 to invalid
    UTF-8 in a multipart field and replaced it with U+FFFD in urlencoded.)
    """
    try:
        return raw.decode(charset)
    except ValueError:
        # UnicodeDecodeError, the bare UnicodeError some codecs raise, or any
        # other complaint of a codec: all ValueErrors.
        return raw.decode("latin-1")


# The texts clients and ported tests see are Starlette's, word for word
# (detail, str(exc), args); which limit was hit and how to change it goes
# into a note (shown in tracebacks and logs), never into the text.

INVALID_MULTIPART = "Invalid multipart data."
"""Starlette's 400 text for a multipart body it cannot parse (whatever the cause)."""


def _noted(exc: _E, note: str) -> _E:
    exc.add_note(f"flagstone: {note}")
    return exc


def invalid_multipart(why: str) -> FormError:
    """400 `Invalid multipart data.`, with `why` in a note."""
    return _noted(FormError(INVALID_MULTIPART), why)


def too_many_fields(limit: int | float) -> FormError:
    return _noted(
        FormError(f"Too many fields. Maximum number of fields is {limit}."),
        f"the limit is max_fields={limit}; request.form(max_fields=...) changes it",
    )


def too_many_files(limit: int | float) -> FormError:
    return _noted(
        FormError(f"Too many files. Maximum number of files is {limit}."),
        f"the limit is max_files={limit}; request.form(max_files=...) changes it",
    )


def part_too_large(name: str, limit: int, *, urlencoded: bool = False) -> FormError:
    # Starlette's status (400) and texts, "KB" rounding down included (a
    # 100-byte limit reads "0KB"): the note gives the exact figure.
    what = "Field" if urlencoded else "Part"
    return _noted(
        FormError(f"{what} exceeded maximum size of {int(limit / 1024)}KB."),
        f"form field {name!r} exceeds the maximum part size of {_size(limit)} "
        "(max_part_size); request.form(max_part_size=...) changes it",
    )


def file_too_large(filename: str | None, limit: int) -> ContentTooLarge:
    return FormTooLarge(
        f"Uploaded file {filename!r} exceeds the maximum file size of {_size(limit)} "
        "(max_file_size).",
        limit=limit,
    )


def form_memory_too_large(limit: int) -> ContentTooLarge:
    return FormTooLarge(
        f"The form's non-file fields exceed {_size(limit)} in total (max_form_memory_size).",
        limit=limit,
    )


NextChunk = Callable[[], Awaitable[bytes | None]]


async def parse_form(
    headers: Headers,
    next_chunk: NextChunk,
    limits: FormLimits,
    created: list[UploadFile],
) -> FormData:
    """Parse the body by its Content-Type; other types give an empty form.

    `next_chunk()` returns the next non-empty body chunk, or None at the end.

    Every `UploadFile` made is appended to `created` as soon as it exists, so
    the caller can close it even when parsing fails half way.
    """
    content_type, options = parse_options_header(headers.get("content-type", ""))
    if content_type == b"multipart/form-data":
        return await _MultipartReader(options, limits, created).parse(next_chunk)
    if content_type == b"application/x-www-form-urlencoded":
        return await _UrlencodedReader(limits).parse(next_chunk)
    # Starlette-compatible: any other type (or none) is an empty form.
    return FormData()


async def parse_urlencoded(next_chunk: NextChunk, limits: FormLimits) -> FormData:
    """Parse an `application/x-www-form-urlencoded` body, whatever the Content-Type says."""
    return await _UrlencodedReader(limits).parse(next_chunk)


async def parse_multipart(
    headers: Headers, next_chunk: NextChunk, limits: FormLimits, created: list[UploadFile]
) -> FormData:
    """Parse a `multipart/form-data` body with the boundary (and charset) of its Content-Type."""
    _, options = parse_options_header(headers.get("content-type", ""))
    return await _MultipartReader(options, limits, created).parse(next_chunk)


# Byte values, not b"%": `37 in raw` is much faster than `b"%" in raw`.
_PERCENT, _PLUS = ord("%"), ord("+")


def _decode_urlencoded(raw: bytes) -> str:
    # Bytes first, then the text rule: a value sent as raw UTF-8 and one sent
    # percent-encoded decode the same (Starlette decodes raw bytes as latin-1).
    if _PERCENT in raw or _PLUS in raw:
        raw = unquote_to_bytes(raw.replace(b"+", b" "))
    return decode_text(raw, "utf-8")


class _UrlencodedReader:
    """Splits `a=1&b=2` bodies into fields, chunk by chunk, with C string methods.

    python-multipart's QuerystringParser hands each name and value over in
    Python callbacks, which cost more than the rest of a small form request
    together; splitting a chunk on `&` and each field on `=` in C gives the
    same fields for a fraction.  The grammar is that parser's (not strict):
    fields are separated by `&`, empty fields are skipped, a name runs to the
    first `=`, a field without `=` is a name with an empty value, and `;` is
    data (as in Starlette).

    A field that runs past the end of a chunk is carried, as a list of
    pieces, into the next one; it is checked against max_part_size and the
    memory budget as it grows, so a giant field is refused before it is
    held.
    """

    def __init__(self, limits: FormLimits) -> None:
        self.max_part_size = limits.max_part_size
        self.max_fields = limits.max_fields
        # Bytes of completed fields, against max_form_memory_size.
        self.memory = limits.max_form_memory_size
        self.kept = 0
        self.fields = 0
        self.items: list[tuple[str, str | UploadFile]] = []
        # The field in progress: its pieces (no `&` in them), their size, and
        # whether its `=` (which counts toward no limit) is among them.
        self.rest: list[bytes] = []
        self.rest_size = 0
        self.rest_equals = False

    def feed(self, chunk: bytes) -> None:
        """Take one chunk: add the fields it completes, carry the one it leaves open."""
        if _AMPERSAND not in chunk:
            self._carry(chunk)
            return
        if self.rest:
            # Joined once, when the field ends: linear in its size.
            self.rest.append(chunk)
            chunk = b"".join(self.rest)
            self.rest = []
            self.rest_size = 0
            self.rest_equals = False
        last = self._add_fields(chunk)
        if last:
            self._carry(last)

    def finish(self) -> FormData:
        """The form, once the body has ended (an open last field is complete now)."""
        if self.rest:
            self._add(b"".join(self.rest))
        return FormData(self.items)

    def _add_fields(self, data: bytes) -> bytes:
        """Add every complete field of `data`; return the incomplete last one."""
        while True:
            # At most max_fields + 2 pieces: a body of a million tiny fields
            # is refused at field max_fields + 1, not split in full first.
            fields = data.split(b"&", self._split_budget())
            last = fields.pop()
            for field in fields:
                if field:
                    self._add(field)
            if _AMPERSAND not in last:
                return last
            # The budget went to empty fields (at most one per chunk, after
            # _collapse_separators): split the rest.
            data = last

    def _split_budget(self) -> int:
        left = self.max_fields - self.fields
        return int(left) + 2 if left < _UNLIMITED else -1

    def _add(self, field: bytes) -> None:
        name, _, value = field.partition(b"=")
        # Name and value both count toward max_part_size: a 1 GB field NAME
        # is the same attack as a 1 GB value.
        size = len(name) + len(value)
        memory = self.memory
        if size > self.max_part_size or (memory is not None and self.kept + size > memory):
            self._check_size(name, size)
        # Counted when complete: each field is already capped by
        # max_part_size, so the count cannot be outrun in between.
        self.fields += 1
        if self.fields > self.max_fields:
            raise too_many_fields(self.max_fields)
        self.kept += size
        # _decode_urlencoded, inlined: this runs twice per field of every form.
        if _PERCENT in name or _PLUS in name:
            name = unquote_to_bytes(name.replace(b"+", b" "))
        if _PERCENT in value or _PLUS in value:
            value = unquote_to_bytes(value.replace(b"+", b" "))
        self.items.append((decode_text(name, "utf-8"), decode_text(value, "utf-8")))

    def _carry(self, piece: bytes) -> None:
        self.rest.append(piece)
        self.rest_size += len(piece)
        if not self.rest_equals and _EQUALS in piece:
            self.rest_equals = True
        size = self.rest_size - self.rest_equals
        if size > self.max_part_size or (
            self.memory is not None and self.kept + size > self.memory
        ):
            self._check_size(b"".join(self.rest).partition(b"=")[0], size)

    def _check_size(self, name: bytes, size: int) -> None:
        if size > self.max_part_size:
            raise part_too_large(
                _decode_urlencoded(name[:100]), self.max_part_size, urlencoded=True
            )
        memory = self.memory
        if memory is not None and self.kept + size > memory:
            raise form_memory_too_large(memory)

    async def parse(self, next_chunk: NextChunk) -> FormData:
        after_separator = False
        while (chunk := await next_chunk()) is not None:
            chunk = _collapse_separators(chunk, after_separator)
            if chunk:
                after_separator = chunk[-1] == _AMPERSAND
                self.feed(chunk)
        return self.finish()


# max_fields may be float("inf"): no budget for the split then.
_UNLIMITED = 1 << 62
_EQUALS = ord("=")
_AMPERSAND = ord("&")
_SEPARATOR_RUN = re.compile(rb"&{2,}")


def _collapse_separators(chunk: bytes, after_separator: bool) -> bytes:
    """`chunk` with every run of `&` cut to one (and a leading run dropped after an `&`).

    Empty fields (`a=1&&&b=2`) carry nothing and are skipped, but no field
    ever completes, so max_fields never stops a body made only of `&`
    (python-multipart's parser skipped them one byte at a time: 16 MiB cost
    8.5 s of CPU), and splitting it would make millions of empty pieces.
    Collapsing the runs here, in C, keeps the cost of any urlencoded body
    within a small constant of reading it; the parsed form is the same.
    """
    if b"&&" in chunk:
        chunk = _SEPARATOR_RUN.sub(b"&", chunk)
    if after_separator and chunk[:1] == b"&":
        chunk = chunk[1:]
    return chunk


_BACKSLASH, _QUOTE = ord("\\"), ord('"')
_FIELD_PREFIX = b'form-data; name="'


def disposition_params(value: bytes) -> dict[bytes, bytes]:
    """The parameters of a part's Content-Disposition: `{b"name": ..., b"filename": ...}`.

    The same result as python-multipart's `parse_options_header(value)[1]`
    (what Starlette reads them with), for a fraction of the cost on long
    values: that function scans the value several times per part with
    searches that run byte by byte (two-byte needles for backslash escapes,
    quote counts), so a part named with 3.9 KiB cost ~30 us, and a body of
    such parts ~4x a plain upload per byte.

    This takes the common shape, with one-byte `find`s (memchr speed): no
    backslash anywhere, no quote before the first `;`, and each parameter
    either unquoted or with one quoted stretch and no `;` inside it.  Then
    the grammar is plain: parameters are split on `;`, a name runs to the
    first `=`, blanks around names and values go, names with `=` are
    lower-cased, extended `name*=` parameters are ignored (RFC 7578 section 4.2),
    and a value in quotes loses them.  Anything else (escapes, a quoted `;`,
    more quotes) goes to `parse_options_header` itself.
    """
    if _BACKSLASH in value:
        return parse_options_header(value)[1]
    # What every browser sends for a field: `form-data; name="..."`, the
    # only quotes the two around the name, no `;` between them.
    if value.startswith(_FIELD_PREFIX):
        close = value.find(b'"', len(_FIELD_PREFIX))
        if close == len(value) - 1 and value.find(b";", len(_FIELD_PREFIX), close) == -1:
            return {b"name": value[len(_FIELD_PREFIX) : close]}
    start = value.find(b";")
    if start == -1 or value.find(b'"', 0, start) != -1:
        return parse_options_header(value)[1]
    size = len(value)
    options: dict[bytes, bytes] = {}
    while start != -1:
        end = value.find(b";", start + 1)
        stop = size if end == -1 else end
        quote = value.find(b'"', start + 1, stop)
        if quote != -1:
            close = value.find(b'"', quote + 1)
            # A `;` between the quotes, or a third quote: not the plain shape.
            if close == -1 or close > stop:
                return parse_options_header(value)[1]
            if value.find(b'"', close + 1, stop) != -1:
                return parse_options_header(value)[1]
        key, equals, val = value[start + 1 : stop].partition(b"=")
        key = key.strip(b" \t")
        if equals:
            val = val.strip(b" \t")
            # Lower-cased as text, as python-multipart does (it decodes
            # latin-1 first), so a latin-1 letter is lower-cased the same
            # way.  A parameter without `=` keeps its case there, so here too.
            if key != b"name" and key != b"filename":
                key = key.decode("latin-1").lower().encode("latin-1")
        if b"*" not in key:
            if len(val) >= 2 and val[0] == _QUOTE and val[-1] == _QUOTE:
                val = val[1:-1]
            options[key] = val
        start = end
    return options


DISK_WRITE_BATCH = 256 * 1024
"""Bytes of a rolled-over upload gathered before one write in a worker thread."""


class _FileWriter:
    """The bytes of one uploaded file on their way into its spool.

    Chunk by chunk writes into a `SpooledTemporaryFile` cost several copies
    of the file (its `BytesIO` grows and copies) and, once on disk, one
    thread hop per body chunk.  So the chunks are gathered (as views of the
    body chunks, not copies) and written in as few pieces as possible:

    - while the file fits the spool limit, nothing is written until the part
      ends; then the chunks are joined once and become the spool's content
      (`spool_in_memory`: no copy), so no I/O and no thread hop at all;
    - past the limit, the gathered bytes are written at once, in a worker
      thread (the rollover copies them to disk), and from then on every
      `DISK_WRITE_BATCH` bytes, so the event loop never waits for the disk.

    Memory stays what it was: at most the spool limit (or one batch), plus
    the unused rest of the first and last body chunk a view keeps alive.
    """

    __slots__ = ("chunks", "finished", "gathered", "on_disk", "spool_limit", "upload")

    def __init__(self, upload: UploadFile, spool_limit: int) -> None:
        self.upload = upload
        # 0: the spool never rolls over; a negative limit rolls at the first
        # byte (SpooledTemporaryFile tests the limit's truth, then tell() > it).
        self.spool_limit = spool_limit
        self.chunks: list[bytes | memoryview] = []
        self.gathered = 0
        self.on_disk = False
        self.finished = False

    def add(self, data: bytes, start: int, end: int) -> None:
        # A view keeps the body chunk alive instead of copying the slice.
        whole = start == 0 and end == len(data)
        self.chunks.append(data if whole else memoryview(data)[start:end])
        self.gathered += end - start

    def _take(self) -> bytes:
        chunks, self.chunks, self.gathered = self.chunks, [], 0
        return bytes(chunks[0]) if len(chunks) == 1 else b"".join(chunks)

    async def flush(self) -> None:
        """Write what is due: everything once the part ended, else a full batch."""
        if self.finished:
            await self._finish()
        elif self.on_disk:
            if self.gathered >= DISK_WRITE_BATCH:
                await self.upload.write(self._take())
        elif self.spool_limit and self.gathered > self.spool_limit:
            # The rollover: UploadFile.write runs it in a worker thread.
            await self.upload.write(self._take())
            self.on_disk = True

    async def _finish(self) -> None:
        if not self.chunks:
            if self.on_disk:
                await self.upload.seek(0)
            return
        data = self._take()
        if self.on_disk or not spool_in_memory(self.upload, data):
            await self.upload.write(data)
            await self.upload.seek(0)


class _MultipartParser(MultipartParser):
    """python-multipart's parser that collects each part's headers itself.

    The parser reports about eight events per part through `callback(name,
    ...)`; the inherited one builds `"on_" + name`, looks it up, calls
    `typing.cast`, then calls the function.  In a body of many small parts
    that dispatch was a third of the Python work.  Here the header events
    (the most frequent, and trivial) are handled inline, and the rest reach
    the `_MultipartReader` in one call.  A data event without bytes is
    skipped, as the inherited dispatch does.
    """

    def __init__(self, boundary: bytes, reader: _MultipartReader, limits: FormLimits) -> None:
        # The parser checks both header limits before any event reports the
        # bytes (its errors are renamed by `_MultipartReader.parser_error`);
        # the checks below keep them whatever the parser version does.
        super().__init__(
            boundary,
            {},
            max_header_count=limits.max_part_header_count,
            max_header_size=limits.max_part_header_size,
        )
        self.reader = reader
        self.header_limit = limits.max_part_header_size
        self.count_limit = limits.max_part_header_count
        # bytes, not bytearray: a header usually arrives in one event, and
        # b"" + piece is the piece itself (no copy when the header ends).
        self.header_name = b""
        self.header_value = b""
        self.part_headers: list[tuple[bytes, bytes]] = []

    def callback(
        self, name: str, data: bytes | None = None, start: int | None = None, end: int | None = None
    ) -> None:
        # Most frequent first: file data (once per chunk), then one of each
        # per part, in the order they come.
        if name == "part_data":
            if start != end:
                self.reader.on_part_data(data, start, end)  # type: ignore[arg-type]
        elif name == "header_value":
            if start != end:
                self.header_value += data[start:end]  # type: ignore[index]
                if len(self.header_name) + len(self.header_value) > self.header_limit:
                    raise self.reader.header_too_large()
        elif name == "header_field":
            if start != end:
                self.header_name += data[start:end]  # type: ignore[index]
                if len(self.header_name) + len(self.header_value) > self.header_limit:
                    raise self.reader.header_too_large()
        elif name == "header_end":
            if len(self.part_headers) >= self.count_limit:
                raise self.reader.too_many_headers()
            self.part_headers.append((self.header_name.lower(), self.header_value))
            self.header_name = self.header_value = b""
        elif name == "header_begin":
            pass
        elif name == "part_end":
            self.reader.on_part_end()
        elif name == "part_begin":
            self.part_headers = []
            self.header_name = self.header_value = b""
            self.reader.on_part_begin()
        elif name == "headers_finished":
            self.reader.on_headers_finished(self.part_headers)
        elif name == "end":
            self.reader.ended = True


class _MultipartReader:
    """Drives python-multipart's sync callbacks, then does file I/O asynchronously.

    Callbacks only record what to write (`_FileWriter`); after each
    `parser.write(chunk)` the due writes are awaited, so a rollover to disk
    runs off the loop.  Limits are checked inside the callbacks, before the
    bytes are kept.
    """

    def __init__(
        self, options: dict[bytes, bytes], limits: FormLimits, created: list[UploadFile]
    ) -> None:
        boundary = options.get(b"boundary")
        if not boundary:
            raise FormError("Missing boundary in multipart.")
        if len(boundary) > MAX_BOUNDARY_LENGTH:
            raise invalid_multipart(
                f"the multipart boundary is {len(boundary)} bytes long; the maximum is "
                f"{MAX_BOUNDARY_LENGTH} bytes (RFC 2046 allows 70)"
            )
        self.charset = form_charset(options.get(b"charset", b"utf-8"))
        self.limits = limits
        self.created = created
        self.items: list[tuple[str, str | UploadFile]] = []
        self.fields = self.files = 0
        # Bytes of non-file names and values, against max_form_memory_size.
        self.kept = 0
        self.memory = limits.max_form_memory_size
        self.ended = False
        self.seen_bytes = False
        # Per part:
        self.part_size = 0
        self.part_name = ""
        self.part_data = bytearray()
        self.part_writer: _FileWriter | None = None
        # File parts with bytes to write, in order, flushed after each chunk.
        self.pending: list[_FileWriter] = []
        try:
            self.parser = _MultipartParser(boundary, self, limits)
        except FormParserError as exc:
            raise invalid_multipart(f"python-multipart: {exc}") from exc

    def on_part_begin(self) -> None:
        self.part_size = 0
        self.part_data = bytearray()
        self.part_writer = None

    def header_too_large(self) -> FormError:
        return invalid_multipart(
            f"a multipart part header is larger than {self.limits.max_part_header_size} "
            "bytes (max_part_header_size)"
        )

    def too_many_headers(self) -> FormError:
        return invalid_multipart(
            "a multipart part has more than "
            f"{self.limits.max_part_header_count} headers (max_part_header_count)"
        )

    def parser_error(self, exc: FormParserError) -> FormError:
        message = str(exc)
        if message.startswith("Maximum header size exceeded"):
            return self.header_too_large()
        if message.startswith("Maximum header count exceeded"):
            return self.too_many_headers()
        return invalid_multipart(f"python-multipart: {message}")

    def on_headers_finished(self, part_headers: list[tuple[bytes, bytes]]) -> None:
        disposition = b""
        for name, value in part_headers:
            if name == b"content-disposition":
                disposition = value
                break
        options = disposition_params(disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise FormError('The Content-Disposition header field "name" must be provided.')
        self.part_name = decode_text(raw_name, self.charset)
        raw_filename = options.get(b"filename")
        if raw_filename is None:
            self.fields += 1
            if self.fields > self.limits.max_fields:
                raise too_many_fields(self.limits.max_fields)
            self.kept += len(raw_name)
            if self.memory is not None and self.kept > self.memory:
                raise form_memory_too_large(self.memory)
            return
        self.files += 1
        if self.files > self.limits.max_files:
            raise too_many_files(self.limits.max_files)
        # Kept exactly as the client sent it: never use it as a path.
        filename = decode_text(raw_filename, self.charset)
        upload = UploadFile(
            # Owned by the UploadFile; closed by Request.close() or on error.
            tempfile.SpooledTemporaryFile(max_size=self.limits.spool_max_size),  # noqa: SIM115
            size=0,
            filename=filename,
            headers=Headers(raw=part_headers),
        )
        self.created.append(upload)
        self.part_writer = _FileWriter(upload, self.limits.spool_max_size)
        self.pending.append(self.part_writer)
        self.items.append((self.part_name, upload))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.part_size += end - start
        if self.part_writer is not None:
            limit = self.limits.max_file_size
            if limit is not None and self.part_size > limit:
                raise file_too_large(self.part_writer.upload.filename, limit)
            self.part_writer.add(data, start, end)
            return
        if self.part_size > self.limits.max_part_size:
            raise part_too_large(self.part_name, self.limits.max_part_size)
        self.kept += end - start
        if self.memory is not None and self.kept > self.memory:
            raise form_memory_too_large(self.memory)
        self.part_data += data[start:end]

    def on_part_end(self) -> None:
        if self.part_writer is not None:
            self.part_writer.finished = True
        else:
            # A bytearray decodes as it is: no copy to bytes first.
            self.items.append((self.part_name, decode_text(self.part_data, self.charset)))

    async def _flush(self) -> None:
        for writer in self.pending:
            await writer.flush()
        # Finished parts are done with; the part still being read stays.
        if self.pending[-1].finished:
            self.pending.clear()
        elif len(self.pending) > 1:
            del self.pending[:-1]

    async def parse(self, next_chunk: NextChunk) -> FormData:
        try:
            while (chunk := await next_chunk()) is not None:
                self.seen_bytes = True
                self.parser.write(chunk)
                if self.pending:
                    await self._flush()
            self.parser.finalize()
        except FormParserError as exc:
            raise self.parser_error(exc) from exc
        if self.seen_bytes and not self.ended:
            # Starlette silently drops the unfinished last part.
            raise invalid_multipart("the body ended before the closing boundary")
        return FormData(self.items)
