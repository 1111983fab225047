"""The house rules a newcomer can rely on: the library imports no service and no tool, and modules stay short."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_library_imports_no_service_and_no_tool():
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "qc").glob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in ("services", "qc_tools", "bench", "tests")
    }
    assert wrong == set()


def test_no_module_outside_the_tests_is_over_300_lines():
    too_long = {}
    for folder in ("qc", "qc_tools", "services", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name, lines = str(path.relative_to(ROOT)), len(path.read_text().splitlines())
            if lines > MAX_LINES:
                too_long[name] = lines
    assert too_long == {}


def test_every_test_module_that_starts_the_stack_is_marked():
    """`make unit` runs without a stack; every module that needs one says so with its mark."""
    unmarked = [
        str(path.relative_to(ROOT))
        for folder in ("integration", "e2e", "fuzz")
        for path in sorted((ROOT / "tests" / folder).glob("test_*.py"))
        if not any(mark in path.read_text() for mark in ("pytest.mark.integration", "pytest.mark.e2e"))
    ]
    assert unmarked == []


def test_no_test_module_imports_from_another_test_module():
    """Shared test code lives in tests/builders.py, the conftests, tests/integration/world.py and tests/scenarios/."""
    borrowed = set()
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1].startswith("test_"):
                borrowed |= {f"{path.name}: {node.module}.{a.name}" for a in node.names}
    assert borrowed == set()
