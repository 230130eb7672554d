"""Purges that can never remove an object a live reference names.

* ``purge_queue`` gains the scope an entry came from (``owner``: the task instance id or the
  asset name, and ``key``), so a purge can refuse a reference that names another scope's
  object; a ``claim`` with its deadline (``claimed_until``, seconds since the epoch), held by
  the purger while it removes the object; and, once the object is gone, ``purged_seq``, a
  number from one sequence that orders every finished purge (the entry stays as a tombstone).
* Triggers on ``task_state`` and ``asset_state`` queue the reference a row held whenever an
  update replaces it or a delete removes the row, in the statement that does it: every path
  (a task's set, delete and clear, the public API, clean-up, run deletion, ``clear_on_success``,
  a cascade) queues what it replaced in its own transaction, and none can forget to.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REF_PREFIX_CHARS = 512

# (table, kind, the owner's value for a row OLD)
_OWNERS = (
    ("task_state", "task", "OLD.ti_id"),
    ("asset_state", "asset", "(SELECT name FROM asset WHERE asset.id = OLD.asset_id)"),
)
_REPLACED = (
    "OLD.ref_backend IS NOT NULL AND (NEW.ref_backend IS NULL "
    "OR NEW.ref_backend <> OLD.ref_backend OR NEW.data <> OLD.data)"
)


def upgrade() -> None:
    with op.batch_alter_table("purge_queue") as batch:
        batch.add_column(sa.Column("owner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("key", sa.String(512), nullable=True))
        batch.add_column(sa.Column("claim", sa.String(36), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("purged_seq", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_purge_queue_ref", "purge_queue", [sa.text(f"substr(ref, 1, {REF_PREFIX_CHARS})")]
    )
    op.create_index("ix_purge_queue_claim", "purge_queue", ["claim"])
    op.create_index(
        "ix_purge_queue_key_owner", "purge_queue", ["key", sa.text("substr(owner, 1, 200)")]
    )
    op.create_index("ix_purge_queue_purged_seq", "purge_queue", ["purged_seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE purge_seq")
        for table, kind, owner in _OWNERS:
            _postgresql_triggers(table, kind, owner)
    else:
        for table, kind, owner in _OWNERS:
            _sqlite_triggers(table, kind, owner)


def _insert(kind: str, owner: str, now: str) -> str:
    return (
        "INSERT INTO purge_queue (kind, ref, ref_backend, owner, key, created_at) "
        f"VALUES ('{kind}', OLD.data, OLD.ref_backend, {owner}, OLD.key, {now})"
    )


def _sqlite_triggers(table: str, kind: str, owner: str) -> None:
    insert = _insert(kind, owner, "strftime('%Y-%m-%d %H:%M:%S', 'now')")
    op.execute(
        f"CREATE TRIGGER {table}_queue_replaced AFTER UPDATE ON {table} "
        f"WHEN {_REPLACED} BEGIN {insert}; END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_queue_removed AFTER DELETE ON {table} "
        f"WHEN OLD.ref_backend IS NOT NULL BEGIN {insert}; END"
    )


def _postgresql_triggers(table: str, kind: str, owner: str) -> None:
    op.execute(
        f"CREATE FUNCTION {table}_queue_ref() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_insert(kind, owner, 'now()')}; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_queue_replaced AFTER UPDATE ON {table} "
        f"FOR EACH ROW WHEN ({_REPLACED}) EXECUTE FUNCTION {table}_queue_ref()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_queue_removed AFTER DELETE ON {table} "
        f"FOR EACH ROW WHEN (OLD.ref_backend IS NOT NULL) EXECUTE FUNCTION {table}_queue_ref()"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, _, _ in _OWNERS:
        for trigger in ("queue_replaced", "queue_removed"):
            op.execute(f"DROP TRIGGER {table}_{trigger}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {table}_queue_ref()")
    if postgresql:
        op.execute("DROP SEQUENCE purge_seq")
    op.drop_index("ix_purge_queue_purged_seq", table_name="purge_queue")
    op.drop_index("ix_purge_queue_key_owner", table_name="purge_queue")
    op.drop_index("ix_purge_queue_claim", table_name="purge_queue")
    op.drop_index("ix_purge_queue_ref", table_name="purge_queue")
    with op.batch_alter_table("purge_queue") as batch:
        for column in ("purged_seq", "claimed_until", "claim", "key", "owner"):
            batch.drop_column(column)
