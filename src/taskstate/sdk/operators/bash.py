"""``BashOperator``: run a Bash command; the last line it prints is the task's output.

``bash_command`` is templated; one ending in ``.sh`` or ``.bash`` names a template file, whose
rendered text is written to a temporary script and run. The command runs in ``cwd`` (a fresh
temporary folder by default) with ``env`` as its environment (the task process's own when
``env`` is None, or both with ``append_env=True``), plus ``AIRFLOW_CTX_DAG_ID``,
``AIRFLOW_CTX_TASK_ID``, ... as in Airflow. Its output (stderr merged into stdout) is printed
line by line as it comes. Exit code 0 succeeds; one in ``skip_on_exit_code`` (99 by default)
ends the try ``skipped``; any other fails it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from taskstate.sdk.exceptions import AirflowException, AirflowSkipException
from taskstate.sdk.operator import BaseOperator

__all__ = ["BashOperator", "BashResult", "context_env", "run_bash", "run_command_of"]

SCRIPT_EXTENSIONS = (".sh", ".bash")


@dataclass(frozen=True, slots=True)
class BashResult:
    exit_code: int
    output: str  # the last line printed


def context_env(context: Mapping[str, Any]) -> dict[str, str]:
    """The ``AIRFLOW_CTX_*`` variables Airflow gives a Bash command, from the context."""
    task = context.get("task")
    ti = context.get("ti")
    run = context.get("dag_run")
    values = {
        "AIRFLOW_CTX_DAG_OWNER": getattr(task, "owner", None),
        "AIRFLOW_CTX_DAG_ID": getattr(ti, "dag_id", None),
        "AIRFLOW_CTX_TASK_ID": getattr(ti, "task_id", None),
        "AIRFLOW_CTX_LOGICAL_DATE": getattr(run, "logical_date", None),
        "AIRFLOW_CTX_TRY_NUMBER": getattr(ti, "try_number", None),
        "AIRFLOW_CTX_DAG_RUN_ID": getattr(run, "run_id", None),
    }
    env: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        env[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return env


@contextmanager
def _working_directory(cwd: str | None) -> Iterator[str]:
    if cwd is not None:
        yield cwd
        return
    with tempfile.TemporaryDirectory(prefix="taskstate-bash-") as folder:
        yield folder


def run_bash(
    command: str,
    *,
    env: Mapping[str, str] | None,
    append_env: bool,
    cwd: str | None,
    output_encoding: str,
    context: Mapping[str, Any],
    log: logging.Logger,
) -> BashResult:
    """Run ``command`` as described in the module docstring; print its lines as they come."""
    if cwd is not None:
        if not os.path.exists(cwd):
            raise AirflowException(f"Can not find the cwd: {cwd}")
        if not os.path.isdir(cwd):
            raise AirflowException(f"The cwd {cwd} must be a directory")
    full_env = dict(os.environ) if env is None or append_env else {}
    full_env.update(env or {})
    full_env.update(context_env(context))
    bash = shutil.which("bash") or "bash"
    with _working_directory(cwd) as folder:
        if command.endswith(SCRIPT_EXTENSIONS):
            with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".sh") as script:
                script.write(command)
                script.flush()
                argv = [bash, os.path.basename(script.name)]
                return _run(argv, full_env, folder, output_encoding, log)
        return _run([bash, "-c", command], full_env, folder, output_encoding, log)


def _run(
    argv: list[str], env: dict[str, str], cwd: str, encoding: str, log: logging.Logger
) -> BashResult:
    log.info("Running command: %s", argv)
    log.info("Output:")
    line = ""
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env
    ) as proc:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(encoding, errors="backslashreplace").rstrip()
            print(line, flush=True)
    log.info("Command exited with return code %s", proc.returncode)
    return BashResult(proc.returncode, line)


def skip_codes(value: int | Container[int] | None) -> Container[int]:
    """``skip_on_exit_code`` as a container of exit codes (None: no code skips)."""
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return value


def run_command_of(op: Any, context: Mapping[str, Any]) -> BashResult:
    """Run ``op.bash_command`` with the operator's ``env``, ``append_env``, ``cwd`` and
    ``output_encoding``, then skip or fail the try per ``op.skip_on_exit_code``."""
    result = run_bash(
        str(op.bash_command),
        env=op.env,
        append_env=op.append_env,
        cwd=op.cwd,
        output_encoding=op.output_encoding,
        context=context,
        log=op.log,
    )
    check_exit(result, op.skip_on_exit_code)
    return result


def check_exit(result: BashResult, skip_on_exit_code: Container[int]) -> None:
    """Skip or fail the try per the command's exit code."""
    if result.exit_code in skip_on_exit_code:
        raise AirflowSkipException(f"Bash command returned exit code {result.exit_code}. Skipping.")
    if result.exit_code != 0:
        raise AirflowException(
            f"Bash command failed. The command returned a non-zero exit code {result.exit_code}."
        )


class BashOperator(BaseOperator):
    """Run ``bash_command`` (see the module docstring)."""

    template_fields: Sequence[str] = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext: Sequence[str] = SCRIPT_EXTENSIONS
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda result: result,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        self.skip_on_exit_code = skip_codes(skip_on_exit_code)
        self.cwd = cwd
        self.output_processor = output_processor

    def execute(self, context: Mapping[str, Any]) -> Any:
        return self.output_processor(run_command_of(self, context).output)
