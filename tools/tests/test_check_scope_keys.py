"""The scope-key check passes on the real tree and names what to add or remove."""

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import check_scope_keys  # noqa: E402


def test_the_real_tree_declares_every_key_it_uses() -> None:
    assert check_scope_keys.problems(TOOLS.parent) == []


def test_every_way_of_touching_a_key_is_seen(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        'TENANT_KEY = "tenant"\n'
        "def f(scope, self):\n"
        '    scope["a"] = 1\n'
        '    scope.get("b")\n'
        '    self.scope.setdefault("c", 0)\n'
        '    child_scope.pop("d")\n'
        '    "e" in scope\n'
        "    scope[TENANT_KEY]\n"
        '    scope.get("headers")\n'
    )
    keys = [key for key, _ in check_scope_keys.scope_keys_used(source, {})]
    assert sorted(keys) == ["a", "b", "c", "d", "e", "headers", "tenant"]


def test_undeclared_and_unused_keys_say_what_to_do(tmp_path: Path) -> None:
    module = tmp_path / "packages" / "asgi-x" / "src" / "flagstone_x" / "_mod.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        'def f(scope):\n    scope["tenant"] = 1\n    scope["flagstone.x.private"] = 2\n'
    )
    found = check_scope_keys.problems(tmp_path)
    assert (
        "packages/asgi-x/src/flagstone_x/_mod.py:2 uses scope key 'tenant', which SCOPE_KEYS "
        "does not declare: add ScopeKey('tenant', type, written_by, read_by, meaning) to "
        "SCOPE_KEYS in packages/asgi-contract/src/flagstone_contract/_scope_keys.py"
    ) in found[0]
    assert not any("flagstone.x.private" in problem for problem in found)
    # Nothing in this tree uses the real declared keys: each is reported unused.
    assert any(
        "declares scope key 'session', but no package reads or writes it" in p for p in found
    )
