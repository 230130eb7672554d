"""Bulk loading of the metadata database for ``benchmarks/scale.py``.

Rows go in beneath the API server, straight through the driver: ``COPY`` on PostgreSQL,
``executemany`` in one transaction on SQLite, so a million rows take seconds. The owners of the
state rows (DAG runs, task instances, assets) are made first, like the run registry makes them.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable

from taskstate.db.engine import Database
from taskstate.db.migration import migrate
from taskstate.state import AssetScope, TaskScope

__all__ = ["Loader"]

BATCH = 100_000
TASKS_PER_RUN = 10
VALUE = '{"job_id": "spark_app_000123", "attempt": 3, "ok": true}'
REF_BACKEND = "taskstate.bench.ObjectStore"
"""The worker backend the loaded references claim to be written by."""


def _batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _copy_line(row: tuple[Any, ...]) -> str:
    # Every field is the loader's own (ids, keys, VALUE, timestamps): no tab, newline or
    # backslash to escape.
    return "\t".join(r"\N" if field is None else str(field) for field in row) + "\n"


class Loader:
    """Bulk inserts into one metadata database, which it migrates to the current schema."""

    def __init__(self, url: str) -> None:
        migrate(url)
        self._database = Database(url, pool_size=1)
        self.dialect = self._database.dialect
        # The driver's own connection: COPY and executemany are driver calls.
        self._pooled = self._database.engine.raw_connection()
        self._raw: Any = self._pooled.dbapi_connection
        self._calls = 0

    def close(self) -> None:
        self._pooled.close()
        self._database.dispose()

    def _stamp(self, at: datetime) -> Any:
        # SQLite keeps SQLAlchemy's DateTime text, in UTC; psycopg adapts the datetime itself.
        if self.dialect == "sqlite":
            return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return at

    def _insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
        """Insert ``rows`` into ``table``, printing progress for large loads; the row count."""
        names = ", ".join(columns)
        total = 0
        started = time.perf_counter()
        for batch in _batches(rows):
            with closing(self._raw.cursor()) as cursor:
                if self.dialect == "postgresql":
                    # COPY's text format, built here: psycopg's write_row costs 10 µs a row.
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        copy.write("".join(map(_copy_line, batch)))
                else:
                    marks = ", ".join("?" * len(columns))
                    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
            self._raw.commit()
            total += len(batch)
            if total >= BATCH:
                rate = total / (time.perf_counter() - started)
                print(f"    {table}: {total:,} rows ({rate:,.0f} rows/s)", flush=True)
        return total

    def _select(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        marked = query.replace("?", "%s") if self.dialect == "postgresql" else query
        with closing(self._raw.cursor()) as cursor:
            cursor.execute(marked, tuple(params))
            rows = cursor.fetchall()
        self._raw.commit()
        return list(rows)

    def explain(self, stmt: Executable, params: dict[str, Any]) -> list[str]:
        """The lines of the plan the database chooses for ``stmt`` with ``params``; nothing of
        it runs (``EXPLAIN`` without ``ANALYZE``, ``EXPLAIN QUERY PLAN`` on SQLite)."""
        dialect = self._database.engine.dialect
        compiled = stmt.compile(dialect=dialect)
        bound = compiled.construct_params(params)
        with self._database.engine.connect() as conn:
            if self.dialect == "sqlite":
                sql, args = f"EXPLAIN QUERY PLAN {compiled}", tuple(bound.values())
            else:
                sql, args = f"EXPLAIN {compiled}", bound
            rows = conn.exec_driver_sql(sql, args).all()
            conn.rollback()
        # SQLite's rows are (id, parent, unused, detail); PostgreSQL's, one line of text each.
        return [str(row[-1]) for row in rows]

    def count(self, table: str, where: str = "TRUE") -> int:
        """The rows of ``table`` (that match the SQL condition ``where``)."""
        return int(self._select(f"SELECT count(*) FROM {table} WHERE {where}")[0][0])

    def _prefix(self) -> str:
        # Each call makes owners of its own, so a database can be loaded more than once.
        self._calls += 1
        return f"load{self._calls}"

    def task_instances(self, count: int) -> list[str]:
        """Make ``count`` task instances (ten per DAG run, all succeeded); their ids."""
        now = self._stamp(datetime.now(UTC))
        prefix = self._prefix()
        self._insert(
            "dag_run",
            ("dag_id", "run_id", "state", "created_at", "updated_at"),
            (
                ("scale_load", f"{prefix}_{r:07d}", "success", now, now)
                for r in range(-(-count // TASKS_PER_RUN))
            ),
        )
        ids = [str(uuid.uuid4()) for _ in range(count)]
        columns = (
            "id", "dag_id", "run_id", "task_id", "map_index", "state", "try_number",
            "max_tries", "retry_delay_seconds", "updated_at",
        )  # fmt: skip
        self._insert(
            "task_instance",
            columns,
            (
                (ti_id, "scale_load", f"{prefix}_{i // TASKS_PER_RUN:07d}",
                 f"t{i % TASKS_PER_RUN}", -1, "success", 1, 0, 0.0, now)
                for i, ti_id in enumerate(ids)
            ),
        )  # fmt: skip
        return ids

    def assets(self, names: Sequence[tuple[str, str]]) -> list[int]:
        """Make the assets named ``(name, uri)``; their ids, in the same order."""
        now = self._stamp(datetime.now(UTC))
        self._insert("asset", ("name", "uri", "created_at"), ((n, u, now) for n, u in names))
        ids = dict(self._select("SELECT name, id FROM asset"))
        return [ids[name] for name, _ in names]

    def loaded_scopes(self) -> tuple[TaskScope, AssetScope]:
        """The scopes of the task instance and of the asset loaded last, each holding rows."""
        ti = self._select(
            "SELECT dag_id, run_id, task_id, map_index FROM task_instance "
            "WHERE id = (SELECT max(ti_id) FROM task_state)"
        )[0]
        asset = self._select(
            "SELECT name FROM asset WHERE id = (SELECT max(asset_id) FROM asset_state)"
        )[0]
        return TaskScope(*ti), AssetScope(asset[0])

    def numbered_assets(self, count: int) -> list[int]:
        """Make ``count`` assets; their ids."""
        prefix = self._prefix()
        names = [f"scale_{prefix}_{i:07d}" for i in range(count)]
        return self.assets([(name, f"scale://{name}") for name in names])

    def state(
        self,
        kind: str,
        owners: Sequence[Any],
        first: int,
        stop: int,
        per_owner: int,
        *,
        expires_at: datetime | None = None,
        ref_every: int = 0,
        written_by: str | None = None,
    ) -> int:
        """Rows ``first`` to ``stop - 1`` of a numbering in which ``owners[n // per_owner]``
        holds row ``n`` as key ``key_<n % per_owner>``; ``expires_at`` and ``written_by`` on
        every row, and every ``ref_every``-th one (0: none) a reference of :data:`REF_BACKEND`."""
        table, owner_column = (
            ("task_state", "ti_id") if kind == "task" else ("asset_state", "asset_id")
        )
        now = self._stamp(datetime.now(UTC))
        expiry = None if expires_at is None else self._stamp(expires_at)

        def row(n: int) -> tuple[Any, ...]:
            is_ref = ref_every and n % ref_every == 0
            data, backend = (f"file:///bench/objects/{n}", REF_BACKEND) if is_ref else (VALUE, None)
            owner = owners[n // per_owner]
            return owner, f"key_{n % per_owner:07d}", data, backend, now, expiry, written_by

        columns = (owner_column, "key", "data", "ref_backend", "updated_at", "expires_at")
        return self._insert(table, (*columns, "written_by"), map(row, range(first, stop)))

    def settle(self) -> None:
        """Leave the database as a long-running one would be: statistics gathered on PostgreSQL
        (autovacuum would have), the write-ahead log checkpointed on SQLite."""
        with closing(self._raw.cursor()) as cursor:
            if self.dialect == "postgresql":
                self._raw.commit()
                self._raw.autocommit = True
                cursor.execute("VACUUM ANALYZE")
                self._raw.autocommit = False
            else:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._raw.commit()
