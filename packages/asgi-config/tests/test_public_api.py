"""The public surface of flagstone-config is pinned: a change here is deliberate."""

import inspect
import subprocess
import sys
from importlib.metadata import requires
from importlib.resources import files

import flagstone_config

EXPECTED = {
    "CommaSeparatedStrings",
    "Config",
    "ConfigKeyError",
    "DotenvWarning",
    "Environ",
    "EnvironError",
    "Secret",
    "environ",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_config.__all__) == EXPECTED
    assert len(flagstone_config.__all__) == len(EXPECTED)


def test_every_public_class_is_documented() -> None:
    for name in flagstone_config.__all__:
        obj = getattr(flagstone_config, name)
        if name == "environ":
            assert isinstance(obj, flagstone_config.Environ)
            continue
        assert inspect.isclass(obj), name
        assert obj.__doc__, f"{name} has no docstring"
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and inspect.isfunction(member):
                assert member.__doc__, f"{name}.{attr} has no docstring"


def test_package_is_typed() -> None:
    assert files("flagstone_config").joinpath("py.typed").is_file()


def test_no_runtime_dependency() -> None:
    assert requires("flagstone-config") in (None, [])


def test_imports_nothing_but_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import flagstone_config; "
        "new = {n.split('.')[0] for n in set(sys.modules) - before}; "
        "print(sorted(n for n in new if n not in sys.stdlib_module_names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['flagstone_config']"
