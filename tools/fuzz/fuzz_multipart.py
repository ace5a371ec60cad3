"""Fuzz target: `multipart/form-data` through `Request.form()` on a direct ASGI call.

Input layout: byte 0 picks the chunk size the body arrives in; the rest, up
to the first newline, is appended to `multipart/form-data; ` as the
Content-Type parameters (so boundaries and charsets are fuzzed too); what
follows the newline is the body.  Without a newline the boundary is `b`.
"""

from __future__ import annotations

from fuzz_common import call_form, split_chunks

NAME = "multipart"

SEEDS = [
    b'\x00boundary=b\n--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
    b'\x07boundary=xyz\n--xyz\r\nContent-Disposition: form-data; name="f"; '
    b'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz\r\n'
    b'Content-Disposition: form-data; name="g"\r\n\r\nv\r\n--xyz--\r\n',
    b'\x03boundary="q q"; charset=latin-1\n--q q\r\nContent-Disposition: form-data; '
    b"name*=UTF-8''%C3%A9\r\n\r\n\xe9\r\n--q q--",
    # Charsets a client can name that are no text encoding (issue 18, item 1):
    # each must end in a decode or the latin-1 fallback, never an exception.
    *(
        b"\x05boundary=b; charset="
        + codec
        + b'\n--b\r\nContent-Disposition: form-data; name="\xff"'
        b'\r\n\r\n\xff\xfe=\\N{x}\r\n--b\r\nContent-Disposition: form-data; name="f"; '
        b'filename="\xe9"\r\n\r\nx\r\n--b--\r\n'
        for codec in (
            b"base64",
            b"rot13",
            b"hex",
            b"zlib",
            b"bz2",
            b"uu",
            b"quopri",
            b"punycode",
            b"undefined",
            b"idna",
            b"unicode_escape",
            b"utf-8\x00",
            b"utf-16",
            b"utf-7",
        )
    ),
]


def check(data: bytes) -> None:
    """Parse one fuzzed multipart request; only documented errors may escape."""
    if not data:
        return
    chunk_size, rest = data[0], data[1:]
    params, newline, body = rest.partition(b"\n")
    if not newline:
        params, body = b"boundary=b", rest
    call_form(b"multipart/form-data; " + params, split_chunks(body, chunk_size))
