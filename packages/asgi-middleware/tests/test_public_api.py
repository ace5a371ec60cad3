"""The public surface of flagstone-middleware is pinned: a change here is deliberate."""

import inspect
import types

import flagstone_middleware

# Type aliases cannot carry a docstring; they are documented where defined.
ALIASES = {"DispatchFunction", "RequestResponseEndpoint"}

EXPECTED = {
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "BaseHTTPMiddleware",
    "BaseUser",
    "CORSMiddleware",
    "CompressionMiddleware",
    "DispatchFunction",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "RequestResponseEndpoint",
    "SimpleUser",
    "TrustedHostMiddleware",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
}


def test_all_is_pinned() -> None:
    assert set(flagstone_middleware.__all__) == EXPECTED
    assert len(flagstone_middleware.__all__) == len(EXPECTED)


def test_every_public_name_is_documented() -> None:
    assert flagstone_middleware.__doc__
    for name in flagstone_middleware.__all__:
        obj = getattr(flagstone_middleware, name)
        if name in ALIASES:
            assert isinstance(obj, types.GenericAlias)
            continue
        assert obj.__doc__, f"{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert member.__doc__, f"{name}.{attr} has no docstring"


def test_only_declared_dependencies() -> None:
    from importlib.metadata import requires

    declared = requires("flagstone-middleware") or []
    names = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip() for r in declared}
    assert names == {"flagstone-contract", "anyio", "flagstone-requests", "zstandard", "brotli"}


def test_starlette_constructor_defaults() -> None:
    """Starlette's arguments, with Starlette's defaults."""

    def defaults(cls: type) -> dict[str, object]:
        return {
            name: p.default
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    assert defaults(flagstone_middleware.CORSMiddleware) == {
        "allow_origins": (),
        "allow_methods": ("GET",),
        "allow_headers": (),
        "allow_credentials": False,
        "allow_origin_regex": None,
        "allow_private_network": False,
        "expose_headers": (),
        "max_age": 600,
        "strict": False,  # keyword-only, flagstone's: refuse "*" with credentials
    }
    gzip = defaults(flagstone_middleware.GZipMiddleware)
    assert (gzip["minimum_size"], gzip["compresslevel"], gzip["thread_minimum_size"]) == (
        500,
        9,
        128 * 1024,
    )
    assert defaults(flagstone_middleware.TrustedHostMiddleware) == {
        "allowed_hosts": None,
        "www_redirect": True,
    }
    # Starlette's `status_code` (307), plus flagstone's keyword-only allowed hosts.
    assert defaults(flagstone_middleware.HTTPSRedirectMiddleware) == {
        "status_code": 307,
        "allowed_hosts": None,
        "host": None,
    }
    assert defaults(flagstone_middleware.AuthenticationMiddleware) == {"on_error": None}
    assert defaults(flagstone_middleware.BaseHTTPMiddleware) == {"dispatch": None}
