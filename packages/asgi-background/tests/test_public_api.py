"""The public surface of flagstone-background is pinned: a change here is deliberate."""

import inspect

import flagstone_background

EXPECTED = {
    "AppTasks",
    "AppTasksFullError",
    "AppTasksMiddleware",
    "AppTasksNotRunningError",
    "BackgroundMiddleware",
    "BackgroundTask",
    "BackgroundTasks",
    "RequestTasks",
    "set_thread_limit",
    "thread_limiter",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_background.__all__) == EXPECTED
    assert len(flagstone_background.__all__) == len(EXPECTED)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in flagstone_background.__all__:
        obj = getattr(flagstone_background, name)
        assert inspect.isclass(obj) or inspect.isfunction(obj), name
        assert obj.__doc__, f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__call__":
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    assert member.__doc__, f"{name}.{attr} has no docstring"


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("flagstone_background").joinpath("py.typed").is_file()


def test_depends_only_on_the_contract_and_anyio() -> None:
    from importlib.metadata import requires

    names = sorted(
        req.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        for req in requires("flagstone-background") or []
    )
    assert names == ["anyio", "flagstone-contract"]


def test_no_other_flagstone_package_is_imported() -> None:
    # A fresh interpreter: in a whole-repo test run other packages are loaded
    # by other tests, which says nothing about what this package imports.
    import subprocess
    import sys

    code = (
        "import sys, flagstone_background; "
        "print(sorted({n.split('.')[0] for n in sys.modules if n.startswith('flagstone')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['flagstone_background', 'flagstone_contract']"
