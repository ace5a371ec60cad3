"""flagstone-compat: run code written for Starlette (FastAPI first) on flagstone, unchanged.

Opt-in: nothing changes until `install()` runs.  After it, `import
starlette...` is served by flagstone for the rest of the process, whether or
not the real Starlette is installed, and every name is flagstone's own
object (`starlette.requests.Request is flagstone.Request`).

    python -m flagstone_compat uvicorn main:app      # a server, workers included
    python -m flagstone_compat pytest                # a test suite

or, in code, before the framework is imported:

    import flagstone_compat
    flagstone_compat.install()
    import fastapi

What is served is one table (`flagstone_compat._table`); a Starlette name
flagstone does not offer raises an error naming it and the porting-guide
section, never a silent stand-in.  `importlib.metadata.version("starlette")`
stays what is installed; `starlette.__version__` is `STARLETTE_API_VERSION`,
the Starlette API level flagstone implements.
"""

__version__ = "0.1.0"

from ._hook import install, installed, uninstall
from ._table import STARLETTE_API_VERSION

__all__ = ["STARLETTE_API_VERSION", "install", "installed", "uninstall"]
