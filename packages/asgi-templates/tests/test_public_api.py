"""The public surface of flagstone-templates is pinned: a change here is deliberate."""

import inspect
import subprocess
import sys
from importlib.metadata import requires
from importlib.resources import files

import flagstone_templates

EXPECTED = {"ContextProcessor", "Jinja2Templates", "TemplateResponse"}


def test_all_is_pinned() -> None:
    assert set(flagstone_templates.__all__) == EXPECTED
    assert len(flagstone_templates.__all__) == len(EXPECTED)


def test_every_public_class_is_documented() -> None:
    for name in ("Jinja2Templates", "TemplateResponse"):
        obj = getattr(flagstone_templates, name)
        assert obj.__doc__, name
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and inspect.isfunction(member):
                assert member.__doc__, f"{name}.{attr} has no docstring"


def test_package_is_typed() -> None:
    assert files("flagstone_templates").joinpath("py.typed").is_file()


def test_declared_dependencies() -> None:
    names = sorted(
        req.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        for req in requires("flagstone-templates") or []
    )
    assert names == ["flagstone-contract", "flagstone-requests", "jinja2"]


def test_imports_only_declared_flagstone_packages() -> None:
    code = (
        "import sys, flagstone_templates; "
        "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith('flagstone')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "['flagstone_config', 'flagstone_contract', 'flagstone_requests', 'flagstone_templates']"
    )
