"""Content encoders (gzip, and br / zstd when their extras are installed) and negotiation.

An encoder compresses one response: `chunk(data)` returns everything that
can be decoded so far (a sync flush after each chunk, so a streamed response
stays live), `finish(data)` ends the stream.  gzip comes from the standard
library; `br` needs `flagstone-middleware[brotli]` and `zstd` needs
`flagstone-middleware[zstd]`, each imported on first use.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from flagstone_contract.http import negotiate_encodings

__all__ = ["Encoder", "available_encodings", "choose_encoding", "new_encoder"]


class Encoder(Protocol):
    """The compressor of one response body."""

    def chunk(self, data: bytes) -> bytes:
        """Compress `data` and flush, so the output decodes up to here."""
        ...

    def finish(self, data: bytes) -> bytes:
        """Compress the last `data` and end the stream."""
        ...


class _Gzip:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        # wbits 16 + 15: a gzip header and trailer around deflate.
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes) -> bytes:
        return self._compressor.compress(data) + self._compressor.flush(zlib.Z_FINISH)


class _Brotli:
    __slots__ = ("_compressor",)

    def __init__(self, module: Any, quality: int) -> None:
        self._compressor = module.Compressor(quality=quality)

    def chunk(self, data: bytes) -> bytes:
        out: bytes = self._compressor.process(data) + self._compressor.flush()
        return out

    def finish(self, data: bytes) -> bytes:
        out: bytes = self._compressor.process(data) + self._compressor.finish()
        return out


class _Zstd:
    __slots__ = ("_compressor", "_flush_block")

    def __init__(self, module: Any, level: int) -> None:
        self._compressor = module.ZstdCompressor(level=level).compressobj()
        self._flush_block = module.COMPRESSOBJ_FLUSH_BLOCK

    def chunk(self, data: bytes) -> bytes:
        out: bytes = self._compressor.compress(data) + self._compressor.flush(self._flush_block)
        return out

    def finish(self, data: bytes) -> bytes:
        out: bytes = self._compressor.compress(data) + self._compressor.flush()
        return out


_MODULES = {"br": "brotli", "zstd": "zstandard"}
_EXTRAS = {"br": "brotli", "zstd": "zstd"}


def _module(encoding: str) -> Any | None:
    try:
        return importlib.import_module(_MODULES[encoding])
    except ImportError:
        return None


def available_encodings(wanted: Sequence[str]) -> tuple[str, ...]:
    """`wanted`, in order, minus those whose optional library is not installed.

    An unknown name raises `ValueError`; a known one whose extra is missing
    is dropped silently only if gzip remains, since falling back to gzip is
    the documented behaviour.
    """
    found = []
    for encoding in wanted:
        if encoding == "gzip":
            found.append(encoding)
        elif encoding in _MODULES:
            if _module(encoding) is not None:
                found.append(encoding)
        else:
            raise ValueError(f"unknown content coding {encoding!r}: use 'zstd', 'br' or 'gzip'")
    if not found:
        extras = ",".join(_EXTRAS[e] for e in wanted if e in _EXTRAS)
        raise ImportError(
            f"none of the encodings {list(wanted)} is available: "
            f'pip install "flagstone-middleware[{extras}]"'
        )
    return tuple(found)


def new_encoder(encoding: str, gzip_level: int, brotli_quality: int, zstd_level: int) -> Encoder:
    """A fresh encoder for one response body."""
    if encoding == "gzip":
        return _Gzip(gzip_level)
    if encoding == "br":
        return _Brotli(_module("br"), brotli_quality)
    return _Zstd(_module("zstd"), zstd_level)


def choose_encoding(header: str | None, offered: Sequence[str]) -> str | None:
    """The coding to use for a request's Accept-Encoding, or None for identity.

    The contract's `negotiate_encodings` ranks what the client allows (q
    weights, `*`, `q=0` refusals; ties keep `offered`'s order); the best wins.
    """
    ranked = negotiate_encodings(header, offered)
    return ranked[0] if ranked else None


Chooser = Callable[[str | None], str | None]
