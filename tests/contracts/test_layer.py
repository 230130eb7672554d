"""The contracts package sits below every layer that speaks a wire: it imports nothing above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import taskstate.contracts

PACKAGE = Path(taskstate.contracts.__file__).parent
ALLOWED = ("taskstate.contracts", "taskstate.errors", "taskstate.state")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_contracts_import_only_errors_and_state_of_taskstate() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {m.stem for m in modules} >= {"frames", "http", "scopes", "types"}
    for module in modules:
        ours = {n for n in _imports(module) if n == "taskstate" or n.startswith("taskstate.")}
        above = {n for n in ours if not n.startswith(ALLOWED)}
        assert not above, f"{module.name} imports {sorted(above)}"


def test_loading_the_contracts_loads_no_layer_above_them_nor_a_web_framework() -> None:
    code = (
        "import sys, taskstate.contracts.frames, taskstate.contracts.http, "
        "taskstate.contracts.scopes, taskstate.contracts.types\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [m for m in loaded if m.startswith("taskstate.")]
    assert [m for m in ours if not m.startswith(ALLOWED)] == []
    for heavy in ("fastapi", "starlette", "sqlalchemy", "httpx"):
        assert heavy not in loaded
