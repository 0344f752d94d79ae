"""The layers depend downwards only (cli -> flows and the webhook receiver -> tasks -> connectors -> models), and
the product on nothing of the simulators: `sandbox/` drives it, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PRODUCT = ("flows", "tasks", "connectors", "models", "cli", "webhooks")


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def offenders(package: str, forbidden: set[str]) -> dict[str, list[str]]:
    """The files of a package that import one of the `forbidden` packages, with what they import."""
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    return {
        str(source.relative_to(ROOT)): sorted(found)
        for source in files
        if (found := {m for m in imported_modules(source) if m.split(".")[0] in forbidden})
    }


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_imports_nothing_from_the_sandbox(package):
    assert offenders(package, {"sandbox"}) == {}


@pytest.mark.parametrize(
    ("package", "above"),
    [
        ("models", {"connectors", "tasks", "flows", "webhooks", "cli"}),
        ("connectors", {"tasks", "flows", "webhooks", "cli"}),
        ("tasks", {"flows", "webhooks", "cli"}),
        ("flows", {"webhooks", "cli"}),
        ("webhooks", {"flows", "cli"}),
    ],
)
def test_a_layer_imports_nothing_from_the_layers_above_it(package, above):
    assert offenders(package, above) == {}
