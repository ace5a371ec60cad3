import http

import pytest

from flagstone_contract import StarletteDeprecationWarning, status


@pytest.mark.parametrize(
    ("name", "value"),
    [("HTTP_200_OK", 200), ("HTTP_404_NOT_FOUND", 404), ("HTTP_413_CONTENT_TOO_LARGE", 413),
     ("HTTP_416_RANGE_NOT_SATISFIABLE", 416), ("HTTP_422_UNPROCESSABLE_CONTENT", 422),
     ("HTTP_425_TOO_EARLY", 425), ("HTTP_103_EARLY_HINTS", 103), ("HTTP_306_RESERVED", 306),
     ("WS_1000_NORMAL_CLOSURE", 1000), ("WS_1008_POLICY_VIOLATION", 1008),
     ("WS_1011_INTERNAL_ERROR", 1011), ("WS_1015_TLS_HANDSHAKE", 1015)],
)  # fmt: skip
def test_named_constants(name: str, value: int) -> None:
    assert getattr(status, name) == value


def test_every_standard_http_status_has_a_constant() -> None:
    values = {getattr(status, n) for n in status.__all__ if n.startswith("HTTP_")}
    assert {s.value for s in http.HTTPStatus} <= values


def test_names_encode_their_value() -> None:
    for name in status.__all__:
        assert int(name.split("_")[1]) == getattr(status, name)


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [("HTTP_413_REQUEST_ENTITY_TOO_LARGE", "HTTP_413_CONTENT_TOO_LARGE", 413),
     ("HTTP_414_REQUEST_URI_TOO_LONG", "HTTP_414_URI_TOO_LONG", 414),
     ("HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE", "HTTP_416_RANGE_NOT_SATISFIABLE", 416),
     ("HTTP_422_UNPROCESSABLE_ENTITY", "HTTP_422_UNPROCESSABLE_CONTENT", 422)],
)  # fmt: skip
def test_deprecated_names_warn_as_in_starlette(old: str, new: str, value: int) -> None:
    with pytest.warns(StarletteDeprecationWarning) as record:
        assert getattr(status, old) == value
    assert str(record[0].message) == f"'{old}' is deprecated. Use '{new}' instead."
    assert record[0].filename == __file__  # points at the line that read it
    assert issubclass(StarletteDeprecationWarning, DeprecationWarning)
    assert issubclass(StarletteDeprecationWarning, UserWarning)
    assert old not in status.__all__
    assert old in dir(status)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError) as info:
        status.HTTP_999_NOT_A_STATUS  # noqa: B018
    assert (
        str(info.value)
        == "module 'flagstone_contract.status' has no attribute 'HTTP_999_NOT_A_STATUS'"
    )
