"""`SessionMiddleware`: a signed session at `scope["session"]` for any ASGI app."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Final, Literal

from flagstone_contract import ASGIApp, DerivedAttributes, Message, Receive, Scope, Send
from flagstone_contract.http import build_set_cookie, is_token

from ._codec import (
    BROWSER_COOKIE_LIMIT,
    ID_PATTERN,
    ID_SALT,
    PayloadSigner,
    cookie_values,
    normalize_keys,
    serialize,
    unchanged,
)
from ._exceptions import (
    CookieTooLargeError,
    SessionReadOnlyError,
    SessionStoreError,
    SessionUnavailableError,
)
from ._session import Session, UnavailableSession
from ._stores import SessionStore

__all__ = ["SessionMiddleware"]

DEFAULT_MAX_AGE: Final = 14 * 24 * 3600  # two weeks, as Starlette

_VARY_COOKIE: Final = b"Cookie"


class _State:
    """What one connection's session needs between loading and saving."""

    __slots__ = ("baseline", "session", "session_id", "stale", "unavailable")

    def __init__(
        self,
        session: Session,
        baseline: str | None = None,
        stale: bool = False,
        session_id: str | None = None,
        unavailable: SessionUnavailableError | None = None,
    ) -> None:
        self.session = session
        # The store could not load the session: nothing is saved or cleared
        # (the browser's cookie stays valid for when the store is back).
        self.unavailable = unavailable
        # The serialized session as loaded (None: the browser has no usable
        # session), compared at save time to detect any change, nested ones too.
        self.baseline = baseline
        # The browser holds a cookie of ours that means nothing (bad signature,
        # expired, garbage, or an id whose record is gone): clear it unless we
        # write a new one.
        self.stale = stale
        self.session_id = session_id


class SessionMiddleware(DerivedAttributes):
    """Put a signed session at `scope["session"]` for http and websocket connections.

    Starlette-compatible arguments and cookie format (existing Starlette
    session cookies stay valid), plus:

    - `secret_key` may be a list of keys, oldest first: cookies signed with
      any of them are accepted; every write signs with the newest (the last).
    - Changes are found by comparing the serialized session with the loaded
      one, so nested edits (`session["cart"].append(x)`) are saved.
    - `sliding_expiry=True` re-issues the cookie (and refreshes the store TTL)
      on every response that accessed a non-empty session, so it expires
      `max_age` seconds after the last *use*; the default (False) counts from
      the last *write*, as Starlette 1.x.
    - Bad cookies (tampered, expired, old key removed, oversize, undecodable)
      give an empty session and the response clears them: never a 500.
    - A cookie session whose Set-Cookie header would exceed 4096 bytes raises
      `CookieTooLargeError` when the response starts (the app's `send` raises,
      so the server answers 500) instead of a cookie the browser drops.
    - `store=` keeps the data server side (`MemoryStore`, `RedisStore`, any
      `SessionStore`); the cookie then carries only a signed random id, and
      `session.regenerate()` / `session.clear()` replace / delete the record.

    WebSocket: the session is loaded from the handshake's cookie.  Changes made
    before `websocket.accept` are saved and their Set-Cookie rides on the accept
    message's `headers` (or on a denial response).  After accept no cookie can
    be sent, so a cookie session (or a store session the browser has no id for)
    becomes read-only: writes raise `SessionReadOnlyError`, and nested changes
    are reported by the same error when the app returns.  A store session whose
    id the browser holds is saved again when the app returns.
    """

    # The constructor's defaults: a subclass that skips `__init__` sets `app`
    # and `secret_key`, and any of these (assign; `max_age` in seconds).  The
    # signer and the Set-Cookie pieces are derived from them.
    store: SessionStore | None = None
    sliding_expiry: bool = False
    max_age: int | None = DEFAULT_MAX_AGE
    session_cookie: str = "session"
    path: str = "/"
    same_site: Literal["lax", "strict", "none"] = "lax"
    https_only: bool = False
    domain: str | None = None
    partitioned: bool = False

    _derived_from = frozenset(
        {
            "secret_key", "store", "max_age", "session_cookie", "path", "same_site",
            "https_only", "domain", "partitioned",
        }
    )  # fmt: skip
    _derived_names = frozenset(
        {"_signer", "_cookie_name", "_set_prefix", "_set_suffix", "_clear_header"}
    )

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | bytes | list[str] | list[bytes] | tuple[str | bytes, ...],
        session_cookie: str = "session",
        max_age: int | timedelta | None = DEFAULT_MAX_AGE,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
        *,
        sliding_expiry: bool = False,
        store: SessionStore | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.sliding_expiry = sliding_expiry
        self.secret_key = secret_key
        self.max_age = _seconds(max_age, negative_ok=store is None)
        self.session_cookie = session_cookie
        self.path = path
        self.same_site = same_site
        self.https_only = https_only
        self.domain = domain
        self.partitioned = partitioned
        self._derive()

    def _derive(self) -> None:
        """Build the signer and the Set-Cookie pieces from the public attributes."""
        # Different salts: an id cookie is never accepted as a data cookie and
        # the other way round, even under the same key.
        salt = None if self.store is None else ID_SALT
        self._signer = PayloadSigner(normalize_keys(self.secret_key), self.max_age, salt)
        session_cookie = self.session_cookie
        if not is_token(session_cookie):
            raise ValueError(f"session_cookie {session_cookie!r} is not a valid cookie name")
        _check_cookie_options(self.path, self.same_site, self.https_only, self.partitioned)
        _check_cookie_prefix(session_cookie, self.path, self.domain, self.https_only)
        # The contract's Set-Cookie builder checks path and domain (a `;` or a
        # control character would start an attribute of the caller's choice).
        build_set_cookie(
            session_cookie, "v", path=self.path, domain=self.domain, secure=self.https_only,
            httponly=True, samesite=self.same_site, partitioned=self.partitioned,
        )  # fmt: skip
        # The value changes per response, the attributes never: built once,
        # spelled and ordered as Starlette writes them (ported tests compare
        # the header).
        flags = "httponly; samesite=" + self.same_site
        if self.https_only:
            flags += "; secure"
        if self.domain is not None:
            flags += f"; domain={self.domain}"
        if self.partitioned:
            flags += "; partitioned"
        age = "" if self.max_age is None else f"Max-Age={self.max_age}; "
        self._cookie_name = session_cookie.encode("ascii")
        self._set_prefix = self._cookie_name + b"="
        self._set_suffix = f"; path={self.path}; {age}{flags}".encode("latin-1")
        # Starlette's deletion: a "null" value that expired in 1970.
        self._clear_header = (
            b"set-cookie",
            self._set_prefix
            + f"null; path={self.path}; expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}".encode(
                "latin-1"
            ),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- connection flows ----------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._load_signed(scope) if self.store is None else await self._load(scope)
        scope["session"] = state.session
        started = False
        replaced = False

        async def send_with_session(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the app's response was replaced by a 503: drop the rest
            # The session is saved as the response starts: the cookie can
            # only travel with the response headers.
            if message["type"] == "http.response.start":
                try:
                    message = await self._with_session_headers(scope, message, state, vary=True)
                except SessionStoreError as exc:
                    # The app changed the session and the store cannot take
                    # it: a 503 says so, where sending the app's response
                    # would claim a change that was lost.
                    replaced = started = True
                    await _send_unavailable(send, self._unavailable(exc))
                    return
                self._cookie_sent(state, "with the response headers")
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except SessionUnavailableError as exc:
            # The app used a session the store could not load, and no
            # exception handler rendered the 503: answer it here.
            if started:
                raise
            await _send_unavailable(send, exc)
            return
        # Usually nothing to do: the flags were reset when the cookie went
        # out, so an untouched session that was not replaced needs no call.
        if (
            started
            and not replaced
            and (state.session.accessed or scope.get("session") is not state.session)
        ):
            await self._save_late_changes(scope, state, "after the response started")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._load_signed(scope) if self.store is None else await self._load(scope)
        scope["session"] = state.session
        handshake_done = False

        async def send_with_session(message: Message) -> None:
            nonlocal handshake_done
            kind = message["type"]
            if not handshake_done and kind in ("websocket.accept", "websocket.http.response.start"):
                # ASGI lets both carry headers: the only moment a websocket
                # can set a cookie.  Vary only matters to HTTP caches.
                message = await self._with_session_headers(
                    scope, message, state, vary=kind != "websocket.accept"
                )
                self._cookie_sent(state, "with the websocket handshake (websocket.accept)")
                handshake_done = True
            await send(message)

        await self.app(scope, receive, send_with_session)
        moment = "after websocket.accept" if handshake_done else "without a handshake response"
        await self._save_late_changes(scope, state, moment)

    def _cookie_sent(self, state: _State, moment: str) -> None:
        session = state.session
        # From here on the flags mean "touched since the save", so the check
        # when the app returns costs nothing for the usual untouched case.
        session.accessed = session.modified = False
        if self.store is None or state.session_id is None:
            # Deliberate difference from Starlette, which drops such writes
            # silently (and ignores websocket sessions entirely): fail loudly.
            session._read_only = (
                f"the session can no longer be saved: its cookie already went out {moment}. "
                "Change the session before that, or use a server-side store (store=...) "
                "so that an existing session can be saved later."
            )

    async def _save_late_changes(self, scope: Scope, state: _State, moment: str) -> None:
        """After the app returned: save what it changed once the cookie was sent, or fail."""
        if state.unavailable is not None:
            return
        _adopt_replacement(scope, state)
        session = state.session
        if not session.accessed:
            return
        if self.store is not None and state.session_id is not None:
            # A store session whose id the browser already holds: the record
            # can still be updated; only a *new* id could not be delivered.
            if session._regenerate:
                raise SessionReadOnlyError(
                    f"session.regenerate() was called {moment}, so the new id cannot reach "
                    "the browser; regenerate before the response (or websocket.accept)"
                )
            await self._commit(state)
            return
        payload = serialize(session) if dict.__len__(session) else None
        if payload == state.baseline or (
            payload is not None and unchanged(payload, state.baseline, session)
        ):
            return
        raise SessionReadOnlyError(
            f"the session was changed {moment} and that change is lost: the session cookie "
            "can only be set with the response headers (for a websocket, on "
            "websocket.accept). Change the session earlier, or use a server-side store "
            "(store=...)."
        )

    def _unavailable(self, exc: SessionStoreError) -> SessionUnavailableError:
        """The 503 for a store failure.  Its detail is what the client reads, so it
        names no host or URL; the store's own error stays attached as the cause."""
        if isinstance(exc, SessionUnavailableError):
            return exc
        retry_after = math.ceil(getattr(self.store, "retry_after", 1) or 1)
        error = SessionUnavailableError(
            "Service Unavailable: the session store cannot be reached; try again shortly.",
            retry_after,
        )
        error.__cause__ = exc
        return error

    # -- load and save -------------------------------------------------------
    # Several cookies with our name (cookie tossing: a sibling subdomain sets
    # `session=...; Domain=example.com`, or a leftover after a path or domain
    # change): the FIRST one that verifies wins, where Starlette takes the
    # last one of the header, verified or not.  A deliberate choice:
    # - first, as Werkzeug, Rack and PHP do: browsers send the cookie with the
    #   longest path first, then the oldest (RFC 6265 §5.4), so the choice is
    #   stable, not "whichever came last";
    # - that verifies: a planted junk cookie can neither replace nor log out a
    #   valid session (nothing is cleared: clearing ours would leave theirs);
    # - neither order stops a planted *valid* cookie (the attacker's own
    #   session, to log the victim into the attacker's account): the defence
    #   is a `__Host-` cookie name, which no other host can set (checked at
    #   construction).  Documented in the README and the porting guide.
    def _load_signed(self, scope: Scope) -> _State:
        """Load a cookie session (no store): synchronous, so no coroutine per request."""
        candidates = cookie_values(scope["headers"], self._cookie_name)
        if not candidates:
            return _State(Session())
        for candidate in candidates:
            loaded = self._signer.unsign_payload(candidate)
            if loaded is not None:
                return _State(Session(loaded[0]), baseline=loaded[1])
        return _State(Session(), stale=True)

    async def _load(self, scope: Scope) -> _State:
        """Load a store session: the cookie holds a signed id."""
        assert self.store is not None
        candidates = cookie_values(scope["headers"], self._cookie_name)
        if not candidates:
            return _State(Session())
        for candidate in candidates:
            value = self._signer.unsign(candidate)
            if value is not None and ID_PATTERN.fullmatch(value.decode("latin-1")):
                session_id = value.decode("ascii")
                try:
                    data = await self.store.load(session_id)
                except SessionStoreError as exc:
                    # Deferred: only a request that touches its session fails
                    # (503), not every request that carries a cookie.
                    error = self._unavailable(exc)
                    return _State(UnavailableSession(error), unavailable=error)
                if data is None:
                    # Expired or deleted server side.  Never adopt the id for
                    # new data: a fresh id is issued at the next write.
                    return _State(Session(), stale=True)
                return _State(Session(data), baseline=serialize(data), session_id=session_id)
        return _State(Session(), stale=True)

    async def _with_session_headers(
        self, scope: Scope, message: Message, state: _State, vary: bool
    ) -> Message:
        _adopt_replacement(scope, state)
        set_cookie = await self._commit(state)
        if set_cookie is None and not (vary and state.session.accessed):
            return message
        # Copy rather than mutate: the app may reuse its message objects.
        headers = list(message.get("headers", ()))
        if vary and state.session.accessed:
            _add_vary_cookie(headers)
        if set_cookie is not None:
            headers.append(set_cookie)
        return {**message, "headers": headers}

    async def _commit(self, state: _State) -> tuple[bytes, bytes] | None:
        """Save the session if it changed; return the Set-Cookie header to send, if any."""
        if state.unavailable is not None:
            return None
        session = state.session
        if not session.accessed:
            # Untouched (nested edits need a read first, which sets accessed).
            if state.stale:
                state.stale = False
                return self._clear_header
            return None
        payload = serialize(session) if dict.__len__(session) else None
        if payload is None:
            return await self._commit_empty(state)
        if (
            not session._regenerate
            and not self.sliding_expiry
            and unchanged(payload, state.baseline, session)
        ):
            return None
        if self.store is None:
            header = self._set_cookie(self._signer.sign_payload(payload))
        else:
            header = self._set_cookie(await self._save_to_store(state, session))
        state.baseline, state.stale = payload, False
        session._regenerate = False
        return header

    async def _commit_empty(self, state: _State) -> tuple[bytes, bytes] | None:
        had_cookie = state.stale or state.baseline is not None
        if self.store is not None and state.session_id is not None:
            # Logout: the record goes too, so a copied cookie is worthless.
            await self.store.delete(state.session_id)
            state.session_id = None
        state.baseline, state.stale = None, False
        state.session._regenerate = False
        return self._clear_header if had_cookie else None

    async def _save_to_store(self, state: _State, session: Session) -> bytes:
        assert self.store is not None
        old_id = state.session_id
        if old_id is None or session._regenerate:
            if old_id is not None:
                # Delete first: if the save below fails, the old (possibly
                # attacker-planted) id must already be dead.
                await self.store.delete(old_id)
            state.session_id = secrets.token_urlsafe(32)
        assert state.session_id is not None
        await self.store.save(state.session_id, dict.copy(session), self.max_age)
        return self._signer.sign(state.session_id.encode("ascii"))

    def _set_cookie(self, value: bytes) -> tuple[bytes, bytes]:
        header = self._set_prefix + value + self._set_suffix
        if len(header) > BROWSER_COOKIE_LIMIT:
            raise CookieTooLargeError(
                f"the session cookie would be {len(header)} bytes, over the {BROWSER_COOKIE_LIMIT}"
                "-byte limit browsers apply to a whole Set-Cookie header; the browser would "
                "silently drop it and the session would be lost. Keep less in the session, or "
                "keep it server side: SessionMiddleware(app, secret_key, store=RedisStore(url))."
            )
        return (b"set-cookie", header)


def _adopt_replacement(scope: Scope, state: _State) -> None:
    """Support apps that assign `scope["session"] = {...}` (Starlette saves whatever is there)."""
    current = scope.get("session")
    if current is state.session:
        return
    if current is None:
        current = {}
    if not isinstance(current, Mapping):
        raise TypeError(
            f'scope["session"] was replaced by a {type(current).__name__}; assign a mapping '
            "(or better, mutate the Session in place)"
        )
    replacement = Session(current)
    replacement.accessed = replacement.modified = True
    replacement._regenerate = state.session._regenerate
    state.session = scope["session"] = replacement


def _seconds(max_age: int | timedelta | None, *, negative_ok: bool) -> int | None:
    # A negative max_age is accepted for cookie sessions, as in Starlette:
    # every cookie is then already expired (`Max-Age=-1` deletes it at once,
    # and one that comes back is refused).  A store cannot keep a record for
    # negative seconds, so there it stays an error.
    if max_age is None:
        return None
    seconds = int(max_age.total_seconds()) if isinstance(max_age, timedelta) else max_age
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(
            f"max_age must be a number of seconds, a timedelta or None, got {max_age!r}"
        )
    if seconds < 0 and not negative_ok:
        raise ValueError(f"max_age must be >= 0 with a session store, got {max_age!r}")
    return seconds


def _check_cookie_options(path: str, same_site: str, https_only: bool, partitioned: bool) -> None:
    # A session cookie whose path the browser ignores would never come back.
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    if same_site.lower() not in ("lax", "strict", "none"):
        raise ValueError(f"same_site must be 'lax', 'strict' or 'none', got {same_site!r}")
    # Deliberate difference from Starlette: browsers reject SameSite=None and
    # Partitioned cookies without Secure, so the session would silently never
    # stick.  Fail at startup instead.
    if (same_site.lower() == "none" or partitioned) and not https_only:
        what = "same_site='none'" if same_site.lower() == "none" else "partitioned=True"
        raise ValueError(
            f"{what} needs https_only=True: browsers drop such cookies unless they are Secure"
        )


def _check_cookie_prefix(name: str, path: str, domain: str | None, https_only: bool) -> None:
    # `__Host-` is the defence against cookie tossing (a sibling subdomain
    # planting its own `session` cookie for the parent domain): browsers only
    # store such a cookie from a secure origin, host-only (no Domain) and for
    # Path=/, so no other host can set one.  A `__Host-`/`__Secure-` cookie
    # that breaks those rules is silently dropped by the browser: the session
    # would never stick.  Fail at startup instead.
    if name.startswith("__Host-") and (not https_only or path != "/" or domain is not None):
        raise ValueError(
            f"session_cookie {name!r} needs https_only=True, path='/' and no domain: "
            "browsers drop a __Host- cookie otherwise"
        )
    if name.startswith("__Secure-") and not https_only:
        raise ValueError(
            f"session_cookie {name!r} needs https_only=True: browsers drop a __Secure- cookie "
            "that is not Secure"
        )


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" not in tokens and b"*" not in tokens:
                headers[index] = (name, value + b", " + _VARY_COOKIE)
            return
    headers.append((b"vary", _VARY_COOKIE))


async def _send_unavailable(send: Send, error: SessionUnavailableError) -> None:
    """Answer `error` as a plain-text 503 (this package does not depend on a response class)."""
    body = error.detail.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        *(
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in (error.headers or {}).items()
        ),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
