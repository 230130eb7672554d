"""The public surface of taskstate, pinned: a change to it must change this file too.

Like httpx's ``tests/test_exported_members.py``: every ``__all__`` is sorted (in ruff's
isort style, RUF022: SCREAMING_CASE, then CamelCase, then the rest), names only what the package
defines or re-exports, and is exactly the list below.
"""

from __future__ import annotations

from types import ModuleType

import pytest

import taskstate.errors
import taskstate.sdk
import taskstate.state

SURFACE: dict[ModuleType, list[str]] = {
    taskstate.state: [
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
    ],
    taskstate.sdk: [
        "DAG",
        "NEVER_EXPIRE",
        "AirflowException",
        "AirflowFailException",
        "AirflowSkipException",
        "AirflowTaskTimeout",
        "Asset",
        "AssetAlias",
        "AssetAll",
        "AssetAny",
        "AssetScope",
        "BaseBranchOperator",
        "BaseOperator",
        "BaseStoreBackend",
        "BashOperator",
        "BranchPythonOperator",
        "Context",
        "EmptyOperator",
        "Label",
        "MappedOperator",
        "Metadata",
        "Param",
        "ParamsDict",
        "PythonOperator",
        "ShortCircuitOperator",
        "StoreScope",
        "Task",
        "TaskGroup",
        "TaskScope",
        "TriggerRule",
        "XComArg",
        "asset",
        "chain",
        "chain_linear",
        "cross_downstream",
        "dag",
        "get_current_context",
        "setup",
        "task",
        "task_group",
        "teardown",
        "timezone",
    ],
    taskstate.errors: [
        "APIConnectionError",
        "AuthError",
        "BackendError",
        "BackendImportError",
        "BackendOptionError",
        "BodyTooLargeError",
        "CommsError",
        "ConfigError",
        "ConflictError",
        "ConnectionNotFoundError",
        "DagDefinitionError",
        "DecryptionError",
        "EncryptionKeyNotFoundError",
        "ForeignReferenceError",
        "InvalidEncryptionKeyError",
        "InvalidIdentifierError",
        "InvalidKeyError",
        "InvalidRetentionError",
        "InvalidValueError",
        "NotAuthenticatedError",
        "NotFoundError",
        "ParamValidationError",
        "PermissionDeniedError",
        "PreconditionFailedError",
        "PurgePendingError",
        "ReferenceResolutionError",
        "RuntimeFailure",
        "StaleTryError",
        "TaskFailed",
        "TaskStateError",
        "TemplateError",
        "UndeclaredAssetError",
        "UnknownAssetError",
        "UnmappableOutputError",
        "UnsupportedFeatureError",
        "UsageError",
        "ValueTooLargeError",
        "VariableNotFoundError",
        "VersionConflictError",
        "VersionsNotSupportedError",
        "VolatileBackendError",
        "error_class",
        "error_from_body",
    ],
}


def isort_style(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("module", list(SURFACE), ids=lambda m: m.__name__)
def test_exported_members(module: ModuleType) -> None:
    exported = module.__all__
    assert exported == sorted(exported, key=isort_style), f"{module.__name__}.__all__ is not sorted"
    assert exported == SURFACE[module]
    for name in exported:
        assert hasattr(module, name), f"{module.__name__} exports {name!r} but has no such member"


@pytest.mark.parametrize("module", list(SURFACE), ids=lambda m: m.__name__)
def test_public_members_are_exported(module: ModuleType) -> None:
    """Every public class or function the module defines is in ``__all__``."""
    defined = {
        name
        for name, member in vars(module).items()
        if not name.startswith("_")
        and isinstance(member, type | type(len) | type(test_exported_members))
        and getattr(member, "__module__", "").startswith(module.__name__)
    }
    assert defined <= set(module.__all__)
