"""The demo app end to end over a real socket: uvicorn in a subprocess, httpx and
`websockets` as clients (the `demo_server` fixture is in conftest.py).

Everything here goes through 127.0.0.1 exactly as a browser would: cookies,
redirects, multipart uploads, a WebSocket chat between two people, the SSE feed
and the audit log the background tasks write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

PASSWORD = "flagstone"
MAX_UPLOAD = 1024 * 1024
DEADLINE = 5.0  # seconds any single observable effect may take


class DemoServerLike(Protocol):  # conftest's DemoServer (not importable from here)
    @property
    def url(self) -> str: ...


def ws_url(demo_url: str) -> str:
    return demo_url.replace("http://", "ws://", 1) + "/ws/chat"


@pytest.fixture
def client(demo_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_url, timeout=DEADLINE) as http:
        yield http


def log_in(http: httpx.Client, username: str) -> str:
    """Log `http` in as `username`; return the session cookie it received."""
    response = http.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/")
    cookie = response.cookies.get("session")
    assert cookie, "login must set the session cookie"
    return cookie


@contextmanager
def logged_in_client(demo_url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_url, timeout=DEADLINE) as http:
        log_in(http, username)
        yield http


def chat_socket(demo_url: str, cookie: str) -> ClientConnection:
    return connect(
        ws_url(demo_url), additional_headers={"Cookie": f"session={cookie}"}, open_timeout=DEADLINE
    )


def receive_until(socket: ClientConnection, text: str) -> dict[str, Any]:
    """Read chat frames until the one whose text is `text` (others are skipped)."""
    deadline = time.monotonic() + DEADLINE
    while (left := deadline - time.monotonic()) > 0:
        message = json.loads(socket.recv(timeout=left))
        if message["text"] == text:
            return message  # type: ignore[no-any-return]
    raise AssertionError(f"no chat message {text!r} within {DEADLINE} s")


def join_chat(socket: ClientConnection, name: str) -> None:
    """Send a hello and wait for its echo: from then on `socket` is a chat member."""
    socket.send(f"{name} joined")
    receive_until(socket, f"{name} joined")


def wait_for_audit(path: Path, event: str, user: str, detail: str | None = None) -> dict[str, Any]:
    """Poll the audit log (written by a background task) until the line appears."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            same_detail = detail is None or entry["detail"] == detail
            if entry["event"] == event and entry["user"] == user and same_detail:
                return entry  # type: ignore[no-any-return]
        time.sleep(0.02)  # polling a file with a deadline
    raise AssertionError(f"no audit line {event}/{user}/{detail} in {path.read_text()!r}")


# --- login and session ------------------------------------------------------------------


def test_anonymous_home_shows_the_login_form(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<form method="post" action="' in response.text
    assert 'name="password"' in response.text
    assert client.get("/api/me").json() == {"user": None}


def test_pages_link_css_and_js_served_by_static_files(client: httpx.Client) -> None:
    login = client.get("/")
    assert '<link rel="stylesheet" href="/static/site.css">' in login.text
    log_in(client, "stylist")
    assert '<script src="/static/app.js"></script>' in client.get("/").text
    for path, media_type in (
        ("/static/site.css", "text/css"),
        ("/static/app.js", "text/javascript"),
    ):
        asset = client.get(path)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(media_type)
        assert asset.headers["cache-control"] == "no-cache"
        again = client.get(path, headers={"if-none-match": asset.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/static/../app.py").status_code == 404


def test_login_sets_a_cookie_and_redirects_home(client: httpx.Client, demo_audit_log: Path) -> None:
    log_in(client, "ada")
    assert client.get("/api/me").json() == {"user": "ada"}
    home = client.get("/")
    assert "Logged in as" in home.text
    assert '<strong id="user">ada</strong>' in home.text
    wait_for_audit(demo_audit_log, "login", "ada")


@pytest.mark.parametrize(
    ("username", "password"),
    [("ada", "wrong"), ("ada", ""), ("<script>", PASSWORD), ("x" * 33, PASSWORD)],
)
def test_bad_credentials_are_a_400_with_the_form_and_no_session(
    client: httpx.Client, username: str, password: str
) -> None:
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 400
    assert "Unknown user name or wrong password." in response.text
    assert "session" not in response.cookies
    assert client.get("/api/me").json() == {"user": None}


def test_login_regenerates_the_session(client: httpx.Client) -> None:
    before_login = client.get("/").cookies.get("session")
    first = log_in(client, "ada")
    assert first != before_login
    # Logging in again on an existing session (the fixation scenario: a
    # session that existed before the privilege change) hands out a new one.
    second = log_in(client, "grace")
    assert second != first
    assert client.get("/api/me").json() == {"user": "grace"}
    # With signed-cookie sessions (the demo's default) the old cookie cannot
    # be revoked server-side; the store-backed variant below proves revocation.


@pytest.fixture
def store_url(demo_store_server: DemoServerLike) -> str:
    return demo_store_server.url


def test_store_login_regenerates_and_revokes_the_old_id(store_url: str) -> None:
    with httpx.Client(base_url=store_url, timeout=DEADLINE) as http:
        first = log_in(http, "ada")
        assert http.get("/api/me").json() == {"user": "ada"}
        second = log_in(http, "grace")
        assert second != first
        assert http.get("/api/me").json() == {"user": "grace"}
    # The id that existed before the second login carries no login any more.
    with httpx.Client(base_url=store_url, cookies={"session": first}) as planted:
        assert planted.get("/api/me").json() == {"user": None}


def test_store_logout_revokes_the_id_for_http_and_websocket(store_url: str) -> None:
    with logged_in_client(store_url, "frank") as http:
        cookie = http.cookies["session"]
        with chat_socket(store_url, cookie) as chat:
            join_chat(chat, "frank")  # the id works for the chat before logout
        assert http.post("/logout").status_code == 303
    with httpx.Client(base_url=store_url, cookies={"session": cookie}) as replay:
        assert replay.get("/api/me").json() == {"user": None}
        assert replay.get("/events").status_code == 401
    with (
        pytest.raises(ConnectionClosed) as caught,
        chat_socket(store_url, cookie) as socket,
    ):
        socket.recv(timeout=DEADLINE)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1008


def test_logout_ends_the_session(client: httpx.Client, demo_audit_log: Path) -> None:
    log_in(client, "linus")
    response = client.post("/logout")
    assert response.status_code == 303
    assert client.get("/api/me").json() == {"user": None}
    wait_for_audit(demo_audit_log, "logout", "linus")


def test_tampered_cookie_is_ignored(client: httpx.Client, demo_url: str) -> None:
    cookie = log_in(client, "ada")
    tampered = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    with httpx.Client(base_url=demo_url, cookies={"session": tampered}) as forger:
        assert forger.get("/api/me").json() == {"user": None}


# --- upload -------------------------------------------------------------------------------


def test_small_upload_is_listed_with_its_sha256(client: httpx.Client, demo_audit_log: Path) -> None:
    log_in(client, "uploader")
    content = b"flagstone e2e upload\n" * 100
    files = {"file": ("notes-e2e.txt", content, "text/plain")}
    response = client.post("/upload", files=files)
    assert response.status_code == 303, response.text
    home = client.get("/").text
    assert "notes-e2e.txt" in home
    assert f"{len(content)} bytes, sha256 {hashlib.sha256(content).hexdigest()}" in home
    wait_for_audit(demo_audit_log, "upload", "uploader", "notes-e2e.txt")


@pytest.mark.parametrize("size", [MAX_UPLOAD + 1, MAX_UPLOAD + 300_000])
def test_upload_over_one_mib_is_a_413_with_a_message(client: httpx.Client, size: int) -> None:
    log_in(client, "uploader")
    files = {"file": ("big-e2e.bin", b"\0" * size, "application/octet-stream")}
    response = client.post("/upload", files=files)
    assert response.status_code == 413
    assert str(MAX_UPLOAD) in response.text
    assert "big-e2e.bin" not in client.get("/").text


def test_upload_far_over_the_route_limit_is_a_413(client: httpx.Client) -> None:
    log_in(client, "uploader")
    files = {"file": ("huge-e2e.bin", b"\0" * (3 * MAX_UPLOAD), "application/octet-stream")}
    response = client.post("/upload", files=files)
    assert response.status_code == 413
    assert "huge-e2e.bin" not in client.get("/").text


def test_upload_requires_login(client: httpx.Client) -> None:
    response = client.post("/upload", files={"file": ("a.txt", b"a", "text/plain")})
    assert response.status_code == 401
    assert "log in" in response.text


def test_upload_without_a_file_is_a_400(client: httpx.Client) -> None:
    log_in(client, "uploader")
    response = client.post("/upload", files={"other": ("a.txt", b"a", "text/plain")})
    assert response.status_code == 400
    assert '"file"' in response.text


# --- JSON API -----------------------------------------------------------------------------


def test_api_messages_round_trip(client: httpx.Client, demo_audit_log: Path) -> None:
    log_in(client, "api-user")
    response = client.post("/api/messages", json={"text": "hello from the API"})
    assert response.status_code == 201
    created = response.json()
    assert created["user"] == "api-user"
    assert created["text"] == "hello from the API"
    listed = client.get("/api/messages").json()["messages"]
    assert created in listed
    wait_for_audit(demo_audit_log, "message", "api-user", "hello from the API")


@pytest.mark.parametrize("payload", [{"text": ""}, {"text": "x" * 501}, {"nope": 1}, [1]])
def test_api_messages_rejects_bad_payloads(client: httpx.Client, payload: object) -> None:
    log_in(client, "api-user")
    assert client.post("/api/messages", json=payload).status_code == 422


def test_api_messages_post_requires_login(client: httpx.Client) -> None:
    assert client.post("/api/messages", json={"text": "hi"}).status_code == 401


# --- WebSocket chat -----------------------------------------------------------------------


def test_chat_broadcasts_to_every_member(demo_url: str, demo_audit_log: Path) -> None:
    with (
        logged_in_client(demo_url, "alice") as alice_http,
        logged_in_client(demo_url, "bob") as bob_http,
        chat_socket(demo_url, alice_http.cookies["session"]) as alice,
        chat_socket(demo_url, bob_http.cookies["session"]) as bob,
    ):
        join_chat(alice, "alice")
        join_chat(bob, "bob")
        alice.send("  hi bob, over a real socket  ")
        for member in (alice, bob):
            message = receive_until(member, "hi bob, over a real socket")
            assert message["user"] == "alice"
            assert set(message) == {"id", "user", "text", "at"}
        bob.send("hi alice")
        assert receive_until(alice, "hi alice")["user"] == "bob"
        # The chat message is also in the JSON history.
        history = alice_http.get("/api/messages").json()["messages"]
        assert any(m["text"] == "hi alice" and m["user"] == "bob" for m in history)
    wait_for_audit(demo_audit_log, "chat", "alice", "hi bob, over a real socket")
    wait_for_audit(demo_audit_log, "chat", "bob", "hi alice")


def test_chat_message_from_the_api_reaches_sockets(demo_url: str) -> None:
    with (
        logged_in_client(demo_url, "carol") as http,
        chat_socket(demo_url, http.cookies["session"]) as carol,
    ):
        join_chat(carol, "carol")
        assert http.post("/api/messages", json={"text": "via the API"}).status_code == 201
        assert receive_until(carol, "via the API")["user"] == "carol"


def test_unauthenticated_chat_is_closed_with_1008(demo_url: str) -> None:
    with (
        pytest.raises((ConnectionClosed, InvalidStatus)) as caught,
        connect(ws_url(demo_url), open_timeout=DEADLINE) as socket,
    ):
        socket.recv(timeout=DEADLINE)
    error = caught.value
    assert isinstance(error, ConnectionClosed), f"expected a close frame, got {error!r}"
    assert error.rcvd is not None
    assert error.rcvd.code == 1008
    assert error.rcvd.reason == "log in first"


def test_chat_with_a_forged_cookie_is_closed_with_1008(demo_url: str) -> None:
    with (
        pytest.raises(ConnectionClosed) as caught,
        chat_socket(demo_url, "forged.cookie.value") as socket,
    ):
        socket.recv(timeout=DEADLINE)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1008


def test_chat_trims_and_caps_messages(demo_url: str) -> None:
    with (
        logged_in_client(demo_url, "erin") as http,
        chat_socket(demo_url, http.cookies["session"]) as erin,
    ):
        join_chat(erin, "erin")
        erin.send("   ")  # blank after trimming: not published
        erin.send("y" * 600)
        assert receive_until(erin, "y" * 500)["user"] == "erin"
        texts = [m["text"] for m in http.get("/api/messages").json()["messages"]]
        assert "" not in texts
        assert "y" * 600 not in texts


# --- server-sent events -------------------------------------------------------------------


def read_event_until(lines: Iterator[str], text: str) -> dict[str, Any]:
    """Parse SSE lines until the event whose message text is `text`.

    Checks the event's `id:` field against the message id on the way.
    """
    deadline = time.monotonic() + DEADLINE
    event_id: str | None = None
    for line in lines:  # each read is bounded by the client's read timeout
        if line.startswith("id:"):
            event_id = line.removeprefix("id:").strip()
        elif line.startswith("data:"):
            message = json.loads(line.removeprefix("data:").strip())
            if message["text"] == text:
                assert event_id == str(message["id"])
                return message  # type: ignore[no-any-return]
        elif line == "":
            event_id = None  # a blank line ends the event
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no event with text {text!r} within {DEADLINE} s")


def test_events_require_login(client: httpx.Client) -> None:
    assert client.get("/events").status_code == 401


def test_feed_receives_api_and_chat_messages(demo_url: str) -> None:
    with (
        logged_in_client(demo_url, "dave") as http,
        http.stream("GET", "/events") as feed,
    ):
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/event-stream")
        # The handler subscribed before the response started: nothing is missed.
        lines = feed.iter_lines()
        created = http.post("/api/messages", json={"text": "to the feed"}).json()
        event = read_event_until(lines, "to the feed")
        assert event == created
        with chat_socket(demo_url, http.cookies["session"]) as chat:
            chat.send("chat to the feed")
            assert read_event_until(lines, "chat to the feed")["user"] == "dave"


def test_every_action_leaves_an_audit_line(demo_url: str, demo_audit_log: Path) -> None:
    with logged_in_client(demo_url, "auditor") as http:
        http.post("/api/messages", json={"text": "audited"})
        with chat_socket(demo_url, http.cookies["session"]) as chat:
            join_chat(chat, "auditor")
        http.post("/logout")
    events = [
        wait_for_audit(demo_audit_log, "login", "auditor"),
        wait_for_audit(demo_audit_log, "message", "auditor", "audited"),
        wait_for_audit(demo_audit_log, "chat", "auditor", "auditor joined"),
        wait_for_audit(demo_audit_log, "logout", "auditor"),
    ]
    for entry in events:
        assert set(entry) == {"at", "event", "user", "detail"}
        assert isinstance(entry["at"], float)
