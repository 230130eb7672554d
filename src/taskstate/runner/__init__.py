"""A DAG run: order, parallelism, retries; one supervisor process per try."""

from taskstate.runner.runner import DagRunner, RunResult, default_run_id

__all__ = ["DagRunner", "RunResult", "default_run_id"]
