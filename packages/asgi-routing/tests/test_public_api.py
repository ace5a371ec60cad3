"""The public surface of flagstone-routing is pinned: a change here is deliberate."""

import inspect

import flagstone_routing

EXPECTED = {
    "AppType", "CONVERTOR_TYPES", "BaseRoute", "Convertor", "EndpointAdapter", "FloatConvertor", "Host",
    "IntegerConvertor", "Match", "Mount", "NoMatchFound", "PathConvertor", "Route", "RouteInfo",
    "Router", "StringConvertor", "URLPath", "UUIDConvertor", "WebSocketRoute", "compile_path",
    "get_route_path", "register_url_convertor", "get_name", "replace_params", "Lifespan",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(flagstone_routing.__all__) == EXPECTED
    assert len(flagstone_routing.__all__) == len(EXPECTED)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in flagstone_routing.__all__:
        obj = getattr(flagstone_routing, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{name} has no docstring"
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert member.__doc__, f"{name}.{attr} has no docstring"


def test_only_the_contract_is_a_runtime_dependency() -> None:
    from importlib.metadata import requires

    runtime = [r for r in requires("flagstone-routing") or [] if "extra ==" not in r]
    assert [r.split(">")[0].split("<")[0].strip() for r in runtime] == ["flagstone-contract"]


def test_importing_does_not_import_flagstone_requests() -> None:
    import subprocess
    import sys

    code = "import sys, flagstone_routing; print('flagstone_requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
