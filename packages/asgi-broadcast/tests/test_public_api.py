"""The public surface of flagstone-broadcast is pinned: a change here is deliberate."""

import inspect

import flagstone_broadcast

EXPECTED = {
    "BacklogOverflow",
    "Broadcast",
    "BroadcastBackend",
    "BroadcastError",
    "Event",
    "MemoryBackend",
    "PostgresBackend",
    "RedisPubSubBackend",
    "RedisStreamBackend",
    "Subscriber",
    "Unsubscribed",
    "event_source_response",
    "websocket_relay",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_broadcast.__all__) == EXPECTED
    assert len(flagstone_broadcast.__all__) == len(EXPECTED)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in flagstone_broadcast.__all__:
        obj = getattr(flagstone_broadcast, name)
        assert inspect.isclass(obj) or inspect.isfunction(obj), name
        assert obj.__doc__, f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    assert member.__doc__, f"{name}.{attr} has no docstring"


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("flagstone_broadcast").joinpath("py.typed").is_file()
