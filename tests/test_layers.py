"""The product depends on nothing of the simulators: `sandbox/` drives it, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PRODUCT = ("flows", "tasks", "connectors", "models", "cli")


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_imports_nothing_from_the_sandbox(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        str(source.relative_to(ROOT)): sorted(found)
        for source in files
        if (found := {m for m in imported_modules(source) if m == "sandbox" or m.startswith("sandbox.")})
    }
    assert offenders == {}
