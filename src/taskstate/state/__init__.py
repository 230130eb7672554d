"""The domain of taskstate: scopes, stored values, the backend interface, the value codec.

This layer does no I/O and imports nothing above it; the task process, the supervisor and the
API server all build on it.
"""

from taskstate.state.backend import BaseStateBackend, ListableBackend
from taskstate.state.store_backend import BaseStoreBackend, StoreScope
from taskstate.state.types import (
    AssetScope,
    ExpiredBatch,
    JSONValue,
    StateEntry,
    StateScope,
    StoredValue,
    TaskScope,
)

__all__ = [
    "AssetScope",
    "BaseStateBackend",
    "BaseStoreBackend",
    "ExpiredBatch",
    "JSONValue",
    "ListableBackend",
    "StateEntry",
    "StateScope",
    "StoreScope",
    "StoredValue",
    "TaskScope",
]
