"""The scope-key contract: every key one package writes for another to read.

ASGI scopes are the only channel between flagstone packages (and between them
and third-party code), so every key that crosses a package boundary is named
here once, with its type, who writes it and who reads it.  Standard ASGI keys
and the keys Starlette established keep their usual names, so third-party
code that reads `scope["path_params"]` or `scope["session"]` keeps working.
Agreements private to the toolkit live under the `flagstone.` prefix.

A package that needs a new cross-package key adds it here first;
`tools/check_scope_keys.py` fails on a key a package uses that is not here,
and on a key here that no package uses.  A key private to one package is
named `flagstone.<package>.<name>` and is not declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "APP_TASKS_KEY",
    "BACKGROUND_KEY",
    "BODY_IDLE_TIMEOUT_KEY",
    "BODY_COUNTER_KEY",
    "BODY_KEY",
    "EXCEPTION_HANDLERS_KEY",
    "MAX_BODY_SIZE_KEY",
    "SCOPE_KEYS",
    "ScopeKey",
]

BODY_KEY: Final = "flagstone.body"
MAX_BODY_SIZE_KEY: Final = "flagstone.max_body_size"
BODY_IDLE_TIMEOUT_KEY: Final = "flagstone.body_idle_timeout"
BODY_COUNTER_KEY: Final = "flagstone.body_counter"
EXCEPTION_HANDLERS_KEY: Final = "flagstone.exception_handlers"
BACKGROUND_KEY: Final = "flagstone.background"
APP_TASKS_KEY: Final = "flagstone.app_tasks"


@dataclass(frozen=True, slots=True)
class ScopeKey:
    """One documented scope key: its name, value type, writer, readers and meaning."""

    name: str
    type: str
    written_by: str
    read_by: str
    meaning: str


SCOPE_KEYS: Final[tuple[ScopeKey, ...]] = (
    ScopeKey(
        "app",
        "ASGIApp",
        "the App (flagstone meta) or any framework's outermost app",
        "requests (`Request.app`, `url_for` fallback), routing (`lifespan` receives it)",
        "The application object that received the request.",
    ),
    ScopeKey(
        "router",
        "flagstone_routing.Router (anything with `url_path_for(name, /, **params)`)",
        "routing: set only if absent, so the outermost router wins",
        "requests (`Request.url_for`)",
        "The router that reverses route names into URLs for this request.",
    ),
    ScopeKey(
        "route",
        "flagstone_routing.BaseRoute",
        "routing, on a FULL match",
        "requests, middleware, telemetry",
        "The route that matched (innermost wins through mounts).",
    ),
    ScopeKey(
        "endpoint",
        "Callable | ASGIApp",
        "routing, on a FULL match",
        "middleware, telemetry",
        "The endpoint (or mounted app) the request was dispatched to.",
    ),
    ScopeKey(
        "path_params",
        "dict[str, Any]",
        "routing: merged through mounts, inner values win",
        "requests (`Request.path_params`)",
        "Converted path parameters of the matched route.",
    ),
    ScopeKey(
        "root_path",
        "str",
        "the server (ASGI); routing appends each Mount's matched prefix",
        "routing (strips it from `path` at a segment boundary), requests (`base_url`)",
        "The path prefix under which the current app is mounted; `path` keeps the full path.",
    ),
    ScopeKey(
        "app_root_path",
        "str",
        "routing, on entering the first Mount (keeps the server's root_path)",
        "requests (`Request.base_url`, `url_for`)",
        "The root path of the outermost app, so `url_for` inside a mount yields full URLs.",
    ),
    ScopeKey(
        "state",
        "dict[str, Any]",
        "the server (lifespan scope); routing merges a lifespan's yielded mapping into it",
        "requests (`Request.state`), any app",
        "Lifespan state; each request gets a shallow copy from the server.",
    ),
    ScopeKey(
        "session",
        "MutableMapping[str, Any] (flagstone_sessions.Session)",
        "sessions (`SessionMiddleware`), for http and websocket scopes",
        "requests (`HTTPConnection.session`), any app",
        "The session of this connection; changes are saved when the response starts.",
    ),
    ScopeKey(
        "auth",
        "AuthCredentials (flagstone_middleware; anything with a `scopes` list)",
        "middleware (`AuthenticationMiddleware`), for http and websocket scopes",
        "requests (`HTTPConnection.auth`), middleware (`requires`), any app",
        "What the caller may do: the scope names granted by the authentication backend.",
    ),
    ScopeKey(
        "flagstone.trusted_host",
        "str",
        "middleware (`TrustedHostMiddleware`, when `allowed_hosts` is not `*`)",
        "middleware (`HTTPSRedirectMiddleware`), any app that builds an absolute URL",
        "The request's Host name, present only when it matched an allow-list: safe to put "
        "in an absolute URL (a merely well-formed Host may still be an attacker's).",
    ),
    ScopeKey(
        "user",
        "BaseUser (flagstone_middleware; `is_authenticated`, `display_name`, `identity`)",
        "middleware (`AuthenticationMiddleware`), for http and websocket scopes",
        "requests (`HTTPConnection.user`), any app",
        "Who is calling: the backend's user, or `UnauthenticatedUser()`.",
    ),
    ScopeKey(
        BODY_KEY,
        "bytes | None",
        "requests: the first reader that consumed the whole body; middleware "
        "(`BaseHTTPMiddleware` sets None when it replays the body through `receive`)",
        "requests: every later `Request` over the same scope; any middleware",
        "The complete request body, cached so middleware and endpoint can both read it.  "
        "None: a layer replays the body through `receive`, so readers read it from there.",
    ),
    ScopeKey(
        MAX_BODY_SIZE_KEY,
        "int | None",
        "every body-limit layer on the way in (`RequestBodyLimitMiddleware`, `max_body_size` "
        "on App, Router, Mount, Route): the innermost one wins, larger or smaller",
        "the body counter, on each chunk; requests (413 for a cached body over the limit)",
        "The most request-body bytes this request may carry; None means no limit.  The one "
        "public key through which limits nest: write it (or wrap with "
        "`RequestBodyLimitMiddleware`) to set the limit for everything inside.",
    ),
    ScopeKey(
        BODY_COUNTER_KEY,
        "flagstone_contract.BodyCounter",
        "the first body-limit layer (`limit_request_body`), which wraps `receive` with it",
        "inner body-limit layers (so they do not count again); requests (counts only without it)",
        "The one counter of this request's body bytes; present means `receive` is counted.",
    ),
    ScopeKey(
        BODY_IDLE_TIMEOUT_KEY,
        "float | None",
        "the App (`body_idle_timeout`), or any middleware or router",
        "requests (body readers answer 408 when it fires)",
        "Seconds a body reader waits for the next body chunk before giving up with 408 "
        "Request Timeout; None (or absent) means wait as long as the client keeps the "
        "connection open.",
    ),
    ScopeKey(
        EXCEPTION_HANDLERS_KEY,
        "tuple[dict[type[BaseException], handler], dict[int, handler]]",
        "requests (`ExceptionMiddleware`)",
        "routing (raise `HTTPException` rather than answer a plain 404/405), requests (endpoint wrappers)",
        "Exception handlers by class and by status code; present means errors are rendered.",
    ),
    ScopeKey(
        BACKGROUND_KEY,
        "an object with `add_task(func, *args, **kwargs)` (flagstone_background.RequestTasks)",
        "background (`BackgroundMiddleware`)",
        "any app or endpoint that schedules work to run after the response",
        "Tasks run after the final `http.response.body` was sent; not when the response "
        "failed or the client left, unless added with `add_task_always`.",
    ),
    ScopeKey(
        APP_TASKS_KEY,
        "flagstone_background.AppTasks (`await spawn(func, *args, **kwargs)`)",
        "background (`AppTasksMiddleware`), for http and websocket scopes",
        "any app or endpoint that starts work owned by the lifespan, not the request",
        "The lifespan-owned task group: bounded concurrency, drained at shutdown.",
    ),
)
