"""Every Python example on the documentation site runs.

Each ```python block of each page under docs/ is executed, in page order, in
one namespace per page (a later block may use what an earlier one defined),
so the site cannot drift from the code.  Shell commands and output go in
```bash / ```text blocks, which are not run.
"""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(p for p in DOCS.rglob("*.md") if BLOCK.search(p.read_text()))


def examples(page: Path) -> list[tuple[int, str]]:
    """(line number, code) of each Python block of `page`."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_site_has_examples() -> None:
    assert len(PAGES) >= 20


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_every_example_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Examples that write files (static files, templates, .env) write them here.
    monkeypatch.chdir(tmp_path)
    # The page runs as a real module: code that resolves type hints or
    # pickles through `sys.modules[func.__module__]` (Litestar, dataclasses)
    # finds it.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for line, code in examples(page):
        # Line numbers in a traceback are the page's own.
        source = "\n" * (line - 1) + code
        exec(compile(source, os.fspath(page), "exec"), module.__dict__)
