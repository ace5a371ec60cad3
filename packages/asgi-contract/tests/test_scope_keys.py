from flagstone_contract import (
    APP_TASKS_KEY,
    BACKGROUND_KEY,
    BODY_COUNTER_KEY,
    BODY_IDLE_TIMEOUT_KEY,
    BODY_KEY,
    EXCEPTION_HANDLERS_KEY,
    MAX_BODY_SIZE_KEY,
    SCOPE_KEYS,
)


def test_every_key_is_documented_once() -> None:
    names = [key.name for key in SCOPE_KEYS]
    assert len(names) == len(set(names))
    for key in SCOPE_KEYS:
        assert key.type
        assert key.written_by
        assert key.read_by
        assert key.meaning


def test_starlette_established_names_are_kept() -> None:
    names = {key.name for key in SCOPE_KEYS}
    expected = {"app", "router", "route", "endpoint", "path_params", "root_path"}
    assert expected | {"app_root_path", "state", "session", "auth", "user"} <= names


def test_toolkit_private_keys_are_prefixed_and_documented() -> None:
    names = {key.name for key in SCOPE_KEYS}
    for constant in (
        BODY_KEY,
        BODY_COUNTER_KEY,
        MAX_BODY_SIZE_KEY,
        BODY_IDLE_TIMEOUT_KEY,
        EXCEPTION_HANDLERS_KEY,
        BACKGROUND_KEY,
        APP_TASKS_KEY,
    ):
        assert constant.startswith("flagstone.")
        assert constant in names
