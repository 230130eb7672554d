"""Retention, provenance and task outputs.

* ``expires_at`` on both state tables: when a key stops being visible (NULL: never). A partial
  index holds only the rows that expire, ordered by when, so the clean-up finds a batch of
  expired rows without reading the others.
* ``written_by`` on both state tables: who wrote the key last (a task instance's try, or the
  public API), as JSON text.
* ``task_output``: the JSON return value of a task instance, read by its downstream tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("task_state", "asset_state")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("written_by", sa.Text(), nullable=True))
        expiring = sa.text("expires_at IS NOT NULL")
        op.create_index(
            f"ix_{table}_expires_at",
            table,
            ["expires_at"],
            sqlite_where=expiring,
            postgresql_where=expiring,
        )
    op.create_table(
        "task_output",
        sa.Column("ti_id", sa.String(36), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ti_id"],
            ["task_instance.id"],
            name=op.f("fk_task_output_ti_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ti_id", name=op.f("pk_task_output")),
    )


def downgrade() -> None:
    op.drop_table("task_output")
    for table in _TABLES:
        op.drop_index(f"ix_{table}_expires_at", table_name=table)
        # Not in batch mode: SQLite (3.35+) drops a column in place, where a batch would copy
        # the table and lose the expression index of migration 0003, which it cannot reflect.
        op.drop_column(table, "written_by")
        op.drop_column(table, "expires_at")
