"""Throwaway PostgreSQL databases, and the ``--database=postgres`` pass of the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from taskstate.db import current_revision
from taskstate.db.migration import HEAD_REVISION
from taskstate.testing.postgres import ENV_VAR, migrated_template, temporary_database

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/test"
# A test that gets its database through the shared fixtures.
SAMPLE = "tests/api/test_runs.py::test_the_same_run_registered_at_once_is_created_once"


def _databases() -> set[str]:
    url = make_url(os.environ.get(ENV_VAR) or "postgresql://postgres@127.0.0.1:5432/test")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {name for (name,) in rows}


@pytest.mark.postgres
def test_copies_of_a_migrated_template_are_at_head_and_dropped_afterwards() -> None:
    with migrated_template() as template, temporary_database(template=template) as copy:
        assert current_revision(copy) == HEAD_REVISION
        name = make_url(copy).database
        assert name in _databases()
    assert name not in _databases()
    assert make_url(template).database not in _databases()


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=REPO,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_postgres_pass_skips_without_a_server_saying_how_to_enable_it() -> None:
    done = _pytest("--database=postgres", SAMPLE, **{ENV_VAR: UNREACHABLE})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert f"start PostgreSQL or set {ENV_VAR}" in done.stdout


def test_the_postgres_pass_fails_without_a_server_under_ci() -> None:
    done = _pytest("--database=postgres", SAMPLE, **{ENV_VAR: UNREACHABLE, "CI": "true"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout
    assert "(CI=true: not skipping)" in done.stdout
