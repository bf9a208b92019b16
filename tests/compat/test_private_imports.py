"""Private third-party modules are imported in ``compat/`` only."""

from __future__ import annotations

import ast
from pathlib import Path

import brain_tumor_mri

PACKAGE_DIR = Path(brain_tumor_mri.__file__).parent
PRIVATE = ("keras.src",)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_compat_imports_private_modules():
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): sorted(
            name
            for name in imported_modules(path)
            if any(name == p or name.startswith(f"{p}.") for p in PRIVATE)
        )
        for path in PACKAGE_DIR.rglob("*.py")
        if "compat" not in path.relative_to(PACKAGE_DIR).parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_source_names_no_private_module_in_other_ways():
    """Nor through ``importlib`` or an attribute path, e.g. ``keras.src.tree``."""
    for path in PACKAGE_DIR.rglob("*.py"):
        if "compat" not in path.relative_to(PACKAGE_DIR).parts:
            assert "keras.src" not in path.read_text(), path
