"""A Starlette name flagstone does not offer: a clear error, never a stand-in."""

from __future__ import annotations

from compat_helpers import run_code


def _run(body: str) -> str:
    result = run_code("import flagstone_compat\nflagstone_compat.install()\n" + body)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_missing_module_raises_module_not_found_naming_it_and_the_guide() -> None:
    out = _run(
        """
try:
    import starlette.middleware.wsgi
except ModuleNotFoundError as exc:
    print(exc.name)
    print(exc)
"""
    )
    name, message = out.strip().split("\n", 1)
    assert name == "starlette.middleware.wsgi"
    assert "not offered by flagstone" in message
    assert "a2wsgi" in message
    assert "docs/porting-from-starlette.md" in message


def test_from_import_of_a_missing_name_raises_import_error_with_the_reason() -> None:
    out = _run(
        """
try:
    from starlette.middleware.cors import CORSMiddleware, SAFELISTED_HEADERS
except ImportError as exc:
    print(type(exc).__name__, exc.name)
    print(exc)
"""
    )
    first, message = out.strip().split("\n", 1)
    assert first == "ImportError starlette.middleware.cors"
    assert message.startswith(
        "cannot import name 'SAFELISTED_HEADERS' from 'starlette.middleware.cors': "
        "starlette.middleware.cors.SAFELISTED_HEADERS is not offered by flagstone"
    )
    assert "porting-from-starlette.md" in message


def test_attribute_access_raises_attribute_error_and_hasattr_is_false() -> None:
    out = _run(
        """
import starlette.middleware.cors as cors
print(hasattr(cors, "ALL_METHODS"), hasattr(cors, "CORSMiddleware"))
try:
    cors.ALL_METHODS
except AttributeError as exc:
    print(exc.name, "|", exc)
print(getattr(cors, "nothing_here", "default"))
"""
    )
    lines = out.strip().splitlines()
    assert lines[0] == "False True"
    assert lines[1].startswith("ALL_METHODS | starlette.middleware.cors.ALL_METHODS is not offered")
    assert lines[2] == "default"


def test_an_unknown_module_is_not_found_even_if_starlette_has_none_either() -> None:
    out = _run(
        """
try:
    import starlette.nonexistent
except ModuleNotFoundError as exc:
    print(exc.name)
"""
    )
    assert out.strip() == "starlette.nonexistent"


def test_fallback_module_serves_every_status_name() -> None:
    out = _run(
        """
import flagstone_contract.status as ours
from starlette import status
names = [n for n in dir(ours) if n.startswith(("HTTP_", "WS_"))]
assert names and all(getattr(status, n) == getattr(ours, n) for n in names)
print(len(names))
"""
    )
    assert int(out) > 60
