"""A FastAPI application as its users write it; served by flagstone under flagstone_compat."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Form, HTTPException, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

app = FastAPI(title="compat")
app.add_middleware(CORSMiddleware, allow_origins=["https://example.org"])
audit: list[str] = []


class Item(BaseModel):
    name: str
    price: float


class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
async def on_teapot(request: Request, exc: Teapot) -> PlainTextResponse:
    return PlainTextResponse("short and stout", status_code=418)


def token(x_token: Annotated[str, Depends(lambda: "dep")]) -> str:
    return x_token


@app.get("/served-by")
async def served_by(request: Request) -> dict[str, str]:
    return {"request": type(request).__module__, "app": type(request.app).__mro__[1].__module__}


@app.post("/items/{item_id}")
async def create(
    item_id: int, item: Item, tag: str = "none", t: str = Depends(token)
) -> dict[str, object]:
    return {"id": item_id, "item": item.model_dump(), "tag": tag, "dep": t}


@app.get("/missing")
def missing() -> None:
    raise HTTPException(404, "no such thing", headers={"x-why": "gone"})


@app.get("/teapot")
def teapot() -> None:
    raise Teapot()


@app.post("/login")
def login(username: Annotated[str, Form()], tasks: BackgroundTasks) -> dict[str, str]:
    tasks.add_task(audit.append, f"login {username}")
    return {"user": username}


@app.get("/audit")
def get_audit() -> list[str]:
    return audit


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    name = await websocket.receive_text()
    await websocket.send_json({"hello": name})
    await websocket.close()


@app.exception_handler(RequestValidationError)
async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"invalid": [e["loc"][-1] for e in exc.errors()]}, status_code=422)
