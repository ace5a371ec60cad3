"""The public surface of flagstone-staticfiles is pinned: a change here is deliberate."""

import inspect
import subprocess
import sys
from importlib.metadata import requires
from importlib.resources import files

import flagstone_staticfiles

EXPECTED = {"CachePolicy", "PathLike", "StaticFiles", "immutable_if_fingerprinted"}


def test_all_is_pinned() -> None:
    assert set(flagstone_staticfiles.__all__) == EXPECTED
    assert len(flagstone_staticfiles.__all__) == len(EXPECTED)


def test_every_public_class_and_function_is_documented() -> None:
    for name in ("StaticFiles", "immutable_if_fingerprinted"):
        obj = getattr(flagstone_staticfiles, name)
        assert obj.__doc__, name
    for attr, member in vars(flagstone_staticfiles.StaticFiles).items():
        if not attr.startswith("_") and inspect.isfunction(member):
            assert member.__doc__, f"StaticFiles.{attr} has no docstring"


def test_package_is_typed() -> None:
    assert files("flagstone_staticfiles").joinpath("py.typed").is_file()


def test_declared_dependencies() -> None:
    names = sorted(
        req.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        for req in requires("flagstone-staticfiles") or []
    )
    assert names == ["anyio", "flagstone-contract", "flagstone-requests"]


def test_imports_only_declared_flagstone_packages() -> None:
    code = (
        "import sys, flagstone_staticfiles; "
        "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith('flagstone')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # flagstone_config comes with flagstone_requests (Secret's home).
    assert out.stdout.strip() == (
        "['flagstone_config', 'flagstone_contract', 'flagstone_requests', 'flagstone_staticfiles']"
    )
