import inspect

import flagstone_testclient

EXPECTED = {
    "ASGIProtocolError",
    "ASGIProtocolWarning",
    "AppTimeoutError",
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "LifespanFailed",
    "TestClient",
    "WebSocketClosed",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_testclient.__all__) == EXPECTED
    assert len(flagstone_testclient.__all__) == len(EXPECTED)


def test_every_public_name_is_documented() -> None:
    for name in flagstone_testclient.__all__:
        obj = getattr(flagstone_testclient, name)
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or (
                    not callable(member) and not isinstance(member, property)
                ):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr}"


def test_client_classes_are_not_collected_by_pytest() -> None:
    for name in (
        "TestClient",
        "AsyncTestClient",
        "WebSocketTestSession",
        "AsyncWebSocketTestSession",
    ):
        assert getattr(flagstone_testclient, name).__test__ is False


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("flagstone_testclient").joinpath("py.typed").is_file()
