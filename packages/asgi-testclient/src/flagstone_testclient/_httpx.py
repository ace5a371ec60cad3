"""The HTTP client library the test client is built on: httpx2 if installed, else httpx.

Starlette 1.10 moved its TestClient to httpx2 (the maintained successor of
httpx, same API under a new import name) and keeps httpx as a fallback.
Flagstone makes the same choice in the same order, but the fallback is not
deprecated here, so it is silent: a project that already uses httpx should
not be told to add a second HTTP stack just to run its tests.  Neither is a
hard dependency (`flagstone-testclient[httpx2]` or `[httpx]` picks one), so
with neither installed the import fails with what to install.

Everything else in this package imports the library as `httpx` from here.
Type checking is done against httpx, whose API httpx2 keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["HTTPClientMissingError", "httpx"]


class HTTPClientMissingError(ImportError, RuntimeError):
    """Neither httpx2 nor httpx is installed.

    An `ImportError` (it is raised by the import of flagstone_testclient) and a
    `RuntimeError`, which is what Starlette raises in the same situation.
    """


if TYPE_CHECKING:
    import httpx as httpx
else:
    try:
        import httpx2 as httpx
    except ModuleNotFoundError:
        try:
            import httpx
        except ModuleNotFoundError:
            raise HTTPClientMissingError(
                "flagstone-testclient needs an HTTP client library and finds neither httpx2 "
                'nor httpx: pip install "flagstone-testclient[httpx2]" (or "[httpx]" to use '
                "the httpx your project already has)"
            ) from None
