"""Static files for any ASGI 3 app: Starlette's `StaticFiles`, traversal-proof.

`StaticFiles` serves files from directories and packages through
flagstone-requests' `FileResponse` (ETag, Last-Modified, 304, ranges,
pathsend), with precompressed siblings and a Cache-Control policy on top.
It is not an asset pipeline: it does not compress, fingerprint or bundle.
"""

__version__ = "0.2.0"

from ._cache import CachePolicy, immutable_if_fingerprinted
from ._staticfiles import PathLike, StaticFiles

__all__ = ["CachePolicy", "PathLike", "StaticFiles", "immutable_if_fingerprinted"]
