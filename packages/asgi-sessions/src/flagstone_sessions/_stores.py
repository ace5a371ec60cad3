"""Server-side session stores: the `SessionStore` protocol and `MemoryStore`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["MemoryStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Where server-side sessions live; the cookie then carries only a signed id.

    Ids are opaque strings (43 URL-safe characters).  `ttl` is in seconds;
    None means the middleware has no expiry (`max_age=None`): the store
    picks its own bound.  Implementations raise `SessionStoreError` when the
    backend is unavailable, never hang (use timeouts).
    """

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the session data, or None when missing or expired."""
        ...

    async def save(self, session_id: str, data: dict[str, Any], ttl: int | None) -> None:
        """Create or replace the session and (re)start its time to live."""
        ...

    async def delete(self, session_id: str) -> None:
        """Forget the session; a missing id is not an error."""
        ...


class MemoryStore:
    """A process-local store with TTL expiry and a bound on the number of sessions.

    For tests and single-process apps: sessions vanish on restart and are not
    shared between worker processes (use `RedisStore` for that).  Data is kept
    as JSON text, so later mutation of a saved dict cannot leak into the store.

    Memory is bounded: expired entries are pruned on every save and, past
    `max_entries`, the least recently written session is evicted, so a client
    that opens sessions in a loop cannot exhaust memory (it can only push out
    old sessions; put a rate limit in front if that matters).
    """

    __slots__ = ("_clock", "_default_ttl", "_entries", "max_entries")

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        default_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._default_ttl = default_ttl
        self._clock = clock
        # id -> (expiry on `clock`, JSON).  Insertion order = write order,
        # since `save` re-inserts; with one TTL for all, that is expiry order.
        self._entries: dict[str, tuple[float, str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the session, or None when missing or expired."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        expiry, text = entry
        if expiry <= self._clock():
            del self._entries[session_id]
            return None
        data: dict[str, Any] = json.loads(text)
        return data

    async def save(self, session_id: str, data: dict[str, Any], ttl: int | None) -> None:
        """Store `data` for `ttl` seconds (`default_ttl`, else forever, when None)."""
        now = self._clock()
        ttl_seconds = ttl if ttl is not None else self._default_ttl
        expiry = now + ttl_seconds if ttl_seconds is not None else float("inf")
        self._entries.pop(session_id, None)
        self._entries[session_id] = (expiry, json.dumps(data, separators=(",", ":")))
        self._prune(now)

    async def delete(self, session_id: str) -> None:
        """Forget `session_id`."""
        self._entries.pop(session_id, None)

    def _prune(self, now: float) -> None:
        # Expired entries sit at the front (write order); stop at the first
        # live one so each save costs O(entries expired), not O(all).
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest][0] > now and len(entries) <= self.max_entries:
                return
            del entries[oldest]
