"""The incoming side's public API: names pinned, every public object documented."""

from __future__ import annotations

import inspect

import flagstone_requests
from flagstone_requests import __all__ as public_names

EXPECTED_INCOMING = {
    "DEFAULT_MAX_FORM_MEMORY_SIZE",
    "DEFAULT_MAX_JSON_SIZE",
    "URL",
    "Address",
    "ClientDisconnect",
    "CommaSeparatedStrings",
    "ContentTooLarge",
    "FormData",
    "FormParser",
    "FormError",
    "HTTPConnection",
    "Headers",
    "ImmutableMultiDict",
    "InvalidJSON",
    "MultiDict",
    "MultiPartException",
    "MultiPartParser",
    "MutableHeaders",
    "QueryParams",
    "Request",
    "RequestTimeout",
    "Secret",
    "State",
    "StreamConsumed",
    "UploadFile",
    "cookie_parser",
    "empty_receive",
    "empty_send",
}


def test_incoming_names_are_exported() -> None:
    assert set(public_names) >= EXPECTED_INCOMING
    assert len(public_names) == len(set(public_names)), "duplicate names in __all__"


def test_every_incoming_name_resolves() -> None:
    for name in EXPECTED_INCOMING:
        assert getattr(flagstone_requests, name) is not None


def test_every_public_class_and_function_has_a_docstring() -> None:
    for name in EXPECTED_INCOMING:
        obj = getattr(flagstone_requests, name)
        assert inspect.getdoc(obj), f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_private_modules_stay_private() -> None:
    assert not any(name.startswith("_") for name in public_names)
