"""The models on a migrated database: UTC timestamps, constraints, cascades."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, StatementError

from taskstate.db import Database, ensure_schema
from taskstate.db.models import (
    Asset,
    AssetRole,
    AssetState,
    DagRun,
    DagRunState,
    TaskInstance,
    TaskInstanceAsset,
    TaskInstanceState,
    TaskState,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Database]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    database = Database(url)
    ensure_schema(database)
    yield database
    database.dispose()


def _run_with_task(database: Database) -> tuple[str, str]:
    run_id = f"run_{uuid.uuid4().hex}"
    ti_id = str(uuid.uuid4())
    with database.session_factory.begin() as session:
        session.add(DagRun(dag_id="dag", run_id=run_id, state=DagRunState.RUNNING))
        session.flush()
        session.add(TaskInstance(id=ti_id, dag_id="dag", run_id=run_id, task_id="t"))
    return run_id, ti_id


def test_defaults_and_utc_timestamps(database: Database) -> None:
    run_id, ti_id = _run_with_task(database)
    ended = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    with database.session_factory.begin() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
        run.ended_at = ended
    with database.session_factory() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
        ti = session.get(TaskInstance, ti_id)
        assert ti is not None
    assert run.state == DagRunState.RUNNING
    assert run.ended_at == ended
    assert run.ended_at is not None
    assert run.ended_at.tzinfo == UTC
    assert run.created_at.tzinfo == UTC
    assert abs(run.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert (ti.map_index, ti.try_number, ti.max_tries, ti.retry_delay_seconds) == (-1, 0, 0, 0)
    assert ti.state == TaskInstanceState.SCHEDULED
    assert ti.updated_at.tzinfo == UTC


def test_naive_datetimes_are_refused(database: Database) -> None:
    run_id, _ = _run_with_task(database)
    with database.session_factory() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
        run.ended_at = datetime(2026, 1, 1)
        with pytest.raises(StatementError, match="naive datetime"):
            session.commit()


def test_task_instance_needs_its_dag_run(database: Database) -> None:
    with pytest.raises(IntegrityError), database.session_factory.begin() as session:
        session.add(TaskInstance(id=str(uuid.uuid4()), dag_id="d", run_id="none", task_id="t"))


def test_asset_role_is_checked(database: Database) -> None:
    _, ti_id = _run_with_task(database)
    with database.session_factory.begin() as session:
        asset = Asset(name=f"a_{uuid.uuid4().hex}", uri=f"s3://b/{uuid.uuid4().hex}")
        session.add(asset)
        session.flush()
        asset_id = asset.id
        session.add(TaskInstanceAsset(ti_id=ti_id, asset_id=asset_id, role=AssetRole.INLET))
    with pytest.raises(IntegrityError), database.session_factory.begin() as session:
        session.add(TaskInstanceAsset(ti_id=ti_id, asset_id=asset_id, role="sideways"))


def test_deleting_a_run_cascades_to_its_state(database: Database) -> None:
    run_id, ti_id = _run_with_task(database)
    with database.session_factory.begin() as session:
        session.add(TaskState(ti_id=ti_id, key="k", data="1"))
    with database.session_factory.begin() as session:
        session.execute(delete(DagRun).where(DagRun.run_id == run_id))
    with database.session_factory() as session:
        assert session.get(TaskInstance, ti_id) is None
        count = session.scalar(
            select(func.count()).select_from(TaskState).where(TaskState.ti_id == ti_id)
        )
        assert count == 0


def test_deleting_an_asset_cascades_to_its_state(database: Database) -> None:
    with database.session_factory.begin() as session:
        asset = Asset(name=f"a_{uuid.uuid4().hex}", uri=f"s3://b/{uuid.uuid4().hex}")
        session.add(asset)
        session.flush()
        asset_id = asset.id
        session.add(AssetState(asset_id=asset_id, key="k", data="1", ref_backend="x.B"))
    with database.session_factory.begin() as session:
        session.execute(delete(Asset).where(Asset.id == asset_id))
    with database.session_factory() as session:
        assert session.get(AssetState, (asset_id, "k")) is None
