"""The one error hierarchy of taskstate.

Every error that crosses a boundary (HTTP between supervisor and API server, a frame between
task process and supervisor) travels as ``{code, message, detail}`` and is raised again on the
far side as the same class, found by its ``code``::

    TaskStateError                       (base; never raised directly)
    ├── UsageError                       the caller asked for something invalid; nothing changed
    │   ├── InvalidKeyError              empty, over-long or malformed key          400
    │   ├── InvalidValueError            None, NaN, not JSON-serializable           400
    │   │   ├── ValueTooLargeError       over [state_store] max_value_bytes         413
    │   │   ├── BodyTooLargeError        a request body over [api] max_body_bytes   413
    │   │   └── UnmappableOutputError    not a list, or over max_map_length         400
    │   ├── InvalidRetentionError        a retention that is not a positive duration 400
    │   ├── InvalidIdentifierError       malformed dag_id, run_id, task_id, asset   400
    │   ├── NotFoundError                no such DAG run or task instance           404
    │   │   ├── UnknownAssetError        no asset of that name or uri               404
    │   │   ├── VariableNotFoundError    no such variable (also a KeyError)         404
    │   │   └── ConnectionNotFoundError  no such connection (also a KeyError)       404
    │   ├── UndeclaredAssetError         the task does not declare the asset        403
    │   ├── ConflictError                already exists, or in the wrong state      409
    │   │   ├── StaleTryError            the token's try has ended or been overtaken 409
    │   │   ├── VersionConflictError     a key is not at the version the write named 409
    │   │   └── PurgePendingError        a purge holds, or just removed, the object 409
    │   ├── PreconditionFailedError      an If-Match / If-None-Match that fails      412
    │   ├── VersionsNotSupportedError    a version asked of a backend without them  400
    │   ├── DagDefinitionError           a DAG file that cannot be used             400
    │   │   └── UnsupportedFeatureError  an Airflow feature taskstate does not build 400
    │   ├── ParamValidationError         a param value its JSON Schema refuses      400
    │   └── TemplateError                a templated field that cannot be rendered  400
    ├── ConfigError                      a setting that cannot be used               500
    │   ├── BackendImportError           a backend class path that cannot be loaded
    │   │   └── BackendOptionError       a backend option the backend does not take
    │   ├── VolatileBackendError         a backend that would not keep acknowledged writes
    │   └── InvalidEncryptionKeyError    [workers] encryption_keys that cannot be used
    ├── AuthError
    │   ├── NotAuthenticatedError        no credentials, bad or expired token        401
    │   └── PermissionDeniedError        valid credentials used outside their scope  403
    └── RuntimeFailure                   something broke while doing a valid thing
        ├── BackendError                 a storage backend failed                    503
        ├── ReferenceResolutionError     a stored reference that cannot be resolved  500
        │   └── ForeignReferenceError    a reference naming another scope's object   403
        ├── EncryptionKeyNotFoundError   a value encrypted with a key id not configured 500
        ├── DecryptionError              a ciphertext that fails authentication      500
        ├── APIConnectionError           the API server cannot be reached            503
        ├── CommsError                   the task/supervisor socket broke            500
        └── TaskFailed                   a task instance ended in failure            500

Usage errors are a separate root from runtime failures, so callers can tell "fix your input"
from "try again later". Driver exceptions (SQLAlchemy, redis, httpx, fsspec) are translated
into this hierarchy once, in the module that calls the driver, and raised ``from`` the original.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
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
]


class TaskStateError(Exception):
    """Base of every taskstate error.

    ``code`` names the class on the wire, ``status`` is the HTTP status the API answers with,
    ``detail`` carries machine-readable context (the key, the limit, the scope, ...).
    """

    code: ClassVar[str] = "taskstate_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = detail or {}

    def to_body(self) -> dict[str, Any]:
        """The ``{code, message, detail}`` form this error travels in."""
        return {"code": self.code, "message": self.message, "detail": self.detail}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.detail))


def _rebuild(cls: type[TaskStateError], message: str, detail: dict[str, Any]) -> TaskStateError:
    return cls(message, detail=detail)


class UsageError(TaskStateError):
    """The caller asked for something invalid. Nothing stored was changed."""

    code = "usage_error"
    status = 400


class InvalidKeyError(UsageError):
    code = "invalid_key"


class InvalidValueError(UsageError):
    code = "invalid_value"


class ValueTooLargeError(InvalidValueError):
    code = "value_too_large"
    status = 413


class BodyTooLargeError(InvalidValueError):
    """A request body over ``[api] max_body_bytes``, refused before more of it is read."""

    code = "body_too_large"
    status = 413


class UnmappableOutputError(InvalidValueError):
    """``task.expand(x=upstream())`` where the upstream output is not a list, or a mapping
    that would make more task instances than ``[workers] max_map_length``."""

    code = "unmappable_output"


class InvalidRetentionError(UsageError):
    """A retention that is neither a positive ``timedelta`` nor ``NEVER_EXPIRE``, or one given
    to a server-side backend that cannot expire keys."""

    code = "invalid_retention"


class InvalidIdentifierError(UsageError):
    code = "invalid_identifier"


class NotFoundError(UsageError):
    code = "not_found"
    status = 404


class UnknownAssetError(NotFoundError):
    code = "unknown_asset"


class _KeyErrorMixin(KeyError):
    """A not-found error that ``except KeyError`` catches too, as Airflow's lookups raise."""

    def __str__(self) -> str:
        # KeyError's own __str__ would quote the message.
        return str(self.args[0]) if self.args else ""


class VariableNotFoundError(NotFoundError, _KeyErrorMixin):
    """``var.value.NAME`` / ``var.json.NAME`` in a task: no ``AIRFLOW_VAR_NAME`` or
    ``TASKSTATE_VAR_NAME`` in the task's environment."""

    code = "variable_not_found"


class ConnectionNotFoundError(NotFoundError, _KeyErrorMixin):
    """``conn.NAME`` in a task: no ``AIRFLOW_CONN_NAME`` or ``TASKSTATE_CONN_NAME`` in the
    task's environment."""

    code = "connection_not_found"


class UndeclaredAssetError(UsageError):
    code = "asset_not_declared"
    status = 403


class ConflictError(UsageError):
    code = "conflict"
    status = 409


class StaleTryError(ConflictError):
    """The token's try has ended, or a later try of its task instance has been queued or
    started: the earlier try can change nothing any more. ``detail`` names the try of the token
    (``token_try_number``) and the task instance's current one."""

    code = "stale_try"


class VersionConflictError(ConflictError):
    """A compare-and-set found the key at another version than the one it named (``0``: the
    key must not exist). ``detail["current_version"]`` is the version found, 0 if none."""

    code = "version_conflict"


class PurgePendingError(ConflictError):
    """A set whose reference names an object that a purge holds a claim on, or removed after
    the object may have been written: the writer stores its object again and retries, naming
    the purges it has seen (``detail["purged_through"]``). ``detail["claimed"]`` tells whether
    a purge still holds the object (wait before retrying) or has finished (retry at once)."""

    code = "purge_pending"


class PreconditionFailedError(UsageError):
    """The public API's ``If-Match`` or ``If-None-Match`` does not hold for the key; nothing
    changed. ``detail["current_version"]`` is the key's version, 0 if it does not exist."""

    code = "precondition_failed"
    status = 412


class VersionsNotSupportedError(UsageError):
    """A version was asked of a state backend that does not keep versions."""

    code = "versions_not_supported"


class DagDefinitionError(UsageError):
    code = "dag_definition"


class UnsupportedFeatureError(DagDefinitionError):
    """A DAG file uses an Airflow feature (a name, an option, a value) that taskstate does not
    build and that would change what runs; ``detail["feature"]`` names it."""

    code = "unsupported_feature"


class ParamValidationError(UsageError, ValueError):
    """A DAG or task param whose value (its default, or the run's ``--conf``) its JSON Schema
    refuses, or a required param without a value. Also a ValueError, as Airflow's is."""

    code = "param_validation"


class TemplateError(UsageError):
    """A templated field of a task that cannot be rendered: a Jinja syntax error, an undefined
    name, a template file not found on the DAG's search path."""

    code = "template_error"


class ConfigError(TaskStateError):
    """A setting is malformed or names something that cannot be used."""

    code = "config_error"
    status = 500


class BackendImportError(ConfigError):
    code = "backend_import"


class BackendOptionError(BackendImportError):
    """A backend option (``[state_store] backend_kwargs``, ``[workers] state_backend_kwargs``)
    that the backend does not take, refused before anything is built instead of being ignored.

    ``detail``: ``setting`` (the kwargs setting), ``option``, ``suggestion`` (the closest
    accepted name, or None) and ``accepted`` (the names the backend takes).
    """

    code = "backend_option"


class VolatileBackendError(ConfigError):
    """A server-side backend whose storage would lose acknowledged writes on a restart (a Redis
    without AOF or RDB persistence), refused at start unless its ``allow_volatile`` option says
    that is intended."""

    code = "volatile_backend"


class InvalidEncryptionKeyError(ConfigError):
    """``[workers] encryption_keys`` (or the file ``encryption_keys_file`` names) that cannot be
    used: an entry that is not ``id:base64key``, a key that is not 32 bytes (AES-256), a
    repeated id, or a keys file that others than its owner may read.

    ``detail``: ``setting`` and, where one entry is at fault, its ``key_id``; never a key.
    """

    code = "invalid_encryption_key"


class AuthError(TaskStateError):
    code = "auth_error"
    status = 401


class NotAuthenticatedError(AuthError):
    code = "not_authenticated"
    status = 401


class PermissionDeniedError(AuthError):
    code = "permission_denied"
    status = 403


class RuntimeFailure(TaskStateError):
    """Something failed while doing a valid thing; retrying may help."""

    code = "runtime_failure"
    status = 500


class BackendError(RuntimeFailure):
    code = "backend_error"
    status = 503


class ReferenceResolutionError(RuntimeFailure):
    code = "reference_resolution"


class ForeignReferenceError(ReferenceResolutionError):
    """A stored reference that names an object of another scope (another task instance, another
    key or asset): refused on read and on purge, whoever wrote it, so no scope can read or
    destroy another's value by planting its name."""

    code = "foreign_reference"
    status = 403


class EncryptionKeyNotFoundError(RuntimeFailure):
    """A value is encrypted with a key id that ``[workers] encryption_keys`` does not hold (or
    no keys are configured where it is read). ``detail``: ``key`` and ``key_id``."""

    code = "encryption_key_not_found"


class DecryptionError(RuntimeFailure):
    """A ciphertext that fails authentication: tampered with, or moved to another key or
    scope than the one it was written for. ``detail``: ``key`` and ``key_id``."""

    code = "decryption_failed"


class APIConnectionError(RuntimeFailure):
    code = "api_connection"
    status = 503


class CommsError(RuntimeFailure):
    code = "comms_error"


class TaskFailed(RuntimeFailure):
    code = "task_failed"


def _all_subclasses(cls: type[TaskStateError]) -> list[type[TaskStateError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_class(code: str) -> type[TaskStateError]:
    """The error class whose ``code`` is ``code``; the base class for codes not known here."""
    for cls in _all_subclasses(TaskStateError):
        if cls.code == code:
            return cls
    return TaskStateError


def error_from_body(body: Any, *, fallback_message: str = "unknown error") -> TaskStateError:
    """Rebuild the error described by a ``{code, message, detail}`` body."""
    if not isinstance(body, dict):
        return RuntimeFailure(fallback_message)
    code = body.get("code")
    message = body.get("message")
    detail = body.get("detail")
    cls = error_class(code) if isinstance(code, str) else RuntimeFailure
    return cls(
        message if isinstance(message, str) else fallback_message,
        detail=detail if isinstance(detail, dict) else None,
    )
