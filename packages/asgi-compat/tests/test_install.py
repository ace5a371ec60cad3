"""`install()`: what `import starlette...` gives afterwards, and when it refuses."""

from __future__ import annotations

import importlib.metadata

from compat_helpers import run_code


def _ok(code: str) -> str:
    result = run_code(code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_starlette_names_are_flagstone_objects() -> None:
    out = _ok(
        """
        import flagstone_compat
        flagstone_compat.install()
        import flagstone
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route, Mount
        from starlette.exceptions import HTTPException
        from starlette.middleware import Middleware
        from starlette.middleware.cors import CORSMiddleware
        from starlette.testclient import TestClient
        from starlette import status
        import starlette.types
        assert Starlette is flagstone.App
        assert Request is flagstone.Request and JSONResponse is flagstone.JSONResponse
        assert Route is flagstone.Route and Mount is flagstone.Mount
        assert HTTPException is flagstone.HTTPException
        assert Middleware is flagstone.Middleware and CORSMiddleware is flagstone.CORSMiddleware
        assert TestClient is flagstone.TestClient
        assert status.HTTP_404_NOT_FOUND == 404 and status.WS_1008_POLICY_VIOLATION == 1008
        assert starlette.types.Scope is flagstone.Scope
        import starlette
        print(starlette.__version__, type(Request(
            {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
        )).__module__)
        """
    )
    assert out.split() == ["1.10.0", "flagstone_requests._request"]


def test_an_app_written_for_starlette_runs_on_flagstone() -> None:
    out = _ok(
        """
        import flagstone_compat
        flagstone_compat.install()
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        from starlette.testclient import TestClient

        async def hello(request):
            return PlainTextResponse(type(request).__module__)

        app = Starlette(routes=[Route("/", hello)])
        with TestClient(app) as client:
            print(client.get("/").text)
        """
    )
    assert out.strip() == "flagstone_requests._request"


def test_distribution_metadata_is_not_faked() -> None:
    real = importlib.metadata.version("starlette")
    out = _ok(
        """
        import importlib.metadata, flagstone_compat
        flagstone_compat.install()
        import starlette
        print(importlib.metadata.version("starlette"))
        """
    )
    assert out.strip() == real


def test_install_twice_is_a_no_op_and_installed_says_so() -> None:
    out = _ok(
        """
        import sys, flagstone_compat
        print(flagstone_compat.installed())
        flagstone_compat.install(); flagstone_compat.install()
        print(flagstone_compat.installed(), sum(type(f).__name__ == "StarletteFinder" for f in sys.meta_path))
        """
    )
    assert out.split() == ["False", "True", "1"]


def test_install_after_starlette_was_imported_is_an_error_that_says_what_to_do() -> None:
    result = run_code(
        """
        import starlette.requests
        import flagstone_compat
        try:
            flagstone_compat.install()
        except RuntimeError as exc:
            print(exc)
        else:
            raise SystemExit("no error")
        print(flagstone_compat.installed())
        """
    )
    assert result.returncode == 0, result.stderr
    message, installed = result.stdout.strip().rsplit("\n", 1)
    assert "must run before anything imports Starlette" in message
    assert "is already imported (from " in message
    assert "python -m flagstone_compat" in message
    assert installed == "False"


def test_an_installed_starlette_is_shadowed_and_the_log_says_so_once() -> None:
    result = run_code(
        """
        import logging
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
        import flagstone_compat
        flagstone_compat.install()
        flagstone_compat.install()
        import starlette.routing, starlette.requests
        """
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("flagstone_compat")]
    assert len(lines) == 1
    assert "is shadowed" in lines[0]
    assert importlib.metadata.version("starlette") in lines[0]


def test_uninstall_serves_the_real_starlette_again() -> None:
    out = _ok(
        """
        import flagstone_compat
        flagstone_compat.install()
        import starlette.requests as served
        flagstone_compat.uninstall()
        import starlette.requests as real
        print(served.Request.__module__, real.Request.__module__)
        """
    )
    assert out.split() == ["flagstone_requests._request", "starlette.requests"]
