"""Convertors: matching, conversion, reversal, and the registry (replaceable, as Starlette's)."""

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from routing_helpers import call, echo_scope

from flagstone_routing import (
    CONVERTOR_TYPES,
    Convertor,
    Route,
    Router,
    compile_path,
    register_url_convertor,
)

pytestmark = pytest.mark.anyio


class Slug(Convertor[str]):
    regex = "[a-z0-9-]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class Year(Convertor[int]):
    regex = "[0-9]{4}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return f"{value:04d}"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/{v}", "/abc", "abc"),
        ("/{v:str}", "/abc", "abc"),
        ("/{v:int}", "/42", 42),
        ("/{v:float}", "/4.5", 4.5),
        ("/{v:float}", "/4", 4.0),
        ("/{v:path}", "/a/b/c", "a/b/c"),
        (
            "/{v:uuid}",
            "/12345678-1234-5678-1234-567812345678",
            uuid.UUID(int=0x12345678123456781234567812345678),
        ),
    ],
)
def test_builtin_convertors_match_and_convert(template: str, path: str, expected: Any) -> None:
    regex, _, convertors = compile_path(template)
    match = regex.match(path)
    assert match is not None
    assert convertors["v"].convert(match["v"]) == expected


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/{v}", "/a/b"),
        ("/{v}", "/"),
        ("/{v:int}", "/-1"),
        ("/{v:int}", "/x"),
        ("/{v:float}", "/1e5"),
        ("/{v:uuid}", "/nope"),
    ],
)
def test_builtin_convertors_refuse(template: str, path: str) -> None:
    regex, _, _ = compile_path(template)
    assert regex.match(path) is None


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("int", 5, "5"),
        ("float", 1.5, "1.5"),
        ("float", 2.0, "2"),
        ("str", "x", "x"),
        ("path", "a/b", "a/b"),
    ],
)
def test_to_string(key: str, value: Any, text: str) -> None:
    assert CONVERTOR_TYPES[key].to_string(value) == text


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("int", -1, "Negative integers are not supported"),
        ("float", float("nan"), "NaN values are not supported"),
        ("float", float("inf"), "Infinite values are not supported"),
        ("float", -1.0, "Negative floats are not supported"),
        ("str", "a/b", "May not contain path separators"),
        ("str", "", "Must not be empty"),
    ],
)
def test_to_string_refuses_values_that_would_not_match(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError):
        CONVERTOR_TYPES[key].to_string(value)
    # Starlette asserts, with these texts.
    with pytest.raises(AssertionError) as info:
        CONVERTOR_TYPES[key].to_string(value)
    assert str(info.value) == message


def test_default_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        CONVERTOR_TYPES["x"] = Slug()  # type: ignore[index]


@pytest.fixture
def restore_registry() -> Iterator[None]:
    """Put the builtin convertors back after a test that replaced them."""
    saved = dict(CONVERTOR_TYPES)
    yield
    for key, convertor in saved.items():
        register_url_convertor(key, convertor)


def test_register_then_use_in_a_route_created_afterwards() -> None:
    register_url_convertor("test_slug", Slug())
    route = Route("/posts/{slug:test_slug}", echo_scope)
    assert route.path_regex.match("/posts/hello-world")
    assert route.path_regex.match("/posts/Hello") is None
    register_url_convertor("test_slug", CONVERTOR_TYPES["test_slug"])  # same object: no-op


def test_registering_an_equal_convertor_again_is_accepted() -> None:
    # An app factory or a test fixture registers a fresh instance on every call.
    register_url_convertor("test_year", Year())
    register_url_convertor("test_year", Year())
    assert Route("/y/{y:test_year}", echo_scope).path_regex.match("/y/2024")


class SignedInt(Convertor[int]):
    """What a spec-first framework registers over "int" at import."""

    regex = "-?[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


class SignedFloat(Convertor[float]):
    """... and over "float"."""

    regex = r"-?[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> float:
        return float(value)

    def to_string(self, value: float) -> str:
        return repr(float(value))


class LazyPath(Convertor[str]):
    """What an HTML-first framework registers over "path" at app construction."""

    regex = ".*?"
    matches_slash = True

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


@pytest.mark.usefixtures("restore_registry")
async def test_a_framework_replaces_int_and_float_with_signed_convertors() -> None:
    before = Router([Route("/old/{n:int}", echo_scope, name="old")])
    register_url_convertor("int", SignedInt())
    register_url_convertor("float", SignedFloat())
    assert isinstance(CONVERTOR_TYPES["int"], SignedInt)
    router = Router(
        [
            Route("/items/{n:int}", echo_scope, name="item"),
            Route("/temps/{t:float}", echo_scope, name="temp"),
        ]
    )
    assert "('n', -3)" in (await call(router, "/items/-3")).text
    assert "('t', -1.5)" in (await call(router, "/temps/-1.5")).text
    assert router.url_path_for("item", n=-3) == "/items/-3"
    # A route compiled before the replacement keeps the convertor it was built with.
    assert (await call(before, "/old/-3")).status == 404
    assert "('n', 3)" in (await call(before, "/old/3")).text
    with pytest.raises(ValueError, match=r"^Negative integers are not supported"):
        before.url_path_for("old", n=-3)


@pytest.mark.usefixtures("restore_registry")
async def test_a_framework_replaces_path_with_a_lazier_regex() -> None:
    register_url_convertor("path", LazyPath())
    router = Router([Route("/files/{head:path}/{tail:path}", echo_scope, name="split")])
    response = await call(router, "/files/a/b/c")
    # Greedy ".*" would give head "a/b"; the lazier regex stops at the first slash.
    assert "('head', 'a'), ('tail', 'b/c')" in response.text
    assert router.url_path_for("split", head="x", tail="y/z") == "/files/x/y/z"


@pytest.mark.usefixtures("restore_registry")
def test_replacing_a_convertor_warns_nobody_and_logs_at_debug(
    caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    with caplog.at_level(logging.DEBUG, logger="flagstone.routing"):
        register_url_convertor("int", SignedInt())
        register_url_convertor("int", SignedInt())  # again, a fresh instance: replaced again
    assert len(recwarn) == 0
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.DEBUG]
    assert "'int' replaced: IntegerConvertor" in caplog.records[0].getMessage()


@pytest.mark.parametrize("key", ["", "has space", "9x", "a-b"])
def test_register_rejects_bad_keys(key: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        register_url_convertor(key, Slug())


def test_register_rejects_non_convertors() -> None:
    with pytest.raises(TypeError, match="Convertor instance"):
        register_url_convertor("thing", object())  # type: ignore[arg-type]


def test_unknown_convertor_says_how_to_register() -> None:
    # Starlette's type and text; the guidance is a note, and `except ValueError` works too.
    with pytest.raises(AssertionError) as info:
        Route("/{x:nothere}", echo_scope)
    assert str(info.value) == "Unknown path convertor 'nothere'"
    assert isinstance(info.value, ValueError)
    assert any("register_url_convertor('nothere'" in note for note in info.value.__notes__)


async def test_per_route_convertors_do_not_touch_the_defaults() -> None:
    router = Router([Route("/archive/{y:year}", echo_scope, convertors={"year": Year()})])
    assert "year" not in CONVERTOR_TYPES
    response = await call(router, "/archive/2024")
    assert "('y', 2024)" in response.text
    assert (await call(router, "/archive/24")).status == 404
    assert router.url_path_for("echo_scope", y=7) == "/archive/0007"


async def test_a_custom_convertor_matching_slashes_is_reachable() -> None:
    class Dotted(Convertor[str]):
        regex = "[a-z/]+"  # can match "/" but does not say so

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return value

    class Declared(Dotted):
        regex = "[a-z/]+"
        matches_slash = True

    router = Router(
        [
            Route("/a/{p:dotted}/end", echo_scope, convertors={"dotted": Dotted()}),
            Route("/b/{p:declared}/end", echo_scope, convertors={"declared": Declared()}),
        ]
    )
    assert (await call(router, "/a/x/y/z/end")).status == 200
    assert (await call(router, "/b/x/y/end")).status == 200


async def test_huge_int_is_a_404_not_a_500() -> None:
    # int() refuses more than 4,300 digits; that must read as "no match".
    router = Router([Route("/items/{id:int}", echo_scope)])
    response = await call(router, "/items/" + "9" * 5000)
    assert response.status == 404
