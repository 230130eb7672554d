"""The tables of the metadata database, as SQLAlchemy 2 declarative models.

The schema itself is created by the Alembic migrations in ``taskstate.db.migrations``; these
models describe it for queries. A test checks that the two agree.

State rows reference their owner by surrogate key (``task_instance.id``, ``asset.id``), so the
primary key of a state row is also the index that serves a whole scope: every query of the state
backend filters on a prefix of it.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "REF_PREFIX_CHARS",
    "RETURN_VALUE",
    "Asset",
    "AssetEvent",
    "AssetRole",
    "AssetState",
    "Base",
    "DagRun",
    "DagRunState",
    "PurgeEntry",
    "RequestReply",
    "TaskInstance",
    "TaskInstanceAlias",
    "TaskInstanceAsset",
    "TaskInstanceState",
    "TaskOutput",
    "TaskState",
    "UtcDateTime",
    "metadata",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the UTC wall time is stored
    and UTC is attached again on the way out. Naive datetimes are refused: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class DagRunState(enum.StrEnum):
    """Lifecycle of a DAG run."""

    CREATING = "creating"  # its task instances are being inserted; no reader sees it yet
    QUEUED = "queued"  # created, waiting for the runner to start it
    RUNNING = "running"  # the runner is scheduling its task instances
    SUCCESS = "success"  # every task instance succeeded
    FAILED = "failed"  # at least one task instance failed for good


class TaskInstanceState(enum.StrEnum):
    """Lifecycle of a task instance, across all its tries."""

    SCHEDULED = "scheduled"  # its upstream tasks are done; it may be queued
    QUEUED = "queued"  # handed to a supervisor, not yet running
    RUNNING = "running"  # a supervisor runs a try of it
    SUCCESS = "success"  # a try succeeded
    FAILED = "failed"  # the last try failed and no retries are left
    UP_FOR_RETRY = "up_for_retry"  # a try failed; another will start after the retry delay
    UPSTREAM_FAILED = "upstream_failed"  # an upstream task failed, so it never runs
    SKIPPED = "skipped"  # its try skipped itself, or it never runs (an empty mapping, a skip)


class AssetRole(enum.StrEnum):
    """How a task declares an asset."""

    INLET = "inlet"  # the task reads the asset
    OUTLET = "outlet"  # the task writes the asset


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime()}


class DagRun(Base):
    __tablename__ = "dag_run"
    __table_args__ = (UniqueConstraint("dag_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    state: Mapped[str] = mapped_column(String(20), default=DagRunState.QUEUED)
    dag_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None]
    logical_date: Mapped[datetime | None]
    data_interval_start: Mapped[datetime | None]
    data_interval_end: Mapped[datetime | None]
    conf: Mapped[str | None] = mapped_column(Text)
    """The JSON text of the run's configuration (``dags test --conf``); NULL: none given."""
    end_reason: Mapped[str | None] = mapped_column(Text)
    """Why the run ended as it did, when that needs saying (``interrupted``); NULL otherwise."""


class TaskInstance(Base):
    __tablename__ = "task_instance"
    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """The ``ti_id``: a uuid string made by the application, the same across all tries."""
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    task_id: Mapped[str] = mapped_column(String(250))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[str] = mapped_column(String(20), default=TaskInstanceState.SCHEDULED)
    try_number: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=0)
    retry_delay_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    hostname: Mapped[str | None] = mapped_column(String(250))
    pid: Mapped[int | None] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    """The task's retries: a cleared instance gets this many more tries than it has had."""
    end_reason: Mapped[str | None] = mapped_column(Text)
    """Why the last try ended as it did (the supervisor's or the runner's words); NULL: none."""


class Asset(Base):
    __tablename__ = "asset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(1500), unique=True)
    uri: Mapped[str] = mapped_column(String(1500), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskInstanceAsset(Base):
    """An asset that a task instance declares as an inlet or an outlet."""

    __tablename__ = "task_instance_asset"
    __table_args__ = (CheckConstraint("role IN ('inlet', 'outlet')", name="role"),)

    ti_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_instance.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("asset.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10), primary_key=True)


class TaskInstanceAlias(Base):
    """An asset alias that a task instance declares as an outlet: events added through it may
    name any asset, registered when first named."""

    __tablename__ = "task_instance_alias"

    ti_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(1500), primary_key=True)


class TaskState(Base):
    """One key of a task instance's state.

    ``data`` is the value's JSON text when ``ref_backend`` is NULL, else a reference written by
    the worker backend whose class path ``ref_backend`` holds.
    """

    __tablename__ = "task_state"

    ti_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_instance.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    ref_backend: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime | None]
    """When the key stops being visible; NULL: never."""
    written_by: Mapped[str | None] = mapped_column(Text)
    """Who wrote the key last (a task instance's try, or the public API), as JSON text."""
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    """Assigned by every write: max(old + 1, the clock in µs), never reused (migration 0008)."""
    encryption: Mapped[str | None] = mapped_column(String(64))
    """The id of the key the task process encrypted the value with; NULL: plain (migration 0009)."""


class AssetState(Base):
    """One key of an asset's state; the columns but the owner's as in :class:`TaskState`."""

    __tablename__ = "asset_state"

    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("asset.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    ref_backend: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime | None]
    written_by: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    encryption: Mapped[str | None] = mapped_column(String(64))


REF_PREFIX_CHARS = 512
"""Characters of a reference the reference indexes hold (migration 0003)."""


def _reference_index(table: type[TaskState] | type[AssetState]) -> Index:
    """Finds the rows that hold a given reference; rows with inline values are not indexed."""
    is_ref = table.ref_backend.is_not(None)
    return Index(
        f"ix_{table.__tablename__}_ref",
        table.ref_backend,
        func.substr(table.data, 1, REF_PREFIX_CHARS),
        sqlite_where=is_ref,
        postgresql_where=is_ref,
    )


_reference_index(TaskState)
_reference_index(AssetState)


def _expiry_index(table: type[TaskState] | type[AssetState]) -> Index:
    """Finds the expired rows in expiry order; rows that never expire are not indexed."""
    expiring = table.expires_at.is_not(None)
    return Index(
        f"ix_{table.__tablename__}_expires_at",
        table.expires_at,
        sqlite_where=expiring,
        postgresql_where=expiring,
    )


_expiry_index(TaskState)
_expiry_index(AssetState)


RETURN_VALUE = "return_value"
"""The XCom key of a task's return value (its output)."""


class TaskOutput(Base):
    """An XCom of a task instance: a JSON value under a key. The return value, keyed
    :data:`RETURN_VALUE`, is the output passed to the tasks that take it."""

    __tablename__ = "task_output"

    ti_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_instance.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(
        String(512), primary_key=True, server_default=RETURN_VALUE, default=RETURN_VALUE
    )
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AssetEvent(Base):
    """An event a task instance recorded on an asset it writes (``outlet_events``,
    ``yield Metadata(...)``); later tasks read them through ``inlet_events``.

    The source is kept as plain ids, not a foreign key: an asset's history outlives its runs.
    """

    __tablename__ = "asset_event"
    __table_args__ = (Index("ix_asset_event_asset_id_id", "asset_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("asset.id", ondelete="CASCADE"))
    extra: Mapped[str] = mapped_column(Text)
    """The event's extra, a JSON object as text."""
    source_ti_id: Mapped[str | None] = mapped_column(String(36))
    source_dag_id: Mapped[str | None] = mapped_column(String(250))
    source_run_id: Mapped[str | None] = mapped_column(String(250))
    source_task_id: Mapped[str | None] = mapped_column(String(250))
    source_map_index: Mapped[int] = mapped_column(Integer, default=-1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurgeEntry(Base):
    """A reference that a row stopped naming (queued by a trigger on the state tables, or by
    the API server for a backend outside the database): its object waits here until a purge
    removes it, and the entry then stays a while as a tombstone."""

    __tablename__ = "purge_queue"
    __table_args__ = (CheckConstraint("kind IN ('task', 'asset')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    """``task`` or ``asset``: which purge hook removes the object."""
    ref: Mapped[str] = mapped_column(Text)
    ref_backend: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner: Mapped[str | None] = mapped_column(Text)
    """The scope the reference came from: its task instance's id, or its asset's name."""
    key: Mapped[str | None] = mapped_column(String(512))
    claim: Mapped[str | None] = mapped_column(String(36), index=True)
    """The purger that holds the object while it removes it; see ``taskstate.api.purge``."""
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)
    """When the claim lapses, in seconds since the epoch."""
    purged_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """Set once the object is gone (the entry is then a tombstone): the order of the purge."""


# Entries by reference (a set meets the purges of its reference) and by scope and key (a set
# claims what it replaced); prefixes keep the entries within PostgreSQL's B-tree row limit.
Index("ix_purge_queue_ref", func.substr(PurgeEntry.ref, 1, REF_PREFIX_CHARS))
Index("ix_purge_queue_key_owner", PurgeEntry.key, func.substr(PurgeEntry.owner, 1, 200))


class RequestReply(Base):
    """The reply to a request that carried an ``Idempotency-Key``, kept to answer its repeats.

    See ``taskstate.api.replies``.
    """

    __tablename__ = "request_reply"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    caller: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the request's Authorization header: replies go to their caller only."""
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
