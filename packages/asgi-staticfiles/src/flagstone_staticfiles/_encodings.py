"""Precompressed siblings: which encodings a client accepts, in our order of preference.

A sibling (`app.js.br`, `app.js.zst`, `app.js.gz`) is served only when the
client's `Accept-Encoding` allows that coding with a q-value above zero;
`identity` is always acceptable, so a client that refuses every coding we
have gets the original file.  Our preference order (br, zstd, gzip: smallest
first) breaks ties, and so does the client's q-value when it gives one.
The negotiation itself is the contract's (`flagstone_contract.http.
negotiate_encodings`), shared with the compression middleware.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ENCODINGS", "SUFFIXES"]

# Content-Coding name -> file suffix of the sibling.
SUFFIXES = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
DEFAULT_ENCODINGS = ("br", "zstd", "gzip")
