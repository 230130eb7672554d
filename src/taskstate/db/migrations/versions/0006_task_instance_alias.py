"""The asset aliases a task instance declares as outlets.

* ``task_instance_alias``: one row per alias a task instance declares as an outlet. An event
  the try adds through such an alias may name any asset (registered then if it is new), as in
  Airflow 3; a token can add events through no other alias.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_instance_alias",
        sa.Column("ti_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(1500), nullable=False),
        sa.ForeignKeyConstraint(
            ["ti_id"],
            ["task_instance.id"],
            name=op.f("fk_task_instance_alias_ti_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ti_id", "name", name=op.f("pk_task_instance_alias")),
    )


def downgrade() -> None:
    op.drop_table("task_instance_alias")
