"""A raw ASGI app on flagstone-broadcast, served by uvicorn with two workers in
test_broadcast_workers.py.

Routes: `GET /pid`, `POST /publish?channel=&text=` (503 with the error when
the broker refuses), `POST /flood?channel=&count=&size=` (that many messages), `GET /events?channel=` (server-sent events, resumable),
`GET /stats?channel=` (this worker's subscriptions), `WS /ws?channel=`
(first frame: this worker's pid, then the channel).  The broker URL comes
from `BROADCAST_URL`.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs

from flagstone_broadcast import Broadcast, BroadcastError, event_source_response, websocket_relay
from flagstone_requests import JSONResponse, Request, WebSocket

broadcast = Broadcast(os.environ["BROADCAST_URL"], backlog=int(os.environ.get("BACKLOG", "100")))


def rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await broadcast.connect()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await broadcast.disconnect()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
    channel = query.get("channel", "room")
    if scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_text(json.dumps({"pid": os.getpid()}))
        await websocket_relay(websocket, broadcast, channel)
        return
    path = scope["path"]
    if path == "/events":
        response: Any = await event_source_response(
            broadcast, channel, request=Request(scope, receive), ping_interval=None
        )
    elif path == "/publish":
        try:
            await broadcast.publish(channel, query["text"] * int(query.get("times", "1")))
            response = JSONResponse({"pid": os.getpid()})
        except BroadcastError as exc:
            response = JSONResponse({"error": str(exc)}, status_code=503)
    elif path == "/flood":
        count, size = int(query["count"]), int(query["size"])
        for n in range(count):
            await broadcast.publish(channel, f"{n:08d}".ljust(size, "x"))
        response = JSONResponse({"pid": os.getpid()})
    elif path == "/stats":
        count = broadcast.subscriber_count(channel)
        response = JSONResponse({"pid": os.getpid(), "subscribers": count, "rss_kib": rss_kib()})
    else:
        response = JSONResponse({"pid": os.getpid()})
    await response(scope, receive, send)
