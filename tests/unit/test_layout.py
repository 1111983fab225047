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
