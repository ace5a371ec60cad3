"""`RedisStore`: sessions in Redis, shared by every process of an app."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import partial
from typing import Any, Final

from flagstone_contract.http import redact_url

from ._exceptions import SessionStoreError

__all__ = ["RedisStore"]

logger = logging.getLogger("flagstone_sessions")

DEFAULT_TTL: Final = 14 * 24 * 3600


def _describe_client(client: Any) -> str:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class RedisStore:
    """Keep sessions in Redis (redis-py), so every worker process shares them.

    `RedisStore("redis://127.0.0.1:6379/0")` builds its own clients with
    `timeout` seconds for connecting and for each reply, so an unreachable
    Redis gives a `SessionStoreError` naming the (password-redacted) URL
    instead of a hung request.  Or pass a client you configured:
    a `redis.asyncio.Redis` (asyncio only) or a sync `redis.Redis` (run in a
    worker thread, on asyncio and trio alike).  redis-py's asyncio client does
    not run on trio, so under trio a URL-built store uses the sync client in a
    worker thread.

    Keys are `prefix + session_id`, values JSON with Redis' own expiry (`SET
    ... EX ttl`).  `default_ttl` applies when the middleware has no `max_age`,
    so records never live forever.  Install with `pip install
    "flagstone-sessions[redis]"`.

    Outages: `timeout` bounds how long one request can wait for a Redis that
    is down or frozen.  After a failure the store is treated as unavailable
    for `retry_after` seconds: calls fail at once, without waiting, so a
    frozen Redis does not cost `timeout` on every request; then one call
    tries again.  The outage is logged once when it starts (ERROR) and once
    when Redis answers again (WARNING), not once per request.
    """

    def __init__(
        self,
        client_or_url: Any,
        *,
        prefix: str = "flagstone:session:",
        default_ttl: int = DEFAULT_TTL,
        timeout: float = 2.0,
        retry_after: float = 1.0,
    ) -> None:
        try:
            import redis
            import redis.asyncio
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise ImportError(
                'RedisStore needs redis-py: pip install "flagstone-sessions[redis]"'
            ) from exc
        self.prefix = prefix
        self.default_ttl = default_ttl
        self.timeout = timeout
        self.retry_after = retry_after
        # Outage state (see the class docs): the error that started it, and
        # until when (time.monotonic) calls fail without trying Redis.
        self._outage: str | None = None
        self._retry_at = 0.0
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._async: Any = None
        self._sync: Any = None
        if isinstance(client_or_url, str):
            self.url = redact_url(client_or_url)
            self._async = redis.asyncio.Redis.from_url(
                client_or_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            # Built only if a trio app uses the store (it costs a pool).
            self._make_sync: Any = partial(
                redis.Redis.from_url,
                client_or_url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
        elif isinstance(client_or_url, redis.asyncio.Redis):
            self.url = _describe_client(client_or_url)
            self._async = client_or_url
            self._make_sync = None
        elif isinstance(client_or_url, redis.Redis):
            self.url = _describe_client(client_or_url)
            self._sync = client_or_url
            self._make_sync = None
        else:
            raise TypeError(
                "RedisStore takes a redis:// URL, a redis.asyncio.Redis or a redis.Redis, "
                f"got {type(client_or_url).__name__}"
            )

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r}, timeout={self.timeout!r})"

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the session stored under `session_id`, or None."""
        raw = await self._call("get", self.prefix + session_id)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # Someone else wrote this key; treat it as no session rather than a 500.
            # Log only an id prefix: the full id is a bearer credential.
            logger.warning(
                "ignoring a non-session value at Redis key %s%s…", self.prefix, session_id[:6]
            )
            return None
        return data

    async def save(self, session_id: str, data: dict[str, Any], ttl: int | None) -> None:
        """Write the session with Redis expiry `ttl` seconds (`default_ttl` when None)."""
        seconds = max(1, ttl if ttl is not None else self.default_ttl)
        payload = json.dumps(data, separators=(",", ":"))
        await self._call("set", self.prefix + session_id, payload, ex=seconds)

    async def delete(self, session_id: str) -> None:
        """Delete the session record."""
        await self._call("delete", self.prefix + session_id)

    async def ping(self) -> None:
        """Check that Redis answers; raises `SessionStoreError` otherwise (for startup checks)."""
        await self._call("ping")

    async def aclose(self) -> None:
        """Close the connections this store holds."""
        # The asyncio client can only be closed on asyncio; under trio it was
        # never used (the sync client was), so it holds no connection.
        if self._async is not None and _on_asyncio():
            await self._async.aclose()
        if self._sync is not None:
            self._sync.close()

    async def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if self._outage is not None:
            if now < self._retry_at:
                raise SessionStoreError(
                    f"Redis session store at {self.url} is unavailable ({self._outage}); "
                    f"not retrying for up to {self.retry_after:g} s."
                )
            # This call probes Redis; concurrent ones keep failing fast
            # meanwhile instead of all waiting out the timeout.
            self._retry_at = now + self.retry_after
        try:
            if self._async is not None and _on_asyncio():
                result = await getattr(self._async, command)(*args, **kwargs)
            else:
                call = partial(getattr(self._sync_client(), command), *args, **kwargs)
                result = await _run_in_thread(call)
        except self._errors as exc:
            self._failed(command, exc)
            raise SessionStoreError(
                f"Redis session store at {self.url} failed on {command.upper()}: {exc}. "
                "Check that redis-server is running and reachable from this process."
            ) from exc
        if self._outage is not None:
            logger.warning("session store: Redis at %s answers again; outage over", self.url)
            self._outage = None
        return result

    def _failed(self, command: str, exc: BaseException) -> None:
        # Logged once per outage, not once per request: during an outage
        # every request with a session cookie would otherwise add a line.
        if self._outage is None:
            logger.error(
                "session store: Redis at %s failed on %s: %s; requests that use the "
                "session get 503 until it answers again (retried every %g s)",
                self.url,
                command.upper(),
                exc,
                self.retry_after,
            )
        self._outage = f"{command.upper()} failed: {exc}"
        self._retry_at = time.monotonic() + self.retry_after

    def _sync_client(self) -> Any:
        if self._sync is None:
            if self._make_sync is None:
                raise SessionStoreError(
                    "RedisStore was given a redis.asyncio client, which only runs on "
                    "asyncio; under trio pass a redis:// URL or a sync redis.Redis instead."
                )
            self._sync = self._make_sync()
        return self._sync


async def _run_in_thread(call: Any) -> Any:
    # The sync client blocks; keep the event loop free.  Its socket timeouts
    # bound how long the worker thread can take.
    if _on_asyncio():
        return await asyncio.to_thread(call)
    import trio  # only reached under trio, which is then installed

    return await trio.to_thread.run_sync(call)
