"""Property tests: any generated form survives the trip through flagstone, field for field.

Forms are sent with flagstone's `TestClient` (httpx encodes them, as a real
client would) to an `App` endpoint that parses them with `Request.form()`
and echoes every item back, in order, as JSON.  Urlencoded bodies are sent
as `urlencode(pairs)` so that interleaved repeated keys keep their order;
multipart forms go through httpx's own encoder, files included.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagstone import App, JSONResponse, Request, Route, TestClient, UploadFile

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as browsers send it: no surrogates (not encodable as UTF-8).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
# Multipart field names and filenames travel inside a quoted header
# parameter: control characters cannot appear in a header at all, and
# clients escape `"` (and CR/LF) WHATWG-style as `%22`, which servers --
# python-multipart, Starlette, flagstone -- do not reverse; so `"`, `\`
# and `%` are left out.
header_safe_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\\%'),
    min_size=1,
    max_size=15,
)
content_types = st.sampled_from(
    ["text/plain", "application/octet-stream", "image/png", "application/json"]
)
files = st.tuples(header_safe_text, header_safe_text, st.binary(max_size=3000), content_types)


async def echo_form(request: Request) -> JSONResponse:
    items: list[dict[str, Any]] = []
    async with request.form() as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                items.append(
                    {
                        "name": name,
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": value.size,
                        "content": base64.b64encode(content).decode("ascii"),
                    }
                )
            else:
                items.append({"name": name, "value": value})
    return JSONResponse(items)


app = App(routes=[Route("/form", echo_form, methods=["POST"])])


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with TestClient(app, backend=request.param) as test_client:
        yield test_client


@FAST
@given(pairs=st.lists(st.tuples(any_text, any_text), max_size=10))
def test_urlencoded_form_round_trips(client: TestClient, pairs: list[tuple[str, str]]) -> None:
    response = client.post(
        "/form",
        content=urlencode(pairs).encode("ascii"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json() == [{"name": k, "value": v} for k, v in pairs]


@FAST
@given(
    fields=st.lists(st.tuples(header_safe_text, any_text), max_size=6),
    uploads=st.lists(files, max_size=4),
)
def test_multipart_form_round_trips(
    client: TestClient,
    fields: list[tuple[str, str]],
    uploads: list[tuple[str, str, bytes, str]],
) -> None:
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    # httpx sends data fields grouped by name (dict order), then the files.
    expected_fields = [{"name": name, "value": v} for name, values in data.items() for v in values]
    expected_files = [
        {
            "name": name,
            "filename": filename,
            "content_type": ctype,
            "size": len(content),
            "content": base64.b64encode(content).decode("ascii"),
        }
        for name, filename, content, ctype in uploads
    ]
    if uploads:
        response = client.post(
            "/form",
            data=data,
            files=[(n, (filename, content, ctype)) for n, filename, content, ctype in uploads],
        )
    else:
        # Without files httpx would send urlencoded: write the multipart body.
        response = client.post(
            "/form",
            content=_multipart_fields(fields, "fuzzbound"),
            headers={"content-type": "multipart/form-data; boundary=fuzzbound"},
        )
        expected_fields = [{"name": k, "value": v} for k, v in fields]
    assert response.status_code == 200, response.text
    assert response.json() == expected_fields + expected_files


def _multipart_fields(fields: list[tuple[str, str]], boundary: str) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode()
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


@settings(FAST, max_examples=8)
@given(seed=st.binary(min_size=1, max_size=64), size=st.integers(0, 3 * 1024 * 1024 // 2))
def test_large_file_round_trips_byte_for_byte(client: TestClient, seed: bytes, size: int) -> None:
    # Past spool_max_size (1 MiB) the upload spools to disk: still the same bytes.
    content = (seed * (size // len(seed) + 1))[:size]
    response = client.post("/form", files={"f": ("big.bin", content, "application/octet-stream")})
    assert response.status_code == 200
    [item] = response.json()
    assert item["size"] == len(content)
    assert base64.b64decode(item["content"]) == content
