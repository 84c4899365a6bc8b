"""The publishing app knows nothing of the activity stream or the project."""

from __future__ import annotations

import ast
from pathlib import Path

import publishing

FORBIDDEN = ("streams", "dashboard")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_publishing_never_imports_streams_or_dashboard() -> None:
    root = Path(publishing.__file__).parent
    files = sorted(root.rglob("*.py"))
    offenders = {
        str(path.relative_to(root)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in FORBIDDEN
        )
        for path in files
    }
    assert len(files) > 10
    assert {path: names for path, names in offenders.items() if names} == {}


def test_publishing_source_never_names_streams_or_dashboard_modules() -> None:
    # Catches string imports too (import_module("streams..."), settings paths).
    root = Path(publishing.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in FORBIDDEN:
            assert f'"{name}.' not in text and f"'{name}." not in text, path
