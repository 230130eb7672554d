"""The import-line converter: an Airflow 3 DAG file becomes a taskstate DAG file.

The rule of issue 10: every ``from airflow... import X`` becomes ``from taskstate.sdk import
X``, and nothing else changes. Only the module between ``from`` and ``import`` is rewritten,
so the imported names, their aliases, parentheses, comments and line breaks stay as written,
and every line keeps its number (a traceback from the converted file points at the same line
of the original).

The import statements are found with :mod:`ast`, so an ``airflow`` in a string or a comment
is never touched. What the rule cannot express is reported, all at once, before anything is
written: an ``import airflow...`` statement (its attribute uses would need rewriting too), a
star import, and a name that ``taskstate.sdk`` does not export.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path

from taskstate.errors import DagDefinitionError

__all__ = ["TARGET_MODULE", "convert_file", "convert_imports"]

TARGET_MODULE = "taskstate.sdk"

# Between ``from`` and ``import`` only a dotted name, spaces and backslash continuations can
# stand (a comment there would end the statement), so this finds the module exactly.
_FROM_MODULE = re.compile(r"from(?P<module>(?:[ \t\f]|\\\r?\n|[\w.])+?)import\b")
_DOTTED_NAME = re.compile(r"[\w.](?:[\w.]|\s|\\\r?\n)*[\w.]|[\w.]")


def _is_airflow(module: str) -> bool:
    return module == "airflow" or module.startswith("airflow.")


def _exported_by_sdk() -> frozenset[str]:
    import taskstate.sdk

    return frozenset(taskstate.sdk.__all__)


def _line_offsets(source: str) -> list[int]:
    """The offset in ``source`` of the start of each line (index 0 is line 1)."""
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _char_column(source_line: str, byte_column: int) -> int:
    # ast counts columns in UTF-8 bytes; str slicing counts characters.
    return len(source_line.encode()[:byte_column].decode(errors="replace"))


def _problems(tree: ast.AST, exported: Collection[str]) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_airflow(alias.name):
                    found.append(
                        f"line {node.lineno}: `import {alias.name}` is not a from-import; "
                        f"write `from {alias.name} import ...` so that it can be converted"
                    )
        elif (
            isinstance(node, ast.ImportFrom) and node.level == 0 and _is_airflow(node.module or "")
        ):
            for alias in node.names:
                if alias.name == "*":
                    found.append(f"line {node.lineno}: `from {node.module} import *`")
                elif alias.name not in exported:
                    found.append(
                        f"line {node.lineno}: {alias.name!r} (from {node.module}) is not "
                        f"exported by {TARGET_MODULE}"
                    )
    return found


def convert_imports(
    source: str, *, exported: Collection[str] | None = None, filename: str = "<dag file>"
) -> str:
    """Rewrite every ``from airflow... import ...`` statement of ``source`` to import from
    ``taskstate.sdk``; everything else is kept byte for byte.

    ``exported`` is the set of names the target module offers (by default ``taskstate.sdk``'s
    ``__all__``). Raises :class:`~taskstate.errors.DagDefinitionError` listing every statement
    that cannot be converted: ``import airflow...``, ``from airflow... import *``, or a name
    that is not exported. A file that does not parse raises it too.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise DagDefinitionError(f"{filename} is not valid Python: {exc}") from exc
    problems = _problems(tree, _exported_by_sdk() if exported is None else exported)
    if problems:
        raise DagDefinitionError(
            f"{filename} cannot be converted by rewriting its import lines:\n  "
            + "\n  ".join(problems),
            detail={"file": filename, "problems": problems},
        )
    lines = source.splitlines(keepends=True)
    offsets = _line_offsets(source)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.ImportFrom) and node.level == 0 and _is_airflow(node.module or "")
        ):
            continue
        start = offsets[node.lineno - 1] + _char_column(lines[node.lineno - 1], node.col_offset)
        match = _FROM_MODULE.match(source, start)
        if match is None:  # pragma: no cover - ast found a from-import that is not there
            raise DagDefinitionError(f"{filename}: cannot find the import on line {node.lineno}")
        # Only the dotted name is replaced: the blanks around it stay, and so does any line
        # continuation inside it (as a continuation after the new name), so no line moves.
        name = _DOTTED_NAME.search(match["module"])
        assert name is not None  # the module of an ImportFrom has at least one name
        breaks = "".join(f" {piece}" for piece in re.findall(r"\\\r?\n", name[0]))
        begin = match.start("module") + name.start()
        edits.append((begin, begin + len(name[0]), f"{TARGET_MODULE}{breaks}"))
    for begin, end, text in sorted(edits, reverse=True):
        source = source[:begin] + text + source[end:]
    return source


def convert_file(
    source_path: Path, target_path: Path, *, exported: Collection[str] | None = None
) -> Path:
    """Convert the DAG file ``source_path`` into ``target_path`` (see :func:`convert_imports`)."""
    converted = convert_imports(
        source_path.read_text(encoding="utf-8"), exported=exported, filename=str(source_path)
    )
    target_path.parent.mkdir(parents=True, exist_ok=True)
    target_path.write_text(converted, encoding="utf-8")
    return target_path
