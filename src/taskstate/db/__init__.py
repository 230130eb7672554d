"""The metadata database: SQLAlchemy models, engines, and Alembic migrations.

Only the API server imports this package; workers never touch the database.
"""

from taskstate.db.engine import Database
from taskstate.db.migration import HEAD_REVISION, current_revision, ensure_schema, migrate

__all__ = ["HEAD_REVISION", "Database", "current_revision", "ensure_schema", "migrate"]
