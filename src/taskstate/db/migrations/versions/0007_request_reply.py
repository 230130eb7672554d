"""Replies kept per idempotency key; why runs and tries ended; a task's retries.

* ``request_reply``: the reply to a POST or PATCH that carried an ``Idempotency-Key``, so that
  a client retrying it after a lost answer gets the same reply instead of a second effect.
* ``dag_run.end_reason`` and ``task_instance.end_reason``: why a run or a try ended
  (``interrupted`` when ``dags test`` was stopped).
* ``task_instance.retries``: the task's retries, so that a cleared instance gets them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_reply",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_request_reply")),
    )
    op.create_index(op.f("ix_request_reply_created_at"), "request_reply", ["created_at"])
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("end_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("task_instance") as batch:
        batch.add_column(sa.Column("end_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
    # Until now a task's retries were only kept as its instances' max_tries.
    op.execute("UPDATE task_instance SET retries = max_tries")


def downgrade() -> None:
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("retries")
        batch.drop_column("end_reason")
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("end_reason")
    op.drop_index(op.f("ix_request_reply_created_at"), table_name="request_reply")
    op.drop_table("request_reply")
