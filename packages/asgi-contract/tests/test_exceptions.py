import sys

import pytest

from flagstone_contract import HTTPException, WebSocketDisconnect, WebSocketException

# The phrase comes from the running Python's `http.HTTPStatus`, as in
# Starlette; Python 3.13 adopted RFC 9110's name for 413.
PHRASE_413 = "Content Too Large" if sys.version_info >= (3, 13) else "Request Entity Too Large"


@pytest.mark.parametrize(
    ("status_code", "detail"),
    [(404, "Not Found"), (405, "Method Not Allowed"), (413, PHRASE_413),
     (500, "Internal Server Error"), (499, "")],
)  # fmt: skip
def test_http_exception_default_detail_is_the_reason_phrase(status_code: int, detail: str) -> None:
    exc = HTTPException(status_code)
    assert exc.status_code == status_code
    assert exc.detail == detail
    assert exc.headers is None


def test_http_exception_str_and_repr() -> None:
    exc = HTTPException(404, "no such user", headers={"X-Reason": "gone"})
    assert str(exc) == "404: no such user"
    assert repr(exc) == "HTTPException(status_code=404, detail='no such user')"
    assert exc.headers == {"X-Reason": "gone"}


def test_http_exception_subclass_repr_uses_subclass_name() -> None:
    class NotAllowed(HTTPException):
        pass

    assert repr(NotAllowed(405)) == "NotAllowed(status_code=405, detail='Method Not Allowed')"


def test_http_exception_is_raisable_and_catchable() -> None:
    with pytest.raises(HTTPException, match="418: I'm a Teapot"):
        raise HTTPException(418)


def test_websocket_exception() -> None:
    exc = WebSocketException(1008, "policy")
    assert (exc.code, exc.reason) == (1008, "policy")
    assert str(exc) == "1008: policy"
    assert repr(exc) == "WebSocketException(code=1008, reason='policy')"
    assert WebSocketException(1000).reason == ""


def test_websocket_disconnect_defaults_like_starlette() -> None:
    exc = WebSocketDisconnect()
    assert (exc.code, exc.reason) == (1000, "")
    assert str(exc) == "WebSocket closed with code 1000"


@pytest.mark.parametrize(
    ("args", "kwargs", "code", "reason", "text"),
    [((1001,), {}, 1001, "", "WebSocket closed with code 1001"),
     ((), {"code": 4000, "reason": "bye"}, 4000, "bye", "WebSocket closed with code 4000: bye"),
     ((1006, None), {}, 1006, "", "WebSocket closed with code 1006")],
)  # fmt: skip
def test_websocket_disconnect_code_and_reason(
    args: tuple[object, ...], kwargs: dict[str, object], code: int, reason: str, text: str
) -> None:
    exc = WebSocketDisconnect(*args, **kwargs)  # type: ignore[arg-type]
    assert (exc.code, exc.reason, str(exc)) == (code, reason, text)


def test_websocket_disconnect_subclasses_are_caught_by_the_base() -> None:
    class Closed(WebSocketDisconnect):
        pass

    with pytest.raises(WebSocketDisconnect) as info:
        raise Closed(4001, "gone")
    assert (info.value.code, info.value.reason) == (4001, "gone")
