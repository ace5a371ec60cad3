from flagstone_contract import (
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    WebSocketCloseEvent,
)


def test_typed_dicts_describe_real_messages() -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    close: WebSocketCloseEvent = {"type": "websocket.close", "code": 1000}
    scope: HTTPScope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }
    messages: list[Message] = [dict(start), dict(close)]
    assert [m["type"] for m in messages] == ["http.response.start", "websocket.close"]
    assert HTTPScope.__required_keys__ >= {"type", "path", "headers", "query_string"}
    assert "raw_path" in HTTPScope.__optional_keys__
    assert scope["asgi"]["version"] == "3.0"
