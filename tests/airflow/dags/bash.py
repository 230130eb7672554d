"""``BashOperator`` and ``@task.bash``: the last line of output is the output, exit code 99
skips (and ``skip_on_exit_code`` names another), any other non-zero code fails; ``env``
replaces the environment unless ``append_env``; ``cwd``; ``do_xcom_push=False``."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

with DAG(dag_id="bash", schedule=None, start_date=datetime(2026, 1, 1)):
    BashOperator(task_id="last_line", bash_command="echo first; echo second; echo '  last  '")
    BashOperator(task_id="no_output", bash_command="true")
    BashOperator(task_id="exit_99", bash_command="echo skipping; exit 99")
    BashOperator(task_id="exit_1", bash_command="echo failing; exit 1")
    BashOperator(task_id="exit_42_skips", bash_command="exit 42", skip_on_exit_code=42)
    BashOperator(
        task_id="env_only",
        bash_command='echo "${GREETING}-${HOME:-no home}"',
        env={"GREETING": "hi"},
    )
    BashOperator(
        task_id="env_appended",
        bash_command='echo "${GREETING}-${HOME:+has home}"',
        env={"GREETING": "hi"},
        append_env=True,
    )
    BashOperator(task_id="cwd", bash_command="pwd", cwd="/")
    BashOperator(task_id="not_pushed", bash_command="echo hidden", do_xcom_push=False)

    @task.bash
    def greet(name):
        return f"echo hello {name}"

    @task.bash
    def exits_99():
        return "exit 99"

    greet("bash")
    exits_99()
