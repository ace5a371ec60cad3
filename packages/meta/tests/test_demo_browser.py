"""The demo in a real browser: headless Debian Chromium driven by Playwright
against the uvicorn-served demo (the `demo_server` fixture is in conftest.py).

This is the only test that runs the page's JavaScript: the WebSocket chat and
the EventSource feed as a browser opens them, with the browser's own cookie
handling.  Chromium is a system package (`apt-get install chromium`): the
README's test command installs it when it may; on a machine that cannot
(not root, no apt-get) the test is skipped with the command to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect, sync_playwright

# tools/ is on sys.path (conftest.py): one rule for a missing system program.
from system_deps import require

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert errors == [], f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def log_in(page: Page, demo_url: str, username: str, password: str = "flagstone") -> None:
    page.goto(demo_url + "/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")


def test_login_chat_and_feed(page: Page, demo_url: str) -> None:
    log_in(page, demo_url, "chromium-user")
    expect(page.locator("body")).to_contain_text("Logged in as")
    expect(page.locator("#user")).to_have_text("chromium-user")
    # The page's script sets these when the WebSocket and EventSource open.
    page.wait_for_selector("body[data-chat=open]", state="attached")
    page.wait_for_selector("body[data-feed=open]", state="attached")

    page.fill("#chat-input", "hello from a real browser")
    page.click("#chat-send")

    expect(page.locator("#chat-log")).to_contain_text("chromium-user: hello from a real browser")
    expect(page.locator("#feed")).to_contain_text("chromium-user: hello from a real browser")
    expect(page.locator("#chat-input")).to_have_value("")
    # The server saw it too, under the browser's session.
    cookies = {c["name"]: c["value"] for c in page.context.cookies() if "value" in c}
    with httpx.Client(base_url=demo_url, cookies=cookies) as http:
        assert http.get("/api/me").json() == {"user": "chromium-user"}
        texts = [m["text"] for m in http.get("/api/messages").json()["messages"]]
    assert "hello from a real browser" in texts


def test_two_browsers_chat_with_each_other(browser: Browser, demo_url: str) -> None:
    contexts = [browser.new_context(), browser.new_context()]  # two separate cookie jars
    try:
        pages = [context.new_page() for context in contexts]
        for page, user in zip(pages, ["chromium-ann", "chromium-ben"], strict=True):
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, demo_url, user)
            expect(page.locator("#user")).to_have_text(user)
            page.wait_for_selector("body[data-chat=open]", state="attached")
            page.wait_for_selector("body[data-feed=open]", state="attached")
        ann, ben = pages
        ann.fill("#chat-input", "ben, can you read me?")
        ann.press("#chat-input", "Enter")
        for page in pages:
            expect(page.locator("#chat-log")).to_contain_text("chromium-ann: ben, can you read me?")
            expect(page.locator("#feed")).to_contain_text("chromium-ann: ben, can you read me?")
        ben.fill("#chat-input", "loud and clear")
        ben.click("#chat-send")
        expect(ann.locator("#chat-log")).to_contain_text("chromium-ben: loud and clear")
    finally:
        for context in contexts:
            context.close()


def test_chat_and_feed_cross_two_worker_processes(
    browser: Browser, demo_workers_on_redis: tuple[Any, Any]
) -> None:
    # Two server processes on one Redis: what `--workers 2` gives, with each
    # page pinned to its own process (one port each).
    servers = demo_workers_on_redis
    pids = [httpx.get(server.url + "/api/pid").json()["pid"] for server in servers]
    assert pids[0] != pids[1]
    contexts = [browser.new_context(), browser.new_context()]
    try:
        pages = [context.new_page() for context in contexts]
        users = ["worker-ann", "worker-ben"]
        for page, user, server in zip(pages, users, servers, strict=True):
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, server.url, user)
            expect(page.locator("#user")).to_have_text(user)
            page.wait_for_selector("body[data-chat=open]", state="attached")
            page.wait_for_selector("body[data-feed=open]", state="attached")
        ann, ben = pages
        ann.fill("#chat-input", "typed on the first worker")
        ann.press("#chat-input", "Enter")
        # Over WebSocket (chat log) and over SSE (feed), on the other process.
        expect(ben.locator("#chat-log")).to_contain_text("worker-ann: typed on the first worker")
        expect(ben.locator("#feed")).to_contain_text("worker-ann: typed on the first worker")
        ben.fill("#chat-input", "answered from the second")
        ben.click("#chat-send")
        expect(ann.locator("#chat-log")).to_contain_text("worker-ben: answered from the second")
        expect(ann.locator("#feed")).to_contain_text("worker-ben: answered from the second")
    finally:
        for context in contexts:
            context.close()


def test_wrong_password_shows_the_error(page: Page, demo_url: str) -> None:
    log_in(page, demo_url, "chromium-user", password="not-the-password")
    expect(page.locator(".error")).to_have_text("Unknown user name or wrong password.")
    expect(page.locator("#password")).to_be_visible()
    assert page.locator("body[data-chat]").count() == 0


def test_upload_from_the_form_is_listed(page: Page, demo_url: str) -> None:
    log_in(page, demo_url, "chromium-uploader")
    expect(page.locator("#user")).to_have_text("chromium-uploader")
    content = b"uploaded by chromium\n" * 50
    page.set_input_files(
        'input[name="file"]',
        files=[FilePayload(name="browser-e2e.txt", mimeType="text/plain", buffer=content)],
    )
    page.click('form[enctype="multipart/form-data"] button')
    digest = hashlib.sha256(content).hexdigest()
    expect(page.locator("#uploads")).to_contain_text(f"browser-e2e.txt — {len(content)} bytes")
    expect(page.locator("#uploads")).to_contain_text(digest)


def test_logout_returns_to_the_login_form(page: Page, demo_url: str) -> None:
    log_in(page, demo_url, "chromium-leaver")
    expect(page.locator("#user")).to_have_text("chromium-leaver")
    page.click("text=Log out")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Logged in as")
