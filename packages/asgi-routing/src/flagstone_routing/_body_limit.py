"""`BodyTooLarge`: the name routing's 413 had before there was one body limit.

The counter, the exception and `RequestBodyLimitMiddleware` live in
flagstone-contract, shared by routing, flagstone-requests and the App.  The
old name stays an alias, so `except BodyTooLarge` still catches every
over-limit body, declared or chunked.
"""

from __future__ import annotations

from flagstone_contract import ContentTooLarge

__all__ = ["BodyTooLarge"]

BodyTooLarge = ContentTooLarge
