"""The initial schema: DAG runs, task instances, assets, and task and asset state.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("dag_file", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )
    op.create_table(
        "task_instance",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Float(), nullable=False),
        _timestamp("started_at", nullable=True),
        _timestamp("ended_at", nullable=True),
        _timestamp("updated_at"),
        sa.Column("hostname", sa.String(250), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            name=op.f("fk_task_instance_dag_id_run_id_dag_run"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            name=op.f("uq_task_instance_dag_id_run_id_task_id_map_index"),
        ),
    )
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(1500), nullable=False),
        sa.Column("uri", sa.String(1500), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset")),
        sa.UniqueConstraint("name", name=op.f("uq_asset_name")),
        sa.UniqueConstraint("uri", name=op.f("uq_asset_uri")),
    )
    op.create_table(
        "task_instance_asset",
        sa.Column("ti_id", sa.String(36), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("ti_id", "asset_id", "role", name=op.f("pk_task_instance_asset")),
        sa.ForeignKeyConstraint(
            ["ti_id"],
            ["task_instance.id"],
            name=op.f("fk_task_instance_asset_ti_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_task_instance_asset_asset_id_asset")
        ),
        sa.CheckConstraint("role IN ('inlet', 'outlet')", name=op.f("ck_task_instance_asset_role")),
    )
    op.create_index(op.f("ix_task_instance_asset_asset_id"), "task_instance_asset", ["asset_id"])
    op.create_table(
        "task_state",
        sa.Column("ti_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ref_backend", sa.String(500), nullable=True),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("ti_id", "key", name=op.f("pk_task_state")),
        sa.ForeignKeyConstraint(
            ["ti_id"],
            ["task_instance.id"],
            name=op.f("fk_task_state_ti_id_task_instance"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "asset_state",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ref_backend", sa.String(500), nullable=True),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("asset_id", "key", name=op.f("pk_asset_state")),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_asset_state_asset_id_asset"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("asset_state")
    op.drop_table("task_state")
    op.drop_index(op.f("ix_task_instance_asset_asset_id"), table_name="task_instance_asset")
    op.drop_table("task_instance_asset")
    op.drop_table("asset")
    op.drop_table("task_instance")
    op.drop_table("dag_run")
