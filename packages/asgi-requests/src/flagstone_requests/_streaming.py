"""`StreamingResponse` and the disconnect handling shared by every streamed body.

Deliberate differences from Starlette:

- A streaming body's iterator is closed (`aclose()`) as soon as the client
  disconnects or the task is cancelled, so its `finally` runs at once.
- Under ASGI spec >= 2.4 Starlette only learns of a disconnect at the next
  failed send; here `http.disconnect` is also listened for whenever the
  request body is settled (see `should_watch`), so an idle stream ends at once.
- A client disconnect ends a streaming response quietly (no `ClientDisconnect`
  escapes) and `background` still runs, whatever the server's ASGI version.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from flagstone_contract import BODY_KEY, Message, Receive, Scope, Send
from flagstone_contract.http import MalformedContentLength, parse_content_length

from ._concurrency import iterate_in_threadpool
from ._exception_middleware import after_start
from ._headers import Headers
from ._request import BODY_STATE_KEY, Request
from ._responses import BackgroundCallable, Response, check_background, run_background

__all__ = [
    "StreamingResponse",
    "close_iterator",
    "run_until_disconnect",
    "should_watch",
]

ContentStream = AsyncIterable[str | bytes | memoryview] | Iterable[str | bytes | memoryview]


class _ClientGone(OSError):
    """`send` failed because the client went away (ASGI spec >= 2.4 raises OSError).

    An `OSError` itself, so that code calling `stream_body` outside
    `run_until_disconnect` still sees the kind of error `send` raised.
    """


# The answer per `spec_version` string: a server sends the same one on every
# request, so parsing it each time is waste.  Bounded, since the value is the
# server's and not worth trusting with memory.
_SPEC_2_4: dict[str, bool] = {}
_SPEC_2_4_MAX = 16


def spec_at_least_2_4(scope: Scope) -> bool:
    """Whether the server implements ASGI spec 2.4 (send to a gone client raises OSError)."""
    spec = scope.get("asgi", {}).get("spec_version", "2.0")
    known = _SPEC_2_4.get(spec)
    if known is not None:
        return known
    try:
        major, minor = (int(part) for part in spec.split(".")[:2])
    except ValueError:
        known = False
    else:
        known = (major, minor) >= (2, 4)
    if len(_SPEC_2_4) < _SPEC_2_4_MAX:
        _SPEC_2_4[spec] = known
    return known


async def run_until_disconnect(
    scope: Scope,
    receive: Receive,
    send: Send,
    produce: Callable[[Send], Awaitable[None]],
    *,
    watch: bool,
    guard_send: bool = True,
) -> bool:
    """Run `produce(send)` until it finishes or the client goes; True if it went.

    Two ways to learn of a disconnect: a send to a gone client raises
    `OSError` (ASGI spec >= 2.4; under an older spec the `OSError` is not a
    disconnect and propagates, as in Starlette), and, with `watch`, a watcher
    task waits for `http.disconnect` from `receive()` and cancels the
    producer at once.
    `should_watch` decides: the watcher is skipped only when the producer may
    still need `receive()` for the request body, which the watcher would take.

    `produce` gets `send` wrapped so that its OSErrors become `_ClientGone`;
    with `guard_send=False` it gets `send` itself and promises to do that
    translation inline (a wrapper is one more coroutine per chunk).

    The watcher is only needed while the producer waits: a producer that
    never suspends (a body already in memory, a fast client) cannot be
    interrupted by anything, so on asyncio the watcher task is started
    lazily, the first time the producer suspends, and a response that never
    waits pays no task.
    """

    # Only OSErrors from `send` mean "client gone"; one raised by the body
    # iterator itself is a real error and must propagate.
    out: Send = functools.partial(send_or_gone, send) if guard_send else send
    try:
        if not watch:
            await produce(out)
            return False
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # trio, or another anyio backend
            loop = None
        if loop is None:
            return await _watch_in_task_group(scope, receive, produce, out)
        return await _watch_on_asyncio(loop, scope, receive, produce, out)
    except _ClientGone as gone:
        if spec_at_least_2_4(scope):
            return True
        # Before spec 2.4 an OSError from `send` means nothing defined (a
        # server reports a disconnect through `receive()` only): it is the
        # server's error and propagates as itself, as in Starlette.
        raise gone.__cause__ if isinstance(gone.__cause__, OSError) else gone


async def send_or_gone(send: Send, message: Message) -> None:
    """`await send(message)`, an `OSError` from it turned into `_ClientGone` (see `guard_send`)."""
    try:
        await send(message)
    except _ClientGone:
        raise
    except OSError as exc:
        raise _ClientGone(*exc.args) from exc


async def _watch_in_task_group(
    scope: Scope, receive: Receive, produce: Callable[[Send], Awaitable[None]], send: Send
) -> bool:
    disconnected = False
    error: Exception | None = None
    async with anyio.create_task_group() as tg:

        async def run_producer() -> None:
            nonlocal disconnected, error
            try:
                await produce(send)
            except _ClientGone as gone:
                if spec_at_least_2_4(scope):
                    disconnected = True
                else:
                    error = gone  # not a disconnect before 2.4: see run_until_disconnect
            except Exception as exc:
                # Re-raised below, outside the task group, so that callers and
                # exception handlers see the error itself, not an ExceptionGroup.
                error = exc
            tg.cancel_scope.cancel()

        # The producer runs in a child task and the watcher in this one: a
        # producer that never yields (small bodies, fast clients) then
        # finishes in one loop iteration, and cancelling a task blocked in
        # `receive()` costs one more -- half the iterations of the reverse.
        tg.start_soon(run_producer)
        try:
            await _until_disconnect(scope, receive)
            disconnected = True
        except Exception as exc:
            error = exc  # a failing receive() is the response's error, unwrapped too
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return disconnected


async def _until_disconnect(scope: Scope, receive: Receive) -> None:
    while True:
        message = await receive()
        _remember(scope, message)
        if message["type"] == "http.disconnect":
            return


async def _watch_on_asyncio(
    loop: asyncio.AbstractEventLoop,
    scope: Scope,
    receive: Receive,
    produce: Callable[[Send], Awaitable[None]],
    send: Send,
) -> bool:
    # The producer runs in this task, inside a cancel scope entered up front
    # (one entered later could not nest with the scopes the producer opens
    # itself).  The watcher is a plain asyncio task, started by
    # `_StartOnSuspend` only once the producer waits, that cancels the scope
    # when the client leaves: through anyio, so that shielded waits inside
    # the producer (a worker thread still running `next()` on a sync
    # iterator, a shielded cleanup) are never cut short.
    watcher: asyncio.Task[None] | None = None
    gone = False
    error: Exception | None = None
    cancel_scope = anyio.CancelScope()

    async def watch() -> None:
        nonlocal gone, error
        try:
            await _until_disconnect(scope, receive)
            gone = True
        except Exception as exc:
            error = exc  # a failing receive() is the response's error, as with a task group
        cancel_scope.cancel()

    def start_watcher() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    try:
        with cancel_scope:
            await _StartOnSuspend(produce(send), start_watcher)
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
            # No task outlives the response (the watcher is blocked in
            # receive(); this costs one loop iteration, on the waiting path only).
            await asyncio.wait((watcher,))
    if error is not None:
        raise error
    return gone


class _StartOnSuspend:
    """Await `producer` in the current task; call `on_suspend()` before it first waits.

    Until the producer suspends this is a plain call; from its first
    suspension on, it behaves exactly as `yield from` (every value the event
    loop sends or throws is passed through), so the producer cannot tell.
    """

    __slots__ = ("_on_suspend", "_producer")

    def __init__(self, producer: Awaitable[None], on_suspend: Callable[[], None]) -> None:
        self._producer = producer.__await__()
        self._on_suspend = on_suspend

    def __await__(self) -> Generator[Any, Any, None]:
        producer = self._producer
        try:
            signal = producer.send(None)
        except StopIteration:
            return  # finished without ever waiting: nothing to watch
        self._on_suspend()
        while True:
            try:
                value = yield signal
            except GeneratorExit:
                producer.close()
                raise
            except BaseException as exc:  # forwarded as is, as `yield from` does
                try:
                    signal = producer.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    signal = producer.send(value)
                except StopIteration:
                    return


def body_settled(scope: Scope) -> bool:
    """True when `receive()` can bring nothing but `http.disconnect` (and maybe one empty chunk).

    That is when the body was read in full by a `Request` (cached, or the
    shared body state saw the last chunk), or when nobody read it yet and the
    request declares no body (no Content-Length but 0, no Transfer-Encoding).
    """
    if scope.get(BODY_KEY) is not None:
        return True
    state = scope.get(BODY_STATE_KEY)
    if state is not None:
        return not state.more_body
    headers = Headers(scope=scope)
    declared = headers.get("content-length", "0")
    if "transfer-encoding" in headers:
        return False
    try:
        return parse_content_length(declared) == 0
    except MalformedContentLength:
        return False


def should_watch(scope: Scope) -> bool:
    """Whether a streaming response listens for `http.disconnect` while it sends.

    Before ASGI spec 2.4 always (as Starlette): `receive()` is the only way to
    learn of a disconnect.  From 2.4 on, also whenever the request body is
    settled, so that an idle stream (a slow generator, a chat token stream)
    is closed the moment the client leaves instead of at its next send; a
    request whose body is still unread is left alone, so a producer that
    streams the request body into the response keeps every chunk.
    """
    return not spec_at_least_2_4(scope) or body_settled(scope)


def _remember(scope: Scope, message: Message) -> None:
    # Whatever the watcher takes from `receive()` goes into the body state that
    # every `Request` over this scope shares (as `is_disconnected()` does): a
    # later `request.body()` then sees the end of the body or the disconnect
    # instead of waiting for a message that the watcher already consumed.
    if scope.get("type") != "http":
        return
    state = Request(scope)._body_state()
    try:
        chunk = Request._record(state, message)
    except RuntimeError:
        return  # not an http message: nothing a body reader could use
    if chunk:
        state.pending.append(chunk)


async def close_iterator(iterator: Any) -> None:
    """Close an async or sync iterator so its `finally` blocks run now.

    Shielded: this runs while the task is being cancelled (client gone or
    server shutting down), and a cancelled `aclose()` would skip the very
    cleanup it exists for.
    """
    with anyio.CancelScope(shield=True):
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
            return
        close = getattr(iterator, "close", None)
        if close is not None:
            await anyio.to_thread.run_sync(close)


def _as_async_iterable(content: object, owner: str) -> AsyncIterable[Any]:
    if isinstance(content, AsyncIterable):
        return content
    # A str or bytes is iterable too, but streaming it char by char is a bug.
    if isinstance(content, Iterable) and not isinstance(content, (str, bytes)):
        return iterate_in_threadpool(content)
    hint = ""
    if callable(content):
        hint = " (did you pass a generator function instead of calling it?)"
    raise TypeError(
        f"{owner} content must be an iterable or async iterable of chunks, "
        f"not {type(content).__name__}{hint}"
    )


class StreamingResponse(Response):
    """A response whose body comes from an async or sync iterable of chunks.

    Chunks may be `bytes`, `str` (encoded with `charset`) or `memoryview`.  A
    sync iterable runs in a worker thread, one hop per chunk.  No
    `content-length` is set.  The iterator is closed (`aclose()`/`close()`)
    when the body ends, the client disconnects, the task is cancelled or the
    request is a HEAD, so cleanup in its `finally` runs at once.
    """

    body_iterator: AsyncIterable[Any]
    # What `__init__` was given, closed with the iterator (None: only the iterator).
    _source: Any = None

    def __init__(
        self,
        content: ContentStream | AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundCallable | None = None,
    ) -> None:
        self._source: Any = content
        self.body_iterator = _as_async_iterable(content, type(self).__name__)
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = check_background(background)
        self.init_headers(headers)

    def encode_chunk(self, chunk: Any) -> bytes:
        """One item of the iterator as body bytes."""
        if isinstance(chunk, bytes):
            return chunk
        if isinstance(chunk, str):
            return chunk.encode(self.charset)
        if isinstance(chunk, memoryview):
            return chunk.tobytes()
        raise TypeError(
            f"{type(self).__name__} chunks must be bytes, str or memoryview, "
            f"not {type(chunk).__name__}"
        )

    async def close(self) -> None:
        """Close the body iterator (and the sync source behind a thread wrapper)."""
        await close_iterator(self.body_iterator)
        source = self._source
        if source is not None and source is not self.body_iterator:
            await close_iterator(source)

    async def stream_body(self, send: Send) -> None:
        """Send every chunk with `more_body`, then the closing empty chunk.

        An `OSError` from `send` (the client is gone) is raised as a
        `_ClientGone`, itself an `OSError`.
        """
        encode_chunk = self.encode_chunk
        # The start went out: an error layer's tracking has nothing left to
        # record, so the chunks skip it (one Python call less per chunk).
        send = after_start(send)
        # bytes pass through untouched unless a subclass encodes differently.
        plain = type(self).encode_chunk is StreamingResponse.encode_chunk
        async for chunk in self.body_iterator:
            if not plain or type(chunk) is not bytes:
                chunk = encode_chunk(chunk)
            if chunk:  # an empty chunk carries nothing: skip the message
                # The guard is inline, not a wrapper around `send`: this is
                # the per-chunk path, and only `send`'s OSErrors mean "gone".
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except _ClientGone:
                    raise
                except OSError as exc:
                    raise _ClientGone(*exc.args) from exc
        await send_or_gone(send, {"type": "http.response.body", "body": b"", "more_body": False})

    def watch_disconnect(self, scope: Scope) -> bool:
        """Whether a watcher task listens for `http.disconnect` (see `should_watch`)."""
        return should_watch(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        if scope["type"] == "websocket":
            await self._send_denial(send)
        elif scope.get("method") == "HEAD":
            await self.close()
            await send(start)
            await send({"type": "http.response.body", "body": b""})
        else:
            exhausted = False

            async def produce(out: Send) -> None:
                nonlocal exhausted
                await send_or_gone(out, start)
                await self.stream_body(out)
                exhausted = True

            # Our own stream_body guards its sends inline; an override gets
            # them guarded by a wrapper.
            own_body = type(self).stream_body is StreamingResponse.stream_body
            try:
                await run_until_disconnect(
                    scope,
                    receive,
                    send,
                    produce,
                    watch=self.watch_disconnect(scope),
                    guard_send=not own_body,
                )
            finally:
                # Closed here, after the watcher stopped, so that no disconnect
                # can interrupt the (shielded) cleanup; an exhausted iterator
                # has run its cleanup already, and the close is not free.
                if not exhausted:
                    await self.close()
        if self.background is not None:
            await run_background(self.background)

    async def _send_denial(self, send: Send) -> None:
        # A streaming WebSocket denial body: no disconnect to watch for.
        try:
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async for chunk in self.body_iterator:
                body = self.encode_chunk(chunk)
                await send(
                    {"type": "websocket.http.response.body", "body": body, "more_body": True}
                )
            await send({"type": "websocket.http.response.body", "body": b"", "more_body": False})
        finally:
            await self.close()
