"""The demo's audit log: configurable, and by default a private file per run (issue 27)."""

from __future__ import annotations

import importlib
import stat
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "packages" / "meta" / "examples"))

import serve_demo  # noqa: E402

OLD_SHARED_PATH = Path(tempfile.gettempdir()) / "flagstone-audit.log"


@pytest.fixture(autouse=True)
def temp_dir_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tempfile.mkdtemp` creates under this test's tmp_path (nothing left in /tmp)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_by_default_each_run_gets_its_own_private_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLAGSTONE_DEMO_AUDIT_LOG", raising=False)
    first = serve_demo.choose_audit_log(None)
    monkeypatch.delenv("FLAGSTONE_DEMO_AUDIT_LOG")
    second = serve_demo.choose_audit_log(None)
    assert first != second
    for path in (first, second):
        assert path != OLD_SHARED_PATH
        assert path.name == "audit.log"
        assert path.parent.name.startswith("flagstone-demo-")
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        path.parent.rmdir()
    # Exported, so every uvicorn worker writes to the same file.
    assert serve_demo.os.environ["FLAGSTONE_DEMO_AUDIT_LOG"] == str(second)


def test_the_option_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLAGSTONE_DEMO_AUDIT_LOG", str(tmp_path / "from-env.log"))
    assert serve_demo.choose_audit_log(None) == tmp_path / "from-env.log"
    chosen = serve_demo.choose_audit_log(str(tmp_path / "from-option.log"))
    assert chosen == tmp_path / "from-option.log"
    assert serve_demo.os.environ["FLAGSTONE_DEMO_AUDIT_LOG"] == str(chosen)


def test_the_demo_app_alone_never_writes_to_a_shared_fixed_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLAGSTONE_DEMO_AUDIT_LOG", raising=False)
    demo = importlib.import_module("flagstone_demo.app")
    demo._run_directory.cache_clear()
    path = demo.audit_log_path()
    assert path != OLD_SHARED_PATH
    assert path.parent.name.startswith("flagstone-demo-")
    assert demo.audit_log_path() == path  # one directory per process
    demo._run_directory.cache_clear()
