"""What Airflow DAG files need of a run: dates and conf, XCom keys, asset events.

* ``dag_run``: ``logical_date``, ``data_interval_start``, ``data_interval_end`` (NULL for a run
  without one) and ``conf`` (the JSON text of the run's configuration, NULL: none given).
* ``task_output`` becomes a task instance's XCom: ``key`` joins the primary key, and a task's
  return value is the row keyed ``return_value`` (the rows written before keep that key).
* ``asset_event``: an event a task recorded on an asset it writes, with its extra (JSON text)
  and the task instance that recorded it. The source is kept as plain ids, not a foreign key,
  so that an asset's history outlives the runs that made it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_DATES = ("logical_date", "data_interval_start", "data_interval_end")


def upgrade() -> None:
    for column in _RUN_DATES:
        op.add_column("dag_run", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.add_column("dag_run", sa.Column("conf", sa.Text(), nullable=True))
    with op.batch_alter_table("task_output") as batch:
        batch.add_column(
            sa.Column("key", sa.String(512), nullable=False, server_default="return_value")
        )
        batch.drop_constraint("pk_task_output", type_="primary")
        batch.create_primary_key("pk_task_output", ["ti_id", "key"])
    op.create_table(
        "asset_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column("source_ti_id", sa.String(36), nullable=True),
        sa.Column("source_dag_id", sa.String(250), nullable=True),
        sa.Column("source_run_id", sa.String(250), nullable=True),
        sa.Column("source_task_id", sa.String(250), nullable=True),
        sa.Column("source_map_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_asset_event_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_event")),
    )
    op.create_index("ix_asset_event_asset_id_id", "asset_event", ["asset_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_asset_event_asset_id_id", table_name="asset_event")
    op.drop_table("asset_event")
    op.execute("DELETE FROM task_output WHERE key != 'return_value'")
    with op.batch_alter_table("task_output") as batch:
        batch.drop_constraint("pk_task_output", type_="primary")
        batch.create_primary_key("pk_task_output", ["ti_id"])
        batch.drop_column("key")
    op.drop_column("dag_run", "conf")
    for column in reversed(_RUN_DATES):
        op.drop_column("dag_run", column)
