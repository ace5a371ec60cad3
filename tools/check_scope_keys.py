"""Scope-key check: the keys the packages use and `flagstone_contract.SCOPE_KEYS` agree.

Every scope key a package reads or writes (`scope["k"]`, `scope.get("k")`,
`scope.setdefault("k", ...)`, `scope.pop("k")`, `"k" in scope`, with a string
or a `*_KEY` constant) must be declared in `SCOPE_KEYS`, unless it is a key
the ASGI specification defines or a key private to one package
(`flagstone.<package>.<name>`).  Every declared key must be used by some
package.  Each problem says what to add or remove, and where.
Run: `python tools/check_scope_keys.py`; exit status 1 on a problem.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ROOT, report

CONTRACT_KEYS_FILE = "packages/asgi-contract/src/flagstone_contract/_scope_keys.py"

# Keys the ASGI specification (2.5) defines for http, websocket and lifespan
# scopes: servers write them; nobody needs to declare them.
ASGI_KEYS = frozenset(
    {
        "type", "asgi", "http_version", "method", "scheme", "path", "raw_path",
        "query_string", "root_path", "headers", "client", "server", "subprotocols",
        "state", "extensions",
    }
)  # fmt: skip
_ACCESSORS = frozenset({"get", "setdefault", "pop"})


def _is_scope(node: ast.expr) -> bool:
    """`scope`, `self.scope`, `child_scope`...: any name ending in "scope"."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return isinstance(name, str) and name.endswith("scope")


def _constants(tree: ast.Module, known: dict[str, str]) -> dict[str, str]:
    """Module-level `NAME = "..."` (or `NAME: Final = "..."`) strings, plus `known`."""
    found = dict(known)
    for statement in tree.body:
        target = getattr(statement, "target", None) or getattr(statement, "targets", [None])[0]
        value = getattr(statement, "value", None)
        text = value.value if isinstance(value, ast.Constant) else None
        if isinstance(target, ast.Name) and isinstance(text, str):
            found[target.id] = text
    return found


def scope_keys_used(path: Path, known: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(key, line) for every scope access in one source file."""
    tree = ast.parse(path.read_text(), str(path))
    constants = _constants(tree, known)
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_scope(node.value):
            key_node: ast.expr | None = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            accessor = node.func.attr in _ACCESSORS and _is_scope(node.func.value)
            key_node = node.args[0] if accessor and node.args else None
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            key_node = node.left if _is_scope(node.comparators[0]) else None
        else:
            continue
        if isinstance(key_node, ast.Constant) and isinstance(key_node.value, str):
            yield key_node.value, node.lineno
        elif isinstance(key_node, ast.Name) and key_node.id in constants:
            yield constants[key_node.id], node.lineno


def dict_keys_written(path: Path) -> set[str]:
    """String keys of dict literals: how routing writes a child scope (`{"route": self}`)."""
    tree = ast.parse(path.read_text(), str(path))
    return {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def _is_private(key: str) -> bool:
    # flagstone.<package>.<name>: an agreement inside one package.
    return key.startswith("flagstone.") and key.count(".") >= 2


def problems(root: Path = ROOT) -> list[str]:
    """Every undeclared key in use and every declared key nobody uses."""
    sys.path.insert(0, str(root / "packages" / "asgi-contract" / "src"))
    import flagstone_contract

    declared = {key.name for key in flagstone_contract.SCOPE_KEYS}
    known = {
        name: value
        for name, value in vars(flagstone_contract).items()
        if name.endswith("_KEY") and isinstance(value, str)
    }
    used: set[str] = set()
    found: list[str] = []
    for path in sorted((root / "packages").glob("*/src/**/*.py")):
        relative = path.relative_to(root)
        reported: set[str] = set()
        if relative.as_posix() != CONTRACT_KEYS_FILE:
            used |= dict_keys_written(path) & declared
        for key, line in scope_keys_used(path, known):
            used.add(key)
            if key in declared or key in ASGI_KEYS or _is_private(key) or key in reported:
                continue
            reported.add(key)
            found.append(
                f"{relative}:{line} uses scope key {key!r}, which SCOPE_KEYS does not declare: "
                f"add ScopeKey({key!r}, type, written_by, read_by, meaning) to SCOPE_KEYS in "
                f"{CONTRACT_KEYS_FILE} (or, if only this package uses it, name it "
                f"'flagstone.<package>.<name>')"
            )
    for key in sorted(declared - used):
        found.append(
            f"{CONTRACT_KEYS_FILE} declares scope key {key!r}, but no package reads or writes "
            "it: remove its ScopeKey from SCOPE_KEYS, or use it"
        )
    return found


def main() -> int:
    found = problems()
    return report(found, f"scope keys: {len(found)} problem(s)")


if __name__ == "__main__":
    sys.exit(main())
