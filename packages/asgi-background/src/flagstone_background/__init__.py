"""Background work for any ASGI 3 app: after the response, and app-owned with backpressure.

- `BackgroundTask` / `BackgroundTasks`: Starlette-compatible awaitables for a
  response's `background=`, whose failures are logged by name and never lost.
- `BackgroundMiddleware`: a task queue in the scope for apps that never heard
  of flagstone's `Response`; tasks run after the final body was sent.
- `AppTasks` / `AppTasksMiddleware`: work that outlives the request, in a task
  group owned by the lifespan, with a concurrency bound and a graceful drain.

It is not a job queue: nothing survives a restart of the process.
"""

__version__ = "0.4.0"

from ._app_tasks import (
    AppTasks,
    AppTasksFullError,
    AppTasksMiddleware,
    AppTasksNotRunningError,
)
from ._middleware import BackgroundMiddleware, RequestTasks
from ._tasks import BackgroundTask, BackgroundTasks
from ._threads import set_thread_limit, thread_limiter

__all__ = [
    "AppTasks",
    "AppTasksFullError",
    "AppTasksMiddleware",
    "AppTasksNotRunningError",
    "BackgroundMiddleware",
    "BackgroundTask",
    "BackgroundTasks",
    "RequestTasks",
    "set_thread_limit",
    "thread_limiter",
]
