"""docs/building-a-framework.md's worked example runs, as the README's snippets do."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "building-a-framework.md"
EXAMPLES = re.findall(r"<!-- example -->\n```python\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_the_guide_has_its_worked_example() -> None:
    assert len(EXAMPLES) == 1


def test_the_worked_example_runs() -> None:
    exec(compile(EXAMPLES[0], str(GUIDE), "exec"), {"__name__": "framework_example"})
