"""A version on every key of task and asset state.

* ``task_state.version``, ``asset_state.version``: assigned by the statement that writes the
  key, as the larger of the old version + 1 and the database's clock in microseconds, so a key
  deleted and created again never reuses a version. Rows from before start at 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("task_state", "asset_state")


def upgrade() -> None:
    # Not in batch mode: SQLite adds and (3.35+) drops a column in place, where a batch would
    # copy the table and lose its expression index (as in 0004).
    for table in _TABLES:
        op.add_column(
            table, sa.Column("version", sa.BigInteger(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "version")
