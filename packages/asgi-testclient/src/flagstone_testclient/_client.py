"""`TestClient` (sync, an `httpx.Client`) and `AsyncTestClient` (an `httpx.AsyncClient`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.from_thread import BlockingPortal, start_blocking_portal

from flagstone_contract import ASGIApp

from ._httpx import httpx
from ._lifespan import LifespanRunner
from ._scope import ConnectionInfo, websocket_scope
from ._transports import BUFFERED, AsyncTransport, SyncResponseStream, SyncTransport
from ._validation import HeaderCase
from ._websocket import AsyncWebSocketTestSession, WebSocketConnection, WebSocketTestSession

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import AuthTypes, CookieTypes, HeaderTypes, QueryParamTypes, TimeoutTypes

__all__ = ["AsyncTestClient", "TestClient"]


# The handshake headers Starlette's client adds, each unless the test passed
# it: a fixed key (the test client needs no real one: nobody checks the
# accept hash) and no `upgrade` header, so an app sees the same headers as
# under Starlette's client.
_HANDSHAKE_HEADERS = {
    "connection": "upgrade",
    "sec-websocket-key": "testserver==",
    "sec-websocket-version": "13",
}


def _handshake_request(
    client: httpx.Client | httpx.AsyncClient,
    url: httpx.URL | str,
    subprotocols: list[str] | None,
    params: QueryParamTypes | None,
    headers: HeaderTypes | None,
    cookies: CookieTypes | None,
    auth: AuthTypes | UseClientDefault | None,
) -> httpx.Request:
    # Built by httpx so base_url, default headers, cookies and params apply
    # as for any request (Starlette joins the URL to ws://testserver and
    # ignores base_url).  The handshake headers go in with the call's own
    # headers, so they replace the client's defaults (httpx sends
    # `connection: keep-alive`, which no WebSocket client does) in the
    # order Starlette's client gives them; headers the test passes win.
    call_headers = httpx.Headers(headers)
    for name, value in _HANDSHAKE_HEADERS.items():
        call_headers.setdefault(name, value)
    if subprotocols is not None:
        call_headers.setdefault("sec-websocket-protocol", ", ".join(subprotocols))
    request = client.build_request("GET", url, params=params, headers=call_headers, cookies=cookies)
    # `auth=` (or the client's): its first step signs the handshake, as
    # httpx would sign the request Starlette's client sends.
    flow = client._build_request_auth(request, auth).sync_auth_flow(request)
    try:
        return next(flow)
    finally:
        flow.close()


def _connection_info(
    client: tuple[str, int], root_path: str, state: dict[str, Any], prefix_root_path: bool
) -> ConnectionInfo:
    # Checked here, not at the first request, so the mistake points at the
    # line that made it.
    host, port = client if isinstance(client, (tuple, list)) and len(client) == 2 else (None, None)
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"client must be a (host: str, port: int) pair, got {client!r}")
    if not isinstance(root_path, str) or (root_path and not root_path.startswith("/")):
        raise ValueError(f"root_path must be '' or start with '/', got {root_path!r}")
    return ConnectionInfo((host, port), root_path, state, prefix_root_path)


def _default_headers(headers: HeaderTypes | None) -> httpx.Headers:
    # A copy: Starlette mutates the dict the caller passed in.
    merged = httpx.Headers(headers)
    merged.setdefault("user-agent", "testclient")
    return merged


class _LifespanSteps:
    """Starlette's lifespan steps, `lifespan()`, `wait_startup()`, `wait_shutdown()`.

    `with client:` / `async with client:` runs them; they are public so that a
    subclass can wrap a step (as with Starlette's `TestClient`) and so that a
    test can drive the lifespan by hand: start `lifespan()` as a task, await
    `wait_startup()`, later `wait_shutdown()`.  Every step is bounded by
    `lifespan_timeout`.
    """

    app: ASGIApp
    app_state: dict[str, Any]
    lifespan_timeout: float | None
    raise_server_exceptions: bool
    _lifespan: LifespanRunner | None

    def _lifespan_runner(self, step: str) -> LifespanRunner:
        # Built on first use, inside the event loop (anyio primitives belong
        # to one); `lifespan()` and `wait_startup()` may run in either order.
        if self._lifespan is None:
            if step == "wait_shutdown":
                raise RuntimeError(
                    "wait_shutdown() without a running lifespan: start lifespan() and await "
                    "wait_startup() first (or use the client in a `with` block)"
                )
            self._lifespan = LifespanRunner(
                self.app,
                self.app_state,
                timeout=self.lifespan_timeout,
                raise_server_exceptions=self.raise_server_exceptions,
            )
        return self._lifespan

    async def lifespan(self) -> None:
        """Run the app's `lifespan` scope until shutdown; start it as a task."""
        await self._lifespan_runner("lifespan").run()

    async def wait_startup(self) -> None:
        """Send `lifespan.startup` and wait for the app's answer; raise if startup failed."""
        await self._lifespan_runner("wait_startup").startup()

    async def wait_shutdown(self) -> None:
        """Send `lifespan.shutdown`, wait for the answer and for the lifespan task to end."""
        try:
            await self._lifespan_runner("wait_shutdown").shutdown()
        finally:
            self._lifespan = None

    async def _abandon_lifespan(self) -> None:
        # Startup failed or timed out: stop the task without a shutdown.
        runner, self._lifespan = self._lifespan, None
        if runner is not None:
            await runner.cancel()


class TestClient(_LifespanSteps, httpx.Client):
    """A sync `httpx.Client` that sends its requests to an ASGI app.

    Starlette-compatible constructor.  The app runs in an event loop on a
    helper thread (an anyio blocking portal): inside `with TestClient(app) as
    client:` one loop serves the whole block and lifespan startup/shutdown run
    at its edges; outside it each request (and each WebSocket session) gets a
    fresh loop and no lifespan, as in Starlette.  `timeout` bounds every wait
    on an HTTP response (the whole response for `get()`, each chunk for
    `stream()`), `websocket_timeout` every WebSocket handshake and receive,
    `lifespan_timeout` startup and shutdown.  URLs are sent as written and
    `root_path` only sets `scope["root_path"]`, as in Starlette;
    `prefix_root_path=True` prepends it to every path instead.  An upper-case
    header name from the app is lower-cased with an `ASGIProtocolWarning`
    (once per app and name), or refused with `strict_header_case=True`.
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: CookieTypes | None = None,
        headers: HeaderTypes | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
        *,
        timeout: TimeoutTypes = 5.0,
        websocket_timeout: float | None = 5.0,
        lifespan_timeout: float | None = 5.0,
        prefix_root_path: bool = False,
        strict_header_case: bool = False,
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.websocket_timeout = websocket_timeout
        self.lifespan_timeout = lifespan_timeout
        if backend not in ("asyncio", "trio"):
            raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")
        self.async_backend: dict[str, Any] = {
            "backend": backend,
            "backend_options": backend_options or {},
        }
        self.app_state: dict[str, Any] = {}
        self._header_case = HeaderCase(strict=strict_header_case, app=app)
        self._info = _connection_info(client, root_path, self.app_state, prefix_root_path)
        self._portal: BlockingPortal | None = None
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._lifespan: LifespanRunner | None = None
        self._open_streams: set[SyncResponseStream] = set()
        super().__init__(
            base_url=base_url,
            headers=_default_headers(headers),
            cookies=cookies,
            follow_redirects=follow_redirects,
            timeout=timeout,
            transport=SyncTransport(self),
        )

    @property
    def portal(self) -> BlockingPortal | None:
        """The blocking portal of the current `with` block (None outside it), as in Starlette.

        `client.portal.call(coroutine_function)` runs code in the app's event loop.
        """
        return self._portal

    def _acquire_portal(self) -> tuple[BlockingPortal, Callable[[], None]]:
        """The block's portal, or a new one (and how to release it) outside `with`."""
        if self._portal is not None:
            return self._portal, lambda: None
        manager = start_blocking_portal(**self.async_backend)
        portal = manager.__enter__()

        def release() -> None:
            manager.__exit__(None, None, None)

        return portal, release

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send `request` (see `httpx.Client.send`); `stream` selects the timeout rule."""
        token = BUFFERED.set(not stream)
        try:
            return super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        finally:
            BUFFERED.reset(token)

    def websocket_connect(
        self,
        url: httpx.URL | str,
        subprotocols: list[str] | None = None,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        timeout: float | Literal["default"] | None = "default",
    ) -> WebSocketTestSession:
        """A WebSocket session to `url` (relative to `base_url`); use it in a `with` block."""
        request = _handshake_request(self, url, subprotocols, params, headers, cookies, auth)
        connect = partial(
            WebSocketConnection,
            self.app,
            websocket_scope(request, self._info, subprotocols or []),
            # As in Starlette, a WebSocket session always re-raises the app's
            # exception: raise_server_exceptions is about HTTP responses.
            raise_server_exceptions=True,
            timeout=self.websocket_timeout if timeout == "default" else timeout,
            header_case=self._header_case,
        )
        return WebSocketTestSession(connect, self._acquire_portal)

    def __enter__(self) -> TestClient:
        if self._portal is not None:
            raise RuntimeError("this TestClient is already in a `with` block")
        self._portal_cm = start_blocking_portal(**self.async_backend)
        portal = self._portal_cm.__enter__()
        self._lifespan = None
        portal.start_task_soon(self.lifespan)
        try:
            portal.call(self.wait_startup)
        except BaseException:
            try:
                portal.call(self._abandon_lifespan)
            finally:
                self._portal_cm.__exit__(None, None, None)
                self._portal_cm = None
            raise
        self._portal = portal
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        # Unlike httpx.Client, leaving the block does not close the client:
        # `with client:` may be used again, as with Starlette's TestClient.
        portal, manager = self._portal, self._portal_cm
        self._portal = self._portal_cm = None
        if portal is None or manager is None:
            raise RuntimeError("TestClient.__exit__ without a matching __enter__")
        # Streams the test left open are client disconnects, before shutdown
        # (a server closes its connections before running lifespan shutdown).
        for stream in list(self._open_streams):
            stream.abandon()
        try:
            portal.call(self.wait_shutdown)
        finally:
            # Cancels whatever the test left running (unclosed streams).
            portal.call(portal.stop, True)
            manager.__exit__(None, None, None)


class AsyncTestClient(_LifespanSteps, httpx.AsyncClient):
    """An `httpx.AsyncClient` that runs the app in the test's own event loop.

    Same options as `TestClient`.  Inside `async with AsyncTestClient(app) as
    client:` lifespan runs at the edges and every request's app runs as a task
    in a task group owned by the client, so responses stream and loop-bound
    resources (connection pools, locks) work.  Outside it the client still
    works, but each response is read in full before it is returned, and there
    is no lifespan.
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: CookieTypes | None = None,
        headers: HeaderTypes | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
        *,
        timeout: TimeoutTypes = 5.0,
        websocket_timeout: float | None = 5.0,
        lifespan_timeout: float | None = 5.0,
        prefix_root_path: bool = False,
        strict_header_case: bool = False,
    ) -> None:
        self.app = app
        self.raise_server_exceptions = raise_server_exceptions
        self.websocket_timeout = websocket_timeout
        self.lifespan_timeout = lifespan_timeout
        self.app_state: dict[str, Any] = {}
        self._header_case = HeaderCase(strict=strict_header_case, app=app)
        self._info = _connection_info(client, root_path, self.app_state, prefix_root_path)
        self._task_group: TaskGroup | None = None
        self._lifespan: LifespanRunner | None = None
        self._asgi_transport = AsyncTransport(self)
        super().__init__(
            base_url=base_url,
            headers=_default_headers(headers),
            cookies=cookies,
            follow_redirects=follow_redirects,
            timeout=timeout,
            transport=self._asgi_transport,
        )

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send `request` (see `httpx.AsyncClient.send`); `stream` selects the timeout rule."""
        token = BUFFERED.set(not stream)
        try:
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        finally:
            BUFFERED.reset(token)

    def websocket_connect(
        self,
        url: httpx.URL | str,
        subprotocols: list[str] | None = None,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = httpx.USE_CLIENT_DEFAULT,
        timeout: float | Literal["default"] | None = "default",
    ) -> AsyncWebSocketTestSession:
        """A WebSocket session to `url` (relative to `base_url`); use it in `async with`."""
        request = _handshake_request(self, url, subprotocols, params, headers, cookies, auth)
        # Built on entry, so a session never entered leaves no stream unclosed.
        connect = partial(
            WebSocketConnection,
            self.app,
            websocket_scope(request, self._info, subprotocols or []),
            # As in Starlette, a WebSocket session always re-raises the app's
            # exception: raise_server_exceptions is about HTTP responses.
            raise_server_exceptions=True,
            timeout=self.websocket_timeout if timeout == "default" else timeout,
            header_case=self._header_case,
        )
        return AsyncWebSocketTestSession(connect)

    async def __aenter__(self) -> AsyncTestClient:
        if self._task_group is not None:
            raise RuntimeError("this AsyncTestClient is already in an `async with` block")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._lifespan = None
        task_group.start_soon(self.lifespan)
        try:
            await self.wait_startup()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._abandon_lifespan()
            task_group.cancel_scope.cancel()
            # Not passing the error in: the task group would wrap it in an
            # ExceptionGroup, and the test should see the app's own exception.
            await task_group.__aexit__(None, None, None)
            raise
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        # Unlike httpx.AsyncClient, leaving the block does not close the
        # client, so it can be entered again.
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            raise RuntimeError("AsyncTestClient.__aexit__ without a matching __aenter__")
        try:
            # Streams the test left open are client disconnects, before
            # shutdown (a server closes its connections first), as in TestClient.
            await self._asgi_transport.abandon_open_streams()
            await self.wait_shutdown()
        finally:
            # Cancels whatever the test left running (unclosed streams).
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
