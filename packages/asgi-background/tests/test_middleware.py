"""BackgroundMiddleware with raw ASGI apps: no other flagstone package involved."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from flagstone_background import BackgroundMiddleware, BackgroundTasks, RequestTasks
from flagstone_contract import BACKGROUND_KEY, Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

START: Message = {"type": "http.response.start", "status": 200, "headers": []}


def streaming_app(events: list[str], *, chunks: int = 2) -> Any:
    """A raw app that schedules two tasks and streams its body in `chunks` parts."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks = scope[BACKGROUND_KEY]
        tasks.add_task(events.append, "task one")

        async def second(label: str) -> None:
            events.append(label)

        tasks.add_task(second, "task two")
        await send(START)
        for index in range(chunks):
            more = index < chunks - 1
            await send({"type": "http.response.body", "body": b"x", "more_body": more})
        events.append("app returned")

    return app


async def test_tasks_run_after_the_final_body_and_after_the_app_returned(client: Any) -> None:
    await client.call(BackgroundMiddleware(streaming_app(client.events, chunks=3)))
    assert client.events == [
        "send http.response.start",
        "send http.response.body more",
        "send http.response.body more",
        "send http.response.body",
        "app returned",
        "task one",
        "task two",
    ]


async def test_the_queue_in_the_scope_is_a_request_tasks(client: Any) -> None:
    seen: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope[BACKGROUND_KEY])
        await send(START)
        await send({"type": "http.response.body"})

    await client.call(BackgroundMiddleware(app))
    assert isinstance(seen[0], RequestTasks)
    assert isinstance(seen[0], BackgroundTasks)


async def test_the_servers_scope_is_not_modified(client: Any, make_scope: Any) -> None:
    scope = make_scope()
    await client.call(BackgroundMiddleware(streaming_app(client.events)), scope)
    assert BACKGROUND_KEY not in scope


async def test_works_behind_httpx_asgi_transport() -> None:
    events: list[str] = []

    async def task(label: str) -> None:
        events.append(label)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(task, "task ran")
        await send(START)
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})

    transport = httpx.ASGITransport(app=BackgroundMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/")
    assert response.status_code == 200
    assert response.text == "hello world"
    assert events == ["task ran"]


async def test_app_error_before_completion_skips_tasks_but_runs_always_tasks(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks = scope[BACKGROUND_KEY]
        tasks.add_task(client.events.append, "send receipt")
        tasks.add_task_always(client.events.append, "release lock")
        await send(START)
        raise LookupError("no such order")

    with (
        caplog.at_level(logging.INFO, logger="flagstone.background"),
        pytest.raises(LookupError, match="no such order"),
    ):
        await client.call(BackgroundMiddleware(app))
    assert client.events == ["send http.response.start", "release lock"]
    skipped = " ".join(record.getMessage() for record in caplog.records)
    assert "skipped 1 background task" in skipped
    assert "LookupError" in skipped


async def test_client_disconnect_before_completion_skips_tasks(client: Any) -> None:
    client.disconnect_early = True

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks = scope[BACKGROUND_KEY]
        tasks.add_task(client.events.append, "task")
        tasks.add_task_always(client.events.append, "always")
        await receive()  # the request
        message = await receive()
        assert message["type"] == "http.disconnect"
        # Sending after a disconnect reaches nobody; it must not count as done.
        await send(START)
        await send({"type": "http.response.body", "body": b"late"})

    await client.call(BackgroundMiddleware(app))
    assert client.events == ["send http.response.start", "send http.response.body", "always"]


async def test_disconnect_after_completion_is_the_normal_end(client: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await receive()
        await send(START)
        await send({"type": "http.response.body", "body": b"done"})
        message = await receive()
        client.events.append(message["type"])

    await client.call(BackgroundMiddleware(app))
    assert client.events[-2:] == ["http.disconnect", "task"]


async def test_failed_send_spec_2_4_skips_tasks(client: Any) -> None:
    client.send_error = OSError("connection reset")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        scope[BACKGROUND_KEY].add_task_always(client.events.append, "always")
        await send(START)

    with pytest.raises(OSError, match="connection reset"):
        await client.call(BackgroundMiddleware(app))
    assert client.events == ["always"]


async def test_app_returning_without_final_body_skips_tasks(client: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send(START)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    await client.call(BackgroundMiddleware(app))
    assert "task" not in client.events


@pytest.mark.parametrize("send_trailers", [True, False], ids=["trailers-sent", "trailers-missing"])
async def test_with_trailers_the_response_ends_with_the_last_trailers(
    client: Any, send_trailers: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        if send_trailers:
            await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})

    await client.call(BackgroundMiddleware(app))
    assert ("task" in client.events) is send_trailers


async def test_pathsend_completes_the_response(client: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send(START)
        await send({"type": "http.response.pathsend", "path": "/srv/file.bin"})

    await client.call(BackgroundMiddleware(app))
    assert client.events[-1] == "task"


async def test_app_raising_after_the_response_completed_still_runs_tasks(client: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send(START)
        await send({"type": "http.response.body", "body": b"ok"})
        raise RuntimeError("the response's own background task failed")

    with pytest.raises(RuntimeError, match="own background task failed"):
        await client.call(BackgroundMiddleware(app))
    assert client.events[-1] == "task"


async def test_run_all_one_task_failure_reaches_the_server_as_itself(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def reindex() -> None:
        raise ValueError("index locked")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(reindex)
        scope[BACKGROUND_KEY].add_task(client.events.append, "next")
        await send(START)
        await send({"type": "http.response.body"})

    with (
        caplog.at_level(logging.ERROR, logger="flagstone.background"),
        pytest.raises(ValueError, match="index locked"),
    ):
        await client.call(BackgroundMiddleware(app, fail_fast=False))
    assert client.events[-1] == "next"
    assert any("reindex" in record.getMessage() for record in caplog.records)


async def test_run_all_several_task_failures_reach_the_server_as_a_group(client: Any) -> None:
    def fail(message: str) -> None:
        raise ValueError(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(fail, "a")
        scope[BACKGROUND_KEY].add_task(fail, "b")
        await send(START)
        await send({"type": "http.response.body"})

    with pytest.raises(ExceptionGroup) as info:
        await client.call(BackgroundMiddleware(app, fail_fast=False))
    assert [str(exc) for exc in info.value.exceptions] == ["a", "b"]


@pytest.mark.parametrize("explicit", [True, False], ids=["fail_fast=True", "default"])
async def test_fail_fast_stops_at_the_first_failure_by_default(client: Any, explicit: bool) -> None:
    def fail() -> None:
        raise ValueError("first")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(fail)
        scope[BACKGROUND_KEY].add_task(client.events.append, "second")
        await send(START)
        await send({"type": "http.response.body"})

    middleware = (
        BackgroundMiddleware(app, fail_fast=True) if explicit else BackgroundMiddleware(app)
    )
    with pytest.raises(ValueError, match="first"):
        await client.call(middleware)
    assert "second" not in client.events


async def test_fail_fast_still_runs_always_tasks_after_a_failure(client: Any) -> None:
    def fail(message: str) -> None:
        raise ValueError(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        queue = scope[BACKGROUND_KEY]
        queue.add_task(fail, "charge")
        queue.add_task(client.events.append, "receipt")  # skipped: charging failed
        queue.add_task_always(client.events.append, "release lock")
        queue.add_task_always(fail, "cleanup too")
        await send(START)
        await send({"type": "http.response.body"})

    with pytest.raises(ExceptionGroup) as info:
        await client.call(BackgroundMiddleware(app))
    assert "receipt" not in client.events
    assert client.events[-1] == "release lock"
    assert [str(exc) for exc in info.value.exceptions] == ["charge", "cleanup too"]
    assert any("skipped after it" in note for note in info.value.__notes__)


async def test_app_error_stays_primary_when_an_always_task_also_fails(client: Any) -> None:
    def cleanup() -> None:
        raise OSError("tmp dir gone")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task_always(cleanup)
        raise KeyError("user")

    with pytest.raises(KeyError) as info:
        await client.call(BackgroundMiddleware(app))
    notes = getattr(info.value, "__notes__", [])
    assert any("tmp dir gone" in note for note in notes)


async def test_nested_middleware_reuses_the_queue_so_tasks_run_once(client: Any) -> None:
    queues: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        queues.append(scope[BACKGROUND_KEY])
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send(START)
        await send({"type": "http.response.body"})

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        queues.append(scope[BACKGROUND_KEY])
        await BackgroundMiddleware(app)(scope, receive, send)

    await client.call(BackgroundMiddleware(spy))
    assert queues[0] is queues[1]
    assert client.events.count("task") == 1


async def test_a_queue_set_by_someone_else_is_left_alone(client: Any, make_scope: Any) -> None:
    foreign = BackgroundTasks()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope[BACKGROUND_KEY] is foreign
        scope[BACKGROUND_KEY].add_task(client.events.append, "task")
        await send(START)
        await send({"type": "http.response.body"})

    await client.call(BackgroundMiddleware(app), make_scope(**{BACKGROUND_KEY: foreign}))
    # Whoever owns the queue runs it; this middleware must not.
    assert "task" not in client.events
    await foreign()
    assert client.events[-1] == "task"


async def test_adding_a_task_after_the_tasks_ran_is_an_error_not_a_silent_loss(
    client: Any,
) -> None:
    queues: list[RequestTasks] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        queues.append(scope[BACKGROUND_KEY])
        await send(START)
        await send({"type": "http.response.body"})

    await client.call(BackgroundMiddleware(app))

    def too_late() -> None:
        raise AssertionError("never called")

    with pytest.raises(RuntimeError, match=r"cannot add background task .*too_late.*AppTasks"):
        queues[0].add_task(too_late)
    with pytest.raises(RuntimeError, match="already ran"):
        queues[0].add_task_always(too_late)


async def test_lifespan_passes_through_untouched() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}

    async def receive() -> Message:
        raise AssertionError("not called")

    async def send(message: Message) -> None:
        raise AssertionError("not called")

    await BackgroundMiddleware(app)(scope, receive, send)
    assert seen == [scope]
    assert BACKGROUND_KEY not in seen[0]


def websocket_app(events: list[str], *, fail: bool) -> Callable[..., Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(events.append, "task")
        scope[BACKGROUND_KEY].add_task_always(events.append, "always")
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        events.append("closed")
        if fail:
            raise RuntimeError("handler crashed")

    return app


@pytest.mark.parametrize("fail", [False, True], ids=["returned", "raised"])
async def test_websocket_tasks_run_after_the_app_returns(fail: bool) -> None:
    events: list[str] = []
    scope: Scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": "/ws", "headers": []}

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        events.append(message["type"])

    middleware = BackgroundMiddleware(websocket_app(events, fail=fail))
    if fail:
        with pytest.raises(RuntimeError, match="handler crashed"):
            await middleware(scope, receive, send)
        assert events[-2:] == ["closed", "always"]
    else:
        await middleware(scope, receive, send)
        assert events[-3:] == ["closed", "task", "always"]


async def test_a_responses_own_background_runs_first_then_the_middlewares_queue(
    client: Any,
) -> None:
    # What a flagstone or Starlette `Response(background=...)` does: send the
    # body, then await the background object, inside the app's call.
    response_background = BackgroundTasks()
    response_background.add_task(client.events.append, "response task")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope[BACKGROUND_KEY].add_task(client.events.append, "middleware task")
        await send(START)
        await send({"type": "http.response.body", "body": b"ok"})
        await response_background()

    await client.call(BackgroundMiddleware(app))
    assert client.events == [
        "send http.response.start",
        "send http.response.body",
        "response task",
        "middleware task",
    ]


@pytest.mark.parametrize("complete", [True, False], ids=["completed", "incomplete"])
async def test_with_nothing_queued_the_queue_still_closes_and_nothing_is_logged(
    client: Any, complete: bool, caplog: pytest.LogCaptureFixture
) -> None:
    queues: list[RequestTasks] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        queues.append(scope[BACKGROUND_KEY])
        await send(START)
        await send({"type": "http.response.body", "more_body": not complete})

    with caplog.at_level(logging.DEBUG, logger="flagstone.background"):
        await client.call(BackgroundMiddleware(app))
    assert caplog.records == []
    with pytest.raises(RuntimeError, match="already ran"):
        queues[0].add_task(print)
