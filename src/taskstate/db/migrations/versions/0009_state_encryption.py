"""Which key a state value is encrypted with.

* ``task_state.encryption`` and ``asset_state.encryption``: the id of the key the task process
  encrypted the value with (``[workers] encryption_keys``); NULL for a plain value. The marker
  lives beside the data, never inside the user's JSON.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("task_state", "asset_state")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("encryption", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "encryption")
