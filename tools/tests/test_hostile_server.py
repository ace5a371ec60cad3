"""The hostile table's flagstone column against a real uvicorn, in CI: no 5xx, server alive.

tools/bench/hostile.py sends each hostile request over a socket to the demo
under uvicorn; this runs the flagstone column only (Starlette's column is
for RESULTS.md) and holds the requirement of issue 18: no client input gets
a 5xx or hangs, the server answers a plain request after every case, and no
"Exception in ASGI application" traceback is logged (a client leaving
mid-upload included).  One server start and ~30 small requests: a few
seconds, bounded by the per-case timeout.
"""

import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import hostile

# A real uvicorn: it runs in the e2e environment (`hatch run e2e:run`).
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def flagstone_run() -> hostile.Toolkit:
    with tempfile.TemporaryDirectory(prefix="flagstone-hostile-test-") as tmp:
        return hostile.run_toolkit("flagstone", hostile.cases(), Path(tmp))


@pytest.mark.parametrize("case", hostile.cases(), ids=lambda case: case.name)
def test_no_client_input_gets_a_server_error(
    flagstone_run: hostile.Toolkit, case: hostile.Case
) -> None:
    outcome = flagstone_run.outcomes[case.name]
    assert not hostile.is_server_error(outcome.status), f"{case.name}: {outcome.status}"
    assert outcome.alive, f"the server stopped answering after {case.name}"


def test_no_traceback_is_logged(flagstone_run: hostile.Toolkit) -> None:
    assert flagstone_run.tracebacks == 0
