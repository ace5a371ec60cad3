"""Precompressed siblings: which encodings a client accepts, in our order of preference.

A sibling (`app.js.br`, `app.js.zst`, `app.js.gz`) is served only when the
client's `Accept-Encoding` allows that coding with a q-value above zero;
`identity` is always acceptable, so a client that refuses every coding we
have gets the original file.  Our preference order (br, zstd, gzip: smallest
first) breaks ties, and so does the client's q-value when it gives one.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ENCODINGS", "SUFFIXES", "acceptable_encodings"]

# Content-Coding name -> file suffix of the sibling.
SUFFIXES = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
DEFAULT_ENCODINGS = ("br", "zstd", "gzip")


def _q_value(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0  # a malformed q is treated as "not acceptable"
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def acceptable_encodings(header: str, offered: tuple[str, ...]) -> list[str]:
    """The codings of `offered` that `header` (Accept-Encoding) allows, best first."""
    if not header:
        return []
    weights: dict[str, float] = {}
    star: float | None = None
    # Bounded work for a hostile header: at most 64 entries are looked at.
    for item in header.split(",")[:64]:
        name, *params = item.split(";")
        coding = name.strip().lower()
        if coding == "x-gzip":  # RFC 9110 §8.4.1.3: an alias of gzip
            coding = "gzip"
        q = _q_value(params)
        if coding == "*":
            star = q
        elif coding:
            weights[coding] = max(weights.get(coding, 0.0), q)
    ranked = []
    for index, coding in enumerate(offered):
        q = weights.get(coding, star if star is not None else 0.0)
        if q > 0.0:
            ranked.append((-q, index, coding))
    return [coding for _, _, coding in sorted(ranked)]
