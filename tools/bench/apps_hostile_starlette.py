"""Starlette 1.10 mirror of the demo routes the hostile table attacks (tools/bench/hostile.py).

The same paths, methods, form limits and body limits as
`flagstone_demo.app`, written the Starlette way, so both toolkits parse the
very same hostile bytes under the same limits.  No sessions or login: the
hostile requests aim at the body parsers, which run before any login check
would matter (the flagstone side is sent a logged-in cookie instead).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

MAX_UPLOAD = 1024 * 1024


async def login(request: Request) -> Response:
    async with request.form(max_fields=10, max_files=0) as form:
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
    if username != "hostile" or password != "flagstone":
        return PlainTextResponse("Unknown user name or wrong password.", status_code=400)
    return RedirectResponse("/", status_code=303)


async def upload(request: Request) -> Response:
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD) as form:
        file = form.get("file")
        if file is None or isinstance(file, str):
            return PlainTextResponse('send one file in the "file" field', status_code=400)
        size = 0
        while chunk := await file.read(64 * 1024):
            size += len(chunk)
    return RedirectResponse("/", status_code=303)


async def api_messages(request: Request) -> Response:
    if request.method == "GET":
        return JSONResponse({"messages": []})
    payload = await request.json()
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return PlainTextResponse('send {"text": "..."}', status_code=422)
    return JSONResponse({"text": text}, status_code=201)


async def api_me(request: Request) -> Response:
    return JSONResponse({"user": None})


async def api_pid(request: Request) -> Response:
    return JSONResponse({"pid": os.getpid()})


app = Starlette(
    routes=[
        Route("/login", login, methods=["POST"]),
        Route("/upload", upload, methods=["POST"], max_body_size=2 * MAX_UPLOAD),
        Route("/api/me", api_me),
        Route("/api/pid", api_pid),
        Route("/api/messages", api_messages, methods=["GET", "POST"]),
    ],
    max_body_size=64 * 1024,
)
