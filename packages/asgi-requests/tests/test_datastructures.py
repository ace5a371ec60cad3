"""Small value types, UploadFile and FormData."""

from __future__ import annotations

import io
import tempfile
import threading
from typing import Any

import pytest

from flagstone_requests import (
    Address,
    CommaSeparatedStrings,
    FormData,
    Headers,
    Secret,
    State,
    UploadFile,
)
from flagstone_requests._uploads import spool_in_memory


def test_address_is_a_named_tuple() -> None:
    addr = Address("1.2.3.4", 80)
    assert addr.host == "1.2.3.4"
    assert addr.port == 80
    host, port = addr
    assert (host, port) == ("1.2.3.4", 80)


def test_secret_and_comma_separated_strings_are_flagstone_configs_objects() -> None:
    """The old import path keeps working and yields the identical classes (one home)."""
    import flagstone_config

    assert Secret is flagstone_config.Secret
    assert CommaSeparatedStrings is flagstone_config.CommaSeparatedStrings
    assert repr(Secret("hunter2")) == "Secret('**********')"
    assert list(CommaSeparatedStrings("a, 'b, c'")) == ["a", "b, c"]


def test_state_attribute_and_item_access_share_the_dict() -> None:
    backing: dict[str, object] = {}
    state = State(backing)
    state.db = "pool"
    assert backing == {"db": "pool"}
    assert state["db"] == "pool"
    state["n"] = 1
    assert state.n == 1
    assert "n" in state
    assert sorted(state) == ["db", "n"]
    assert len(state) == 2
    del state.n
    del state["db"]
    assert len(state) == 0
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        state.missing  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        del state.missing
    assert repr(State()) == "State({})"


pytestmark = pytest.mark.anyio


async def test_upload_file_roundtrip_in_memory() -> None:
    upload = UploadFile(
        tempfile.SpooledTemporaryFile(max_size=1024),  # noqa: SIM115 - closed by the test
        size=0,
        filename="a.txt",
        headers=Headers({"content-type": "text/plain"}),
    )
    assert upload.content_type == "text/plain"
    await upload.write(b"hello")
    assert upload.size == 5
    await upload.seek(0)
    assert await upload.read() == b"hello"
    await upload.close()
    assert upload.file.closed
    assert "a.txt" in repr(upload)


async def test_upload_file_without_headers_or_size() -> None:
    upload = UploadFile(io.BytesIO())
    assert upload.content_type is None
    assert upload.size is None
    await upload.write(b"data!")
    assert upload.size is None
    await upload.seek(1)
    assert await upload.read() == b"ata!"
    await upload.close()


class ThreadRecordingFile(tempfile.SpooledTemporaryFile[bytes]):
    """A spooled file that remembers which thread each write ran on."""

    write_threads: list[tuple[int, bool]]

    def write(self, data: bytes) -> int:  # type: ignore[override]
        rolled_before = bool(getattr(self, "_rolled", False))
        self.write_threads.append((threading.get_ident(), rolled_before))
        return super().write(data)


async def test_write_that_would_roll_over_runs_in_a_worker_thread() -> None:
    # GHSA-2c2j-9gv5-cj73: the rollover copies the buffer to disk; it must not
    # happen on the event loop.
    loop_thread = threading.get_ident()
    file = ThreadRecordingFile(max_size=10)
    file.write_threads = []
    upload = UploadFile(file, size=0)
    await upload.write(b"12345")  # fits: inline
    await upload.write(b"678901")  # would roll: thread
    await upload.write(b"more")  # rolled: thread
    assert [t == loop_thread for t, _ in file.write_threads] == [True, False, False]
    assert getattr(file, "_rolled", False)
    await upload.seek(0)
    assert await upload.read() == b"12345678901more"
    await upload.close()


def _spool(max_size: int) -> tempfile.SpooledTemporaryFile[bytes]:
    # Closed by the test that asked for it.
    return tempfile.SpooledTemporaryFile(max_size=max_size)


def test_spool_in_memory_shares_the_bytes_with_a_fresh_spool() -> None:
    data = b"abc" * 1000
    file = _spool(len(data))
    upload = UploadFile(file, size=0)
    assert spool_in_memory(upload, data)
    assert upload.size == len(data)
    assert file.read() is data  # handed over without a copy
    assert not getattr(file, "_rolled", True)
    file.write(b"more")  # still an ordinary spool: writing past the limit rolls it
    assert getattr(file, "_rolled", False)
    file.seek(0)
    assert file.read() == data + b"more"
    file.close()


def _written_spool() -> tempfile.SpooledTemporaryFile[bytes]:
    file = _spool(100)
    file.write(b"kept")
    file.seek(1)
    return file


def _rolled_spool() -> tempfile.SpooledTemporaryFile[bytes]:
    file = _spool(100)
    file.rollover()
    return file


@pytest.mark.parametrize(
    ("make", "data"),
    [
        pytest.param(lambda: io.BytesIO(), b"x", id="not-a-spooled-file"),
        pytest.param(_rolled_spool, b"x", id="already-on-disk"),
        pytest.param(_written_spool, b"x", id="already-written-to"),
        pytest.param(lambda: _spool(3), b"four", id="over-its-limit"),
    ],
)
def test_spool_in_memory_refuses_and_leaves_the_file_alone(make: Any, data: bytes) -> None:
    file = make()
    before = (file.tell(), getattr(file, "_rolled", None))
    upload = UploadFile(file, size=0)
    assert not spool_in_memory(upload, data)
    assert upload.size == 0
    assert (file.tell(), getattr(file, "_rolled", None)) == before
    file.close()


async def test_form_data_close_closes_every_file() -> None:
    a = UploadFile(io.BytesIO(), filename="a")
    b = UploadFile(io.BytesIO(), filename="b")
    form = FormData([("x", "1"), ("f", a), ("f", b)])
    assert form.getlist("f") == [a, b]
    await form.close()
    assert a.file.closed
    assert b.file.closed


def test_upload_file_works_with_vars_for_dict_based_encoders() -> None:
    # Frameworks serialise uploads in validation errors through vars()/__dict__.
    upload = UploadFile(io.BytesIO(b"x"), filename="a.txt", size=1)
    assert {"file", "filename", "size", "headers"} <= set(vars(upload))
    assert vars(upload)["filename"] == "a.txt"
    upload.framework_note = "extra attributes are allowed"  # type: ignore[attr-defined]
