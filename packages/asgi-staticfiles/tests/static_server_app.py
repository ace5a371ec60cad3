"""The app the real-server tests run under uvicorn: StaticFiles mounted at /static.

Built from the environment (a subprocess cannot take fixtures): the served
directory in `FLAGSTONE_SF_DIR`, `FLAGSTONE_SF_FOLLOW=1` for follow_symlink.
The mount is a few lines of raw ASGI, not flagstone-routing: this package's
tests run with only its declared dependencies.
"""

from __future__ import annotations

import os

from flagstone_contract import Receive, Scope, Send
from flagstone_staticfiles import StaticFiles

static = StaticFiles(
    directory=os.environ["FLAGSTONE_SF_DIR"],
    follow_symlink=os.environ.get("FLAGSTONE_SF_FOLLOW") == "1",
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith("/static/"):
        await static({**scope, "root_path": scope.get("root_path", "") + "/static"}, receive, send)
        return
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b"Not Found"
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": body})
