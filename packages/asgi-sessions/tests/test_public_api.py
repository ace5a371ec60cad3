"""The public surface of flagstone-sessions is pinned: a change here is deliberate."""

import inspect

import flagstone_sessions

EXPECTED = {
    "CookieTooLargeError",
    "MemoryStore",
    "RedisStore",
    "Session",
    "SessionError",
    "SessionMiddleware",
    "SessionNotSerializableError",
    "SessionReadOnlyError",
    "SessionStore",
    "SessionStoreError",
    "SessionUnavailableError",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_sessions.__all__) == EXPECTED
    assert len(flagstone_sessions.__all__) == len(EXPECTED)


def test_every_public_name_is_documented() -> None:
    assert flagstone_sessions.__doc__
    for name in flagstone_sessions.__all__:
        obj = getattr(flagstone_sessions, name)
        assert obj.__doc__, f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert member.__doc__, f"{name}.{attr} has no docstring"


def test_only_declared_dependencies() -> None:
    from importlib.metadata import requires

    declared = requires("flagstone-sessions") or []
    names = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip() for r in declared}
    assert names == {"flagstone-contract", "itsdangerous", "redis"}
