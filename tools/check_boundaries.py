"""Import-boundary check: keep the flagstone packages independent.

Rules (DESIGN.md, "Dependency rules"):
1. flagstone-contract imports no other flagstone package.
2. A concern package imports only flagstone_contract and itself, with the
   declared exceptions below.  Lazily only (inside a function), so the
   package works without flagstone_requests installed: flagstone_routing may
   import flagstone_requests anywhere; flagstone_middleware only from the
   modules of BaseHTTPMiddleware and `requires` (and AuthenticationMiddleware,
   which hands its backend an HTTPConnection when one is available);
   flagstone_broadcast only from `_asgi.py`, its WebSocket and
   EventSourceResponse helpers (extra `[requests]`; tested in meta).  These
   may import a sibling outright, because it is a declared dependency:
   - flagstone_requests -> flagstone_config (Secret, CommaSeparatedStrings
     have their one home there; requests re-exports them);
   - flagstone_staticfiles -> flagstone_requests (serves through FileResponse);
   - flagstone_templates -> flagstone_requests (renders to an HTMLResponse).
   flagstone_config imports nothing but the standard library (and may use the
   contract).
3. No package imports a sibling's private module (`flagstone_x._y`), whatever
   the importer: private modules may change in any release.
4. The meta package, and the packages above it (flagstone_compat), may
   import every package's public modules; nothing imports flagstone_compat.

Both `src/` and `tests/` are checked: a test that imports a sibling package
would fail the isolated run anyway, and saying so here is quicker and clearer.
Run: `python tools/check_boundaries.py [ROOT]`; exit status 1 on a violation.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workspace import ABOVE_META, CONTRACT, META, ROOT, Package, packages, report

# (importer, imported) -> the importer's modules allowed to import it lazily
# (None: any module).
LAZY_ALLOWED: dict[tuple[str, str], frozenset[str] | None] = {
    ("flagstone_routing", "flagstone_requests"): None,
    ("flagstone_middleware", "flagstone_requests"): frozenset(
        {"_base.py", "_requires.py", "_authentication.py"}
    ),
    ("flagstone_broadcast", "flagstone_requests"): frozenset({"_asgi.py"}),
}
# Declared, unconditional dependencies between concern packages: exactly these.
ALLOWED = {
    ("flagstone_requests", "flagstone_config"),
    ("flagstone_staticfiles", "flagstone_requests"),
    ("flagstone_templates", "flagstone_requests"),
}


@dataclass(frozen=True)
class Violation:
    """One import that breaks a rule, with where it is and why it is wrong."""

    path: Path
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported}: {self.reason}"


@dataclass(frozen=True)
class _Import:
    module: str
    line: int
    top_level: bool


def _imports(tree: ast.Module) -> Iterator[_Import]:
    """Every absolute import in `tree`, marking whether it runs at import time."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[_Import]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield _Import(alias.name, child.lineno, not in_function)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield _Import(child.module, child.lineno, not in_function)
                # `from flagstone_x import _private` reaches a private module too.
                for alias in child.names:
                    if alias.name.startswith("_") and alias.name != "__version__":
                        yield _Import(f"{child.module}.{alias.name}", child.lineno, not in_function)
            yield from walk(child, nested)

    yield from walk(tree, False)


def _is_type_checking_block(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (never executed)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def check_file(path: Path, owner: Package, names: set[str]) -> list[Violation]:
    """The violations in one file that belongs to package `owner`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    type_only = _is_type_checking_block(tree)
    found = []
    for imp in _imports(tree):
        top = imp.module.split(".")[0]
        if top not in names or top == owner.import_name:
            continue
        parts = imp.module.split(".")
        if any(part.startswith("_") for part in parts[1:]):
            found.append(Violation(path, imp.line, imp.module, f"private module of {top}"))
            continue
        if top in ABOVE_META:
            found.append(Violation(path, imp.line, imp.module, f"nothing imports {top}"))
            continue
        if owner.import_name == META or owner.import_name in ABOVE_META or top == CONTRACT:
            continue
        if (owner.import_name, top) in ALLOWED:
            continue
        if owner.import_name == CONTRACT:
            found.append(Violation(path, imp.line, imp.module, "the contract imports nothing"))
        elif (owner.import_name, top) in LAZY_ALLOWED:
            modules = LAZY_ALLOWED[(owner.import_name, top)]
            if modules is not None and path.name not in modules:
                reason = f"{owner.import_name} may import {top} only from {sorted(modules)}"
                found.append(Violation(path, imp.line, imp.module, reason))
            elif imp.top_level and imp.line not in type_only:
                reason = f"{owner.import_name} may import {top} only lazily, inside a function"
                found.append(Violation(path, imp.line, imp.module, reason))
        elif top == META:
            found.append(
                Violation(path, imp.line, imp.module, "only users import the meta package")
            )
        else:
            reason = f"concern package {owner.import_name} must not import {top}"
            found.append(Violation(path, imp.line, imp.module, reason))
    return found


def check_tree(root: Path) -> list[Violation]:
    """Every violation in the workspace at `root`."""
    pkgs = packages(root)
    names = {pkg.import_name for pkg in pkgs}
    violations = []
    for pkg in pkgs:
        for sub in ("src", "tests"):
            for path in sorted((pkg.folder / sub).rglob("*.py")):
                violations += check_file(path, pkg, names)
    return violations


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else ROOT
    violations = check_tree(root)
    count = len(list(packages(root)))
    return report(violations, f"boundaries: {len(violations)} violation(s) in {count} packages")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
