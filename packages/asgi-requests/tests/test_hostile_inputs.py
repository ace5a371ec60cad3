"""Hostile request bodies, one row per attack (named after it and its advisory).

Each row drives a small ASGI app that reads the body the way an endpoint would
and renders any `HTTPException` as its status and detail (standing in for the
exception middleware).  Every row asserts the status, the message, that it
finished within a time bound, and that peak memory stayed far below the size
of the attack body (bodies are generated lazily, 64 KiB at a time).
URL/Host attacks live in test_url.py.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from flagstone_contract import MAX_BODY_SIZE_KEY, HTTPException
from flagstone_requests import Request, UploadFile

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
B = b"hostile0boundary"
MULTIPART = f"multipart/form-data; boundary={B.decode()}"
URLENCODED = "application/x-www-form-urlencoded"

Segments = list[tuple[bytes, int]]


def part_head(name: str, filename: str | None = None, extra: bytes = b"") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        b"--" + B + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n" + extra + b"\r\n"
    )


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    return part_head(name, filename) + value + b"\r\n"


END = b"--" + B + b"--\r\n"


@dataclass
class Attack:
    segments: Segments
    content_type: str | None = MULTIPART
    read: str = "form"  # form | json | body
    limits: dict[str, Any] = field(default_factory=dict)
    scope_extra: dict[str, Any] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 400
    message: str = ""
    max_receive_calls: int | None = None
    # Peak memory allowed: a few MiB, or what a default in-memory limit allows.
    peak_limit: int = 5 * 1024 * 1024

    @property
    def size(self) -> int:
        return sum(len(unit) * times for unit, times in self.segments)


ATTACKS: dict[str, Attack] = {
    # GHSA-74m5-2c7w-9w3x / CVE-2023-30798: thousands of fields or files.
    "multipart_many_fields_cve_2023_30798": Attack(
        [(part("f", b"1"), 5000), (END, 1)], message="Maximum number of fields is 1000."
    ),
    "multipart_many_files_cve_2023_30798": Attack(
        [(part("f", b"1", filename="a"), 5000), (END, 1)],
        message="Maximum number of files is 1000.",
    ),
    # GHSA-82w8-qh3p-5jfq / CVE-2026-54283: the same through urlencoded.
    "urlencoded_many_fields_cve_2026_54283": Attack(
        [(b"a=1&", 200_000)], URLENCODED, message="Maximum number of fields is 1000."
    ),
    "urlencoded_huge_value_cve_2026_54283": Attack(
        [(b"a=", 1), (b"x", 8 * MiB)],
        URLENCODED,
        status=400,
        message="form field 'a' exceeds the maximum part size of 1048576 bytes (1 MiB) (max_part_size)",
    ),
    "urlencoded_huge_name_cve_2026_54283": Attack(
        [(b"n", 8 * MiB), (b"=1", 1)], URLENCODED, status=400, message="(max_part_size)"
    ),
    # GHSA-f96h-pmfr-66vw / CVE-2024-47874: a huge part without filename.
    "multipart_huge_field_without_filename_cve_2024_47874": Attack(
        [(part_head("big"), 1), (b"x", 8 * MiB), (b"\r\n" + END, 1)],
        status=400,
        message="form field 'big' exceeds the maximum part size of 1048576 bytes (1 MiB) (max_part_size)",
    ),
    # Starlette: file parts skip max_part_size, so uploads are unbounded.
    "multipart_huge_file_past_max_file_size": Attack(
        [(part_head("f", "big.bin"), 1), (b"x", 8 * MiB), (b"\r\n" + END, 1)],
        limits={"max_file_size": MiB},
        status=413,
        message="Uploaded file 'big.bin' exceeds the maximum file size of 1048576 bytes (1 MiB) (max_file_size)",
    ),
    "multipart_huge_file_past_max_body_size": Attack(
        [(part_head("f", "big.bin"), 1), (b"x", 8 * MiB), (b"\r\n" + END, 1)],
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
    ),
    # Starlette #890/#2155: a 30 GB JSON body; rejected before a byte is read.
    "json_declared_length_over_max_body_size": Attack(
        [(b"[", 8 * MiB)],
        "application/json",
        read="json",
        headers=[("content-length", str(30 * 1024 * MiB))],
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
        max_receive_calls=0,
    ),
    "json_chunked_over_max_body_size": Attack(
        [(b"[1,", 3 * MiB)],
        "application/json",
        read="json",
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
    ),
    # GHSA-v9pg-7xvm-68hf: a negative Content-Length must not disable the count.
    "negative_content_length_ghsa_v9pg": Attack(
        [(b"x", 4 * MiB)],
        "application/octet-stream",
        read="body",
        headers=[("content-length", "-1")],
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
    ),
    # A non-ASCII digit passes str.isdigit() but not int(): must not be a 500.
    "content_length_superscript_digits": Attack(
        [(b"x", 2 * MiB)],
        "application/octet-stream",
        read="body",
        headers=[("content-length", "\u00b2\u00b3")],
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
    ),
    # int() refuses > 4300 digits (CVE-2020-10735 guard): must not be a 500.
    "content_length_5000_digits": Attack(
        [(b"x", 2 * MiB)],
        "application/octet-stream",
        read="body",
        headers=[("content-length", "9" * 5000)],
        scope_extra={MAX_BODY_SIZE_KEY: MiB},
        status=413,
        message="Content Too Large",
        max_receive_calls=0,
    ),
    "json_nested_too_deeply": Attack(
        [(b"[", 1 * MiB)],
        "application/json",
        read="json",
        message="Invalid JSON in request body: nested too deeply",
    ),
    # GHSA-pp6c-gr5w-3c5g / CVE-2026-42561: endless or giant part headers.
    "multipart_endless_part_headers_cve_2026_42561": Attack(
        [(part_head("f")[:-2], 1), (b"X-Pad: 1\r\n", 100_000), (b"\r\n1\r\n" + END, 1)],
        message="more than 8 headers (max_part_header_count)",
    ),
    "multipart_giant_part_header_cve_2026_42561": Attack(
        [(b"--" + B + b"\r\nX-Big: ", 1), (b"v", 4 * MiB), (b"\r\n\r\n1\r\n" + END, 1)],
        message="larger than 4096 bytes (max_part_header_size)",
    ),
    # python-multipart #282: boundaries far beyond RFC 2046's 70 characters.
    "multipart_boundary_too_long": Attack(
        [(b"--" + b"b" * 5000 + b"--\r\n", 1)],
        "multipart/form-data; boundary=" + "b" * 5000,
        message="the multipart boundary is 5000 bytes long; the maximum is 256 bytes",
    ),
    "multipart_missing_boundary": Attack(
        [(END, 1)], "multipart/form-data", message="Missing boundary in multipart."
    ),
    # GHSA-2jv5-9r88-3w3p / CVE-2024-24762: ReDoS in Content-Type parameters.
    "content_type_redos_cve_2024_24762": Attack(
        [(END, 1)],
        "multipart/form-data; boundary=" + B.decode() + '; a="' + "\\" * 50_000 + "'",
        status=200,
        message="",
    ),
    # GHSA-59g5-xgcq-4qw3 / CVE-2024-53981: CR/LF padding before the first boundary.
    "multipart_crlf_padding_before_first_boundary_cve_2024_53981": Attack(
        [(b"\r\n", 2 * MiB), (part("a", b"1"), 1), (END, 1)],
        status=200,
        message="a=1",
    ),
    # GHSA-mj87-hwqh-73pj / CVE-2026-40347: huge preamble and epilogue.  A
    # text preamble is refused by python-multipart at its first byte.
    "multipart_huge_preamble_cve_2026_40347": Attack(
        [(b"preamble ", MiB), (b"\r\n", 1), (part("a", b"1"), 1), (END, 1)],
        message="python-multipart: Expected boundary character",
    ),
    "multipart_huge_epilogue_cve_2026_40347": Attack(
        [(part("a", b"1"), 1), (END, 1), (b"epilogue ", MiB)],
        status=200,
        message="a=1",
    ),
    # PYSEC-2026-3041: RFC 2231 `filename*=` smuggling; the plain parameter wins.
    "multipart_rfc2231_filename_smuggling_pysec_2026_3041": Attack(
        [
            (
                b"--" + B + b'\r\nContent-Disposition: form-data; name="f"; '
                b"filename*=utf-8''evil.php; filename=\"safe.txt\"\r\n\r\nx\r\n",
                1,
            ),
            (END, 1),
        ],
        status=200,
        message="f=file:safe.txt",
    ),
    "multipart_rfc2231_oversized_index_pysec_2026_3041": Attack(
        [
            (
                b"--"
                + B
                + b'\r\nContent-Disposition: form-data; name="f"; filename*'
                + b"9" * 4300
                + b'=x; filename="safe.txt"\r\n\r\nx\r\n',
                1,
            ),
            (END, 1),
        ],
        # A 4300-digit index cannot even fit in one part header.
        message="larger than 4096 bytes (max_part_header_size)",
    ),
    "multipart_rfc2231_long_index_within_header_limit": Attack(
        [
            (
                b"--"
                + B
                + b'\r\nContent-Disposition: form-data; name="f"; filename*'
                + b"9" * 3000
                + b'=x; filename="safe.txt"\r\n\r\nx\r\n',
                1,
            ),
            (END, 1),
        ],
        status=200,
        message="f=file:safe.txt",
    ),
    # GHSA-5rvq-cxj2-64vf / GHSA-6jv3-5f52-599m: ";" is data, not a separator.
    "urlencoded_semicolon_parameter_smuggling": Attack(
        [(b"role=user;role=admin", 1)],
        URLENCODED,
        status=200,
        message="role=user;role=admin",
    ),
    "multipart_truncated_body": Attack(
        [(part_head("f", "a.bin"), 1), (b"x", 100_000)],
        message="ended before the closing boundary",
    ),
    # Issue 18: every charset a client can name ends in a decode or the
    # latin-1 fallback; punycode's decoder is quadratic (a 1 MiB field would
    # cost ~45 s), so it must never run on client data.
    **{
        f"multipart_charset_{codec}_is_no_text_encoding": Attack(
            [(part("a", b"x" * 500_000 + b"-" + b"y" * 400_000), 1), (END, 1)],
            f"{MULTIPART}; charset={codec}",
            status=200,
            message="a=xxxx",
        )
        for codec in ("base64", "rot13", "hex", "zlib", "punycode", "undefined", "idna")
    },
    # Issue 18: a body of only "&" completes no field, so max_fields never
    # fires; runs of "&" are collapsed before python-multipart sees them.
    "urlencoded_only_separators_16_mib": Attack(
        [(b"&", 16 * MiB)], URLENCODED, status=200, message=""
    ),
    # Issue 18: a number past Python's integer-digit limit is named as such.
    "json_integer_of_5000_digits": Attack(
        [(b"1", 5000)],
        "application/json",
        read="json",
        message="integer-digit limit",
    ),
    # Issue 18: with nothing configured, json() still refuses a huge body.
    "json_over_the_default_limit_without_max_body_size": Attack(
        [(b'"' + b"x" * (64 * 1024 - 1), 1), (b"x" * (64 * 1024), 170)],
        "application/json",
        read="json",
        status=413,
        message="DEFAULT_MAX_JSON_SIZE",
        peak_limit=16 * MiB,  # bounded by the 10 MiB default, not by the body
    ),
    # Issue 18: 1000 fields of ~1 MiB would be 1 GiB of memory; the form's
    # in-memory fields have a default budget.
    "urlencoded_fields_over_the_default_memory_budget": Attack(
        [(b"a=" + b"x" * (MiB - 100) + b"&", 12)],
        URLENCODED,
        status=413,
        message="(max_form_memory_size)",
        peak_limit=16 * MiB,  # bounded by the 10 MiB default, not by the body
    ),
}


def lazy_chunks(segments: Segments, size: int = 64 * 1024) -> Iterator[bytes]:
    buf = bytearray()
    for unit, times in segments:
        per = max(1, size // len(unit))
        while times > 0:
            n = min(per, times)
            buf += unit * n
            times -= n
            while len(buf) >= size:
                yield bytes(buf[:size])
                del buf[:size]
    if buf:
        yield bytes(buf)


def summarize(form: Any) -> str:
    items = []
    for name, value in form.multi_items():
        shown = f"file:{value.filename}" if isinstance(value, UploadFile) else value
        items.append(f"{name}={shown}")
    return "&".join(items)


async def run_attack(
    attack: Attack, http_scope: Callable[..., dict[str, Any]]
) -> tuple[int, str, int]:
    headers = list(attack.headers)
    if attack.content_type is not None:
        headers.append(("content-type", attack.content_type))
    scope = http_scope("/upload", method="POST", headers=headers, **attack.scope_extra)
    chunks = lazy_chunks(attack.segments)
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive, send)
        try:
            if attack.read == "form":
                detail = summarize(await request.form(**attack.limits))
            elif attack.read == "json":
                await request.json()
                detail = ""
            else:
                await request.body()
                detail = ""
            status = 200
        except HTTPException as exc:
            # The detail is Starlette's text; the notes name the limit.
            status = exc.status_code
            detail = "\n".join([exc.detail, *getattr(exc, "__notes__", ())])
        finally:
            await request.close()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": detail.encode()})

    await app(scope, receive, send)
    return sent[0]["status"], sent[1]["body"].decode(), calls


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
async def test_hostile_body(attack: Attack, http_scope: Callable[..., dict[str, Any]]) -> None:
    tracemalloc.start()
    try:
        with anyio.fail_after(30):
            status, detail, calls = await run_attack(attack, http_scope)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == attack.status, detail
    assert attack.message in detail
    if attack.max_receive_calls is not None:
        assert calls <= attack.max_receive_calls
    # Bounded memory: a few MiB at most (or a default limit), whatever the size of the attack.
    assert peak < attack.peak_limit, f"peak {peak} bytes for a {attack.size}-byte body"
