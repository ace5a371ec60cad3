"""The boundary check passes on the real tree and fails on each kind of violation."""

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import check_boundaries  # noqa: E402


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """A workspace with contract, the concern packages and meta."""
    for folder, dist in [
        ("asgi-contract", "flagstone-contract"),
        ("asgi-config", "flagstone-config"),
        ("asgi-staticfiles", "flagstone-staticfiles"),
        ("asgi-templates", "flagstone-templates"),
        ("asgi-requests", "flagstone-requests"),
        ("asgi-routing", "flagstone-routing"),
        ("asgi-sessions", "flagstone-sessions"),
        ("asgi-middleware", "flagstone-middleware"),
        ("meta", "flagstone"),
    ]:
        pkg = root / "packages" / folder
        (pkg / "src" / dist.replace("-", "_")).mkdir(parents=True)
        (pkg / "tests").mkdir()
        (pkg / "pyproject.toml").write_text(f'[project]\nname = "{dist}"\n')
    for rel, text in files.items():
        (root / "packages" / rel).write_text(text)
    return root


def test_the_real_tree_has_no_violation() -> None:
    assert check_boundaries.check_tree(TOOLS.parent) == []


@pytest.mark.parametrize(
    ("rel", "text", "reason"),
    [
        pytest.param("asgi-sessions/src/flagstone_sessions/x.py", "import flagstone_requests\n",
                     "must not import flagstone_requests", id="concern-imports-concern"),
        pytest.param("asgi-sessions/src/flagstone_sessions/x.py",
                     "from flagstone_requests import Request\n",
                     "must not import flagstone_requests", id="concern-from-imports-concern"),
        pytest.param("asgi-routing/src/flagstone_routing/x.py", "import flagstone_requests\n",
                     "only lazily", id="routing-imports-requests-eagerly"),
        pytest.param("asgi-middleware/src/flagstone_middleware/_cors.py",
                     "def f():\n    import flagstone_requests\n",
                     "only from", id="middleware-imports-requests-outside-its-modules"),
        pytest.param("asgi-middleware/src/flagstone_middleware/_base.py",
                     "import flagstone_requests\n",
                     "only lazily", id="middleware-imports-requests-eagerly"),
        pytest.param("asgi-middleware/src/flagstone_middleware/x.py", "import flagstone_sessions\n",
                     "must not import flagstone_sessions", id="middleware-imports-sessions"),
        pytest.param("meta/src/flagstone/x.py", "from flagstone_requests._request import X\n",
                     "private module", id="meta-imports-private-module"),
        pytest.param("meta/src/flagstone/x.py", "from flagstone_requests import _request\n",
                     "private module", id="meta-from-imports-private-module"),
        pytest.param("asgi-contract/src/flagstone_contract/x.py", "import flagstone_routing\n",
                     "the contract imports nothing", id="contract-imports-package"),
        pytest.param("asgi-sessions/tests/test_x.py", "import flagstone\n",
                     "only users import the meta package", id="test-imports-meta"),
        pytest.param("asgi-requests/src/flagstone_requests/x.py",
                     "def f():\n    from flagstone_contract._types import Scope\n",
                     "private module", id="lazy-private-import"),
        pytest.param("asgi-config/src/flagstone_config/x.py", "import flagstone_requests\n",
                     "must not import flagstone_requests", id="config-imports-requests"),
        pytest.param("asgi-staticfiles/src/flagstone_staticfiles/x.py",
                     "import flagstone_routing\n", "must not import flagstone_routing",
                     id="staticfiles-imports-routing"),
        pytest.param("asgi-templates/src/flagstone_templates/x.py",
                     "from flagstone_sessions import SessionMiddleware\n",
                     "must not import flagstone_sessions", id="templates-imports-sessions"),
        pytest.param("asgi-staticfiles/src/flagstone_staticfiles/x.py",
                     "from flagstone_requests._file_response import FileResponse\n",
                     "private module", id="staticfiles-imports-requests-private"),
        pytest.param("asgi-sessions/src/flagstone_sessions/x.py", "import flagstone_config\n",
                     "must not import flagstone_config", id="sessions-imports-config"),
    ],
)  # fmt: skip
def test_each_violation_is_reported(tmp_path: Path, rel: str, text: str, reason: str) -> None:
    root = make_tree(tmp_path, {rel: text})
    violations = check_boundaries.check_tree(root)
    assert len(violations) == 1
    assert reason in str(violations[0])
    assert check_boundaries.main([str(root)]) == 1


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        pytest.param("asgi-sessions/src/flagstone_sessions/x.py",
                     "from flagstone_contract import Scope\n", id="concern-imports-contract"),
        pytest.param("asgi-routing/src/flagstone_routing/x.py",
                     "def adapt():\n    import flagstone_requests\n", id="routing-lazy-requests"),
        pytest.param("asgi-middleware/src/flagstone_middleware/_base.py",
                     "def load():\n    import flagstone_requests\n", id="middleware-lazy-requests"),
        pytest.param("meta/src/flagstone/x.py", "from flagstone_sessions import X\n",
                     id="meta-imports-public"),
        pytest.param("asgi-requests/src/flagstone_requests/x.py",
                     "from flagstone_requests._request import Request\n", id="own-private"),
        pytest.param("asgi-requests/src/flagstone_requests/x.py",
                     "from flagstone_config import Secret\n", id="requests-imports-config"),
        pytest.param("asgi-staticfiles/src/flagstone_staticfiles/x.py",
                     "from flagstone_requests import FileResponse\n",
                     id="staticfiles-imports-requests"),
        pytest.param("asgi-templates/src/flagstone_templates/x.py",
                     "from flagstone_requests import HTMLResponse\n",
                     id="templates-imports-requests"),
    ],
)  # fmt: skip
def test_allowed_imports_pass(tmp_path: Path, rel: str, text: str) -> None:
    root = make_tree(tmp_path, {rel: text})
    assert check_boundaries.check_tree(root) == []
    assert check_boundaries.main([str(root)]) == 0
