"""Indexes that find a stored reference by its text.

The purge queue and ``taskstate state purge --orphans`` ask whether a reference is still
stored: an object whose reference was written again must not be purged. Only rows holding a
reference are indexed (a partial index), on the backend and the reference's first
:data:`REF_PREFIX_CHARS` characters, so the entry stays within PostgreSQL's B-tree row limit
whatever the reference holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REF_PREFIX_CHARS = 512

_TABLES = ("task_state", "asset_state")


def upgrade() -> None:
    for table in _TABLES:
        is_ref = sa.text("ref_backend IS NOT NULL")
        op.create_index(
            f"ix_{table}_ref",
            table,
            ["ref_backend", sa.text(f"substr(data, 1, {REF_PREFIX_CHARS})")],
            sqlite_where=is_ref,
            postgresql_where=is_ref,
        )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_ref", table_name=table)
