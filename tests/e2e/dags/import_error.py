"""A DAG file that fails while it is imported (tests/e2e/test_logs.py)."""

from taskstate.sdk import DAG


def read_settings():
    return {}["missing"]


SETTINGS = read_settings()

DAG(dag_id="e2e_import_error")
