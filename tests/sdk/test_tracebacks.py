"""User-first tracebacks: taskstate's machinery above the user's first frame and its internals
below it are left out; an error of taskstate's own keeps its whole traceback."""

from __future__ import annotations

import asyncio
import runpy
import sys
import traceback
from pathlib import Path

import pytest

import taskstate
from taskstate.errors import DagDefinitionError
from taskstate.sdk.loader import load_dag_file
from taskstate.sdk.tracebacks import format_user_exception, user_frames

PACKAGE = Path(taskstate.__file__).parent
ASYNCIO = Path(asyncio.__file__).parent
JSON = Path(__import__("json").__file__).parent


def stack(*files: str | Path) -> traceback.StackSummary:
    return traceback.StackSummary.from_list(
        [traceback.FrameSummary(str(f), i + 1, f"f{i}", line="") for i, f in enumerate(files)]
    )


def names(summary: traceback.StackSummary) -> list[str]:
    return [frame.filename for frame in summary]


def test_machinery_above_the_users_frame_and_internals_below_it_are_left_out() -> None:
    frames = stack(
        PACKAGE / "runtime/main.py",
        PACKAGE / "runtime/context.py",
        ASYNCIO / "runners.py",
        ASYNCIO / "base_events.py",
        "/dags/etl.py",
        JSON / "decoder.py",
        "/dags/helpers.py",
        PACKAGE / "runtime/accessors.py",
        PACKAGE / "state/codec.py",
    )
    assert names(user_frames(frames)) == [
        "/dags/etl.py",
        str(JSON / "decoder.py"),
        "/dags/helpers.py",
    ]


def test_asyncio_frames_the_users_code_called_into_are_kept() -> None:
    frames = stack(PACKAGE / "runtime/context.py", "/dags/etl.py", ASYNCIO / "tasks.py")
    assert names(user_frames(frames)) == ["/dags/etl.py", str(ASYNCIO / "tasks.py")]


def test_importlib_frames_of_the_loader_are_left_out() -> None:
    frames = stack(
        PACKAGE / "sdk/loader.py",
        "<frozen importlib._bootstrap_external>",
        "<frozen importlib._bootstrap>",
        "/dags/etl.py",
    )
    assert names(user_frames(frames)) == ["/dags/etl.py"]


def test_an_error_of_taskstates_own_keeps_its_whole_traceback() -> None:
    frames = stack(PACKAGE / "runtime/main.py", PACKAGE / "runtime/context.py")
    assert names(user_frames(frames)) == names(frames)
    assert names(user_frames(frames, location_in_exception=True)) == []


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source)
    return path


def test_a_dag_file_that_raises_while_imported_shows_its_own_line_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    dag_file = _write(tmp_path, "broken_dag.py", "import json\n\njson.loads('{oops')\n")

    with pytest.raises(DagDefinitionError) as caught:
        load_dag_file(dag_file)

    lines = caught.value.message.splitlines()
    start = lines.index("Traceback (most recent call last):")
    assert lines[start + 1] == f'  File "{dag_file}", line 3, in <module>'
    assert "loader.py" not in caught.value.message
    assert "importlib" not in caught.value.message


def test_a_syntax_error_shows_where_it_is_without_a_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    dag_file = _write(tmp_path, "syntax_dag.py", "x = 1\ndef broken(:\n")

    with pytest.raises(DagDefinitionError) as caught:
        load_dag_file(dag_file)

    message = caught.value.message
    assert "Traceback" not in message
    assert f'  File "{dag_file}", line 2' in message
    assert message.rstrip().endswith("SyntaxError: invalid syntax")


def test_chained_exceptions_are_trimmed_too(tmp_path: Path) -> None:
    user_code = _write(
        tmp_path,
        "user_code.py",
        "def load():\n"
        "    try:\n"
        "        {}['missing']\n"
        "    except KeyError as exc:\n"
        "        raise RuntimeError('cannot load') from exc\n",
    )
    load = runpy.run_path(str(user_code))["load"]

    with pytest.raises(RuntimeError) as caught:
        load()

    text = format_user_exception(caught.value)
    cause, effect = text.split("The above exception was the direct cause")
    assert cause.splitlines()[:2] == [
        "Traceback (most recent call last):",
        f'  File "{user_code}", line 3, in load',
    ]
    assert "Traceback (most recent call last):" in effect
    assert text.rstrip().endswith("RuntimeError: cannot load")
