"""The flat namespace: every package's public names, the identical objects, plus App."""

import importlib
import inspect

import flagstone

PACKAGES = [
    "flagstone_contract",
    "flagstone_requests",
    "flagstone_routing",
    "flagstone_sessions",
    "flagstone_background",
    "flagstone_testclient",
    "flagstone_config",
    "flagstone_staticfiles",
    "flagstone_templates",
    "flagstone_middleware",
    "flagstone_broadcast",
]


def test_all_is_every_package_all_plus_app() -> None:
    expected = {"App"}
    for name in PACKAGES:
        expected |= set(importlib.import_module(name).__all__)
    assert set(flagstone.__all__) == expected
    assert len(flagstone.__all__) == len(expected)


def test_reexports_are_identical_objects() -> None:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            assert getattr(flagstone, name) is getattr(module, name), name


def test_the_names_the_readme_promises() -> None:
    from flagstone import (  # noqa: F401
        App,
        BackgroundTasks,
        JSONResponse,
        Request,
        Route,
        SessionMiddleware,
        TestClient,
    )

    assert inspect.isclass(App)
    assert App.__doc__


def test_importing_flagstone_leaves_the_test_client_unloaded() -> None:
    """A production worker never pays for httpx(2): the test client loads on first use."""
    import subprocess
    import sys

    code = (
        "import sys, flagstone\n"
        "def loaded(): return 'httpx' in sys.modules or 'httpx2' in sys.modules\n"
        "before = loaded(); flagstone.TestClient; print(before, loaded())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
