"""Run by `python -m flagstone_compat pytest` from test_fastapi.py (not collected directly)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from fastapi_app import app


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as client:
        yield client


def test_requests_are_flagstone_requests(client: TestClient) -> None:
    assert client.get("/served-by").json() == {
        "request": "flagstone_requests._request",
        "app": "flagstone._app",
    }


def test_pydantic_body_path_query_and_dependency(client: TestClient) -> None:
    response = client.post("/items/3?tag=red", json={"name": "pen", "price": 1.5})
    assert response.status_code == 200
    assert response.json() == {
        "id": 3,
        "item": {"name": "pen", "price": 1.5},
        "tag": "red",
        "dep": "dep",
    }


def test_validation_errors_reach_the_custom_handler(client: TestClient) -> None:
    response = client.post("/items/x", json={"name": "pen"})
    assert response.status_code == 422
    assert sorted(response.json()["invalid"]) == ["item_id", "price"]


def test_http_exception_and_custom_exception_handlers(client: TestClient) -> None:
    response = client.get("/missing")
    assert (response.status_code, response.json(), response.headers["x-why"]) == (
        404,
        {"detail": "no such thing"},
        "gone",
    )
    response = client.get("/teapot")
    assert (response.status_code, response.text) == (418, "short and stout")
    assert client.get("/nowhere").json() == {"detail": "Not Found"}


def test_form_and_background_task(client: TestClient) -> None:
    assert client.post("/login", data={"username": "ada"}).json() == {"user": "ada"}
    assert client.get("/audit").json() == ["login ada"]


def test_cors_middleware(client: TestClient) -> None:
    response = client.get("/served-by", headers={"origin": "https://example.org"})
    assert response.headers["access-control-allow-origin"] == "https://example.org"


def test_websocket(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("ada")
        assert ws.receive_json() == {"hello": "ada"}


def test_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/items/{item_id}" in schema["paths"]
    assert client.get("/docs").status_code == 200
