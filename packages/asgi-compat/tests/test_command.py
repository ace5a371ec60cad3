"""`python -m flagstone_compat <command>`: the layer in the command and in what it starts."""

from __future__ import annotations

from pathlib import Path

from compat_helpers import run_layered_pytest, run_python

SCRIPT = """
import multiprocessing, sys

def which():
    import starlette.requests
    return starlette.requests.Request.__module__

if __name__ == "__main__":
    print("parent", which(), sys.argv[1:])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        print("child", pool.apply(which))
"""


def test_a_python_file_runs_with_the_layer_and_its_spawned_children_too(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    result = run_python("-m", "flagstone_compat", str(script), "a", "b", timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "parent flagstone_requests._request ['a', 'b']",
        "child flagstone_requests._request",
    ]


def test_python_dash_m_and_dash_c(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(
        "import starlette.responses, sys\nprint(starlette.responses.Response.__module__, sys.argv[1:])\n"
    )
    result = run_python("-m", "flagstone_compat", "python", "-m", "mod", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "flagstone_requests._responses ['x']"
    result = run_python(
        "-m", "flagstone_compat", "python", "-c", "import starlette; print(starlette.__version__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.10.0"


def test_a_console_script_runs_with_the_layer(tmp_path: Path) -> None:
    (tmp_path / "test_served.py").write_text(
        "def test_served():\n"
        "    from starlette.testclient import TestClient\n"
        "    assert TestClient.__module__.startswith('flagstone_testclient')\n"
    )
    result = run_layered_pytest(str(tmp_path), cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_an_unknown_command_says_what_to_do() -> None:
    result = run_python("-m", "flagstone_compat", "no-such-command-here")
    assert result.returncode == 2
    assert "no console script named 'no-such-command-here'" in result.stderr


def test_no_command_prints_usage() -> None:
    result = run_python("-m", "flagstone_compat")
    assert result.returncode == 2
    assert "usage: python -m flagstone_compat <command>" in result.stderr


def test_children_do_not_announce_the_layer_again(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'import starlette.routing as r; print(r.Route.__module__)'], capture_output=True, text=True)\n"
        "print(child.stdout.strip()); print(repr(child.stderr))\n"
    )
    result = run_python("-m", "flagstone_compat", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["flagstone_routing._routes", "''"]
    assert result.stderr.count("is shadowed") == 1
