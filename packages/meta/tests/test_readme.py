"""The README's snippets run, and its two commands are the ones CI and hatch know."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"<!-- snippet -->\n```python\n(.*?)```", README, flags=re.S)
# Each snippet preceded by the install line it needs.
INSTALLED_SNIPPETS = re.findall(
    r"<!-- install -->\n```\n(pip install [^\n]*)\n```\n\n<!-- snippet -->\n```python\n(.*?)```",
    README,
    flags=re.S,
)


def test_the_readme_has_the_three_snippets() -> None:
    assert len(SNIPPETS) == 3


@pytest.mark.parametrize("code", SNIPPETS, ids=["one-piece", "compose", "whole-toolkit"])
def test_snippet_runs(code: str) -> None:
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_snippet"})


def test_each_snippet_names_an_install_line_that_brings_its_imports() -> None:
    # A new user copies the install line, then the snippet: an import it does
    # not bring is the first error they see (issue 27: flagstone_testclient).
    assert len(INSTALLED_SNIPPETS) == len(SNIPPETS)
    for install, code in INSTALLED_SNIPPETS:
        requirements = install.removeprefix("pip install ").replace('"', "").split()
        names = {r.partition("[")[0] for r in requirements}
        extras = {r.partition("[")[0]: r.partition("[")[2].rstrip("]") for r in requirements}
        for module in re.findall(r"^from (flagstone\w*) import", code, flags=re.M):
            if names == {"flagstone"}:
                continue  # the meta distribution brings every piece
            distribution = module.replace("_", "-")
            assert distribution in names, f"{install!r} does not install {module}"
            if module == "flagstone_testclient":
                # The test client alone has no HTTP library.
                assert extras[distribution] in ("httpx2", "httpx"), install


def test_the_two_commands_name_existing_hatch_scripts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["envs"]
    for marker, env, script in [("demo-command", "demo", "ready"), ("test-command", "test", "all")]:
        command = re.search(rf"<!-- {marker} -->\n```\n(.*?)\n```", README).group(1)  # type: ignore[union-attr]
        assert f".venv/bin/hatch run {env}:{script}" in command
        # Only `python3` may be assumed, and PEP 668 systems refuse installs
        # into the system interpreter: everything goes into a virtualenv.
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install ")
        assert "python -m" not in command
        assert "\n" not in command
        assert script in config[env]["scripts"]
    # The demo command's last step is the server itself (test_demo_signals.py).
    demo = re.search(r"<!-- demo-command -->\n```\n(.*?)\n```", README).group(1)  # type: ignore[union-attr]
    assert demo.endswith('"$(.venv/bin/hatch env find demo)/bin/python" tools/serve_demo.py')


def test_every_document_the_readme_links_exists() -> None:
    links = re.findall(r"\]\((docs/[^)]+\.md)\)", README)
    assert {
        "docs/index.md",
        "docs/porting-from-starlette.md",
        "docs/building-a-framework.md",
    } <= set(links)
    for link in links:
        assert (ROOT / link).is_file(), link
