"""FastAPI, unchanged, on flagstone: in-process (its TestClient) and through uvicorn workers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from compat_helpers import HERE, run_layered_pytest

pytest.importorskip("fastapi")


def test_fastapi_app_passes_its_tests_on_flagstone() -> None:
    result = run_layered_pytest(
        "-W", "error", "-p", "no:randomly", "fastapi_checks.py", cwd=HERE / "apps"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fastapi_under_uvicorn_with_two_workers_is_served_by_flagstone(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flagstone_compat",
            "uvicorn",
            "fastapi_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=HERE / "apps",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/served-by", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    raise AssertionError(f"uvicorn did not start: {server.communicate()[0]}")
                time.sleep(0.2)
        bodies = {
            httpx.get(f"http://127.0.0.1:{port}/served-by", timeout=5).text for _ in range(10)
        }
        assert response.json()["request"] == "flagstone_requests._request"
        assert bodies == {response.text}
        created = httpx.post(
            f"http://127.0.0.1:{port}/items/1", json={"name": "a", "price": 2}, timeout=5
        )
        assert created.json()["item"] == {"name": "a", "price": 2.0}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
