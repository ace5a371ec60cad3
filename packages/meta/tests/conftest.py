from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# End-to-end modules: the demo under real servers (uvicorn, hypercorn, granian,
# daphne) and in Chromium.  They import those at module level, and those live
# in the e2e environment (`hatch run e2e:run`), not in the default one.
E2E_MODULES = frozenset(
    {
        "test_broadcast_workers.py",
        "test_demo_browser.py",
        "test_demo_e2e.py",
        "test_demo_signals.py",
        "test_faults.py",
        "test_servers.py",
        "test_workers.py",
    }
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not e2e"` leave the e2e modules unimported (their imports may be absent)."""
    is_e2e = collection_path.parent == HERE and collection_path.name in E2E_MODULES
    if is_e2e and " ".join(config.option.markexpr.split()) == "not e2e":
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE and item.path.name in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- demo server over a real socket (test_demo_e2e.py, test_demo_browser.py) ------------
# One uvicorn subprocess per test module serves the demo exactly as
# `python tools/serve_demo.py` does; tests reach it only through 127.0.0.1.

import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
# tools/serving.py: ports, processes, readiness and redis-server, shared with tools/.
sys.path.insert(0, str(REPO_ROOT / "tools"))

from serving import ServiceMissing, StartFailed, free_port, http_answers, redis_server, start  # noqa: E402
from system_deps import require  # noqa: E402

DEMO_SECRET = "e2e-fixed-secret-for-the-demo-tests"
DEMO_START_DEADLINE = 45.0


@dataclass(frozen=True)
class DemoServer:
    url: str
    audit_log: Path
    output: Path


def _serve_demo(tmp: Path, extra_env: dict[str, str]) -> Iterator[DemoServer]:
    audit_log, output = tmp / "audit.log", tmp / "server.log"
    port = free_port()
    env = {
        "FLAGSTONE_DEMO_SECRET": DEMO_SECRET,
        "FLAGSTONE_DEMO_AUDIT_LOG": str(audit_log),
        "FLAGSTONE_DEMO_REDIS_URL": "",
        **extra_env,
    }
    command = [sys.executable, "tools/serve_demo.py", "--port", str(port)]
    demo = start("the demo server", command, output, port=port, cwd=REPO_ROOT, env=env)
    try:
        demo.wait_until(lambda: http_answers(port, "/api/me"), "answering", DEMO_START_DEADLINE)
        yield DemoServer(url=demo.url, audit_log=audit_log, output=output)
    except StartFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        demo.stop()
    # An exception in a WebSocket handler or a background task never reaches
    # a client; the server's log is the only place it shows.
    log = output.read_text(errors="replace")
    if "Traceback" in log:
        pytest.fail(f"the demo server logged an exception:\n{log}")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo served by uvicorn via tools/serve_demo.py: signed-cookie sessions."""
    yield from _serve_demo(tmp_path_factory.mktemp("demo"), {})


@pytest.fixture(scope="module")
def demo_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free 127.0.0.1 port (no persistence)."""
    require("redis-server")  # skipped here only if this machine cannot install it
    try:
        with redis_server(tmp_path_factory.mktemp("redis")) as redis:
            yield f"redis://127.0.0.1:{redis.port}/0"
    except (ServiceMissing, StartFailed) as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def demo_workers_on_redis(
    tmp_path_factory: pytest.TempPathFactory, demo_redis_url: str
) -> Iterator[tuple[DemoServer, DemoServer]]:
    """Two demo processes (two workers, each on its own port) sharing one Redis.

    Sessions and chat both go through that Redis (`FLAGSTONE_DEMO_REDIS_URL`),
    so a message typed on one reaches the pages served by the other.
    """
    from contextlib import contextmanager

    serve = contextmanager(_serve_demo)
    env = {"FLAGSTONE_DEMO_REDIS_URL": demo_redis_url}
    with (
        serve(tmp_path_factory.mktemp("worker-a"), env) as first,
        serve(tmp_path_factory.mktemp("worker-b"), env) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def demo_store_server(
    tmp_path_factory: pytest.TempPathFactory, demo_redis_url: str
) -> Iterator[DemoServer]:
    """The demo with server-side sessions in Redis (FLAGSTONE_DEMO_REDIS_URL)."""
    tmp = tmp_path_factory.mktemp("demo-redis")
    yield from _serve_demo(tmp, {"FLAGSTONE_DEMO_REDIS_URL": demo_redis_url})


@pytest.fixture
def demo_url(demo_server: DemoServer) -> str:
    return demo_server.url


@pytest.fixture
def demo_audit_log(demo_server: DemoServer) -> Path:
    return demo_server.audit_log


# --- end of the demo server block -------------------------------------------------------
