"""The benchmarks stand alone: nothing in bench/ imports the test suite."""

from __future__ import annotations

import ast

from tests.conftest import ROOT


def imported(tree: ast.AST) -> list[str]:
    """Every module name an import statement in ``tree`` names."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_bench_imports_nothing_from_tests() -> None:
    found = [
        f"{path.name}: {name}"
        for path in [*sorted((ROOT / "bench").glob("*.py")), ROOT / "bench" / "run"]
        for name in imported(ast.parse(path.read_text("utf-8")))
        if name == "tests" or name.startswith("tests.")
    ]
    assert not found, found
