"""Validation of keys, values and identifiers, and the JSON codec of values.

The same checks run in the task process (so a bad call fails before any I/O) and in the API
server (which never trusts its callers). They do no I/O.
"""

from __future__ import annotations

import math
import re
from typing import Any, cast

import msgspec

from taskstate.errors import (
    InvalidIdentifierError,
    InvalidKeyError,
    InvalidValueError,
    ValueTooLargeError,
)
from taskstate.state.types import JSONValue

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "MAX_KEY_LENGTH",
    "MAX_REF_LENGTH",
    "check_size",
    "decode_value",
    "encode_value",
    "validate_asset_name",
    "validate_dag_id",
    "validate_encoded_value",
    "validate_key",
    "validate_ref",
    "validate_run_id",
    "validate_task_id",
    "validate_value",
]

MAX_KEY_LENGTH = 512
MAX_REF_LENGTH = 4096
MAX_ASSET_NAME_LENGTH = 1500
DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
# Deeper than any real document; a list or dict that contains itself is caught here.
MAX_DEPTH = 256

# Control characters, and lone surrogates: no UTF-8 text (so no key on the wire) holds one.
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_DAG_OR_TASK_ID = re.compile(r"[A-Za-z0-9_.\-]{1,250}")
_RUN_ID = re.compile(r"[A-Za-z0-9_.:+\-@~]{1,250}")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def validate_key(key: object) -> str:
    """Return ``key`` if it can name a state entry, else raise :class:`InvalidKeyError`."""
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"a state key must be a string, not {type(key).__name__}",
            detail={"type": type(key).__name__},
        )
    if not key:
        raise InvalidKeyError("a state key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"a state key must be at most {MAX_KEY_LENGTH} characters, this one has {len(key)}",
            detail={"length": len(key), "limit": MAX_KEY_LENGTH},
        )
    if _CONTROL.search(key):
        raise InvalidKeyError(
            f"a state key must not contain control characters or lone surrogates: {key!r}",
            detail={"key": key.encode("utf-8", "backslashreplace").decode()},
        )
    return key


def validate_ref(ref: object) -> str:
    """Return ``ref`` if it can be stored as a reference, else raise :class:`InvalidValueError`."""
    if not isinstance(ref, str) or not ref:
        raise InvalidValueError("a worker backend must return a non-empty reference string")
    if len(ref) > MAX_REF_LENGTH or _CONTROL.search(ref):
        raise InvalidValueError(
            f"a reference must be at most {MAX_REF_LENGTH} printable characters",
            detail={"length": len(ref), "limit": MAX_REF_LENGTH},
        )
    return ref


def _reject(path: str, message: str) -> InvalidValueError:
    where = f" at {path}" if path != "$" else ""
    return InvalidValueError(f"{message}{where}", detail={"path": path})


def _plain(item: object) -> bool:
    """A scalar valid wherever it is nested, so it needs no visit (nor a path)."""
    kind = type(item)
    return (
        kind is str
        or kind is int
        or kind is bool
        or item is None
        or (kind is float and math.isfinite(item))  # type: ignore[arg-type]
    )


def _check_json_value(value: object) -> None:
    """Raise :class:`InvalidValueError` unless ``value`` is a JSON document (null only nested)."""
    if value is None:
        raise InvalidValueError(
            "None cannot be stored: get() returns None for a missing key; use delete() instead"
        )
    stack: list[tuple[object, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _reject(
                path, f"value is nested deeper than {MAX_DEPTH} levels (or contains itself)"
            )
        kind = type(item)
        if kind is str or kind is bool or kind is int or item is None:
            continue
        if kind is float:
            if not math.isfinite(item):  # type: ignore[arg-type]
                raise _reject(path, f"{item!r} is not a JSON number")
        elif kind is dict:
            deeper = depth >= MAX_DEPTH
            for k, v in cast("dict[object, object]", item).items():
                if type(k) is not str:
                    raise _reject(path, f"object keys must be strings, not {type(k).__name__}")
                if deeper or not _plain(v):
                    stack.append((v, f"{path}.{k}", depth + 1))
        elif kind is list or kind is tuple:
            items = cast("list[object]", item)
            if depth >= MAX_DEPTH:
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items))
            else:
                # Only an item that needs a visit gets a path: for a long list of strings,
                # a path and a stack entry per item cost more than encoding the list.
                stack.extend(
                    (v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items) if not _plain(v)
                )
        else:
            raise _reject(
                path,
                f"{kind.__name__} is not JSON-serializable; store str, int, float, bool, "
                "list or dict (convert it first, e.g. a datetime with .isoformat())",
            )


def validate_value(value: object) -> JSONValue:
    """Return ``value`` if it is a storable JSON document, else raise :class:`InvalidValueError`;
    for a hook that takes the value itself, so nothing is encoded."""
    _check_json_value(value)
    return cast(JSONValue, value)


def encode_value(value: Any, *, max_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> bytes:
    """The JSON text of ``value``, after checking that it is a storable JSON document."""
    _check_json_value(value)
    try:
        data = _encoder.encode(value)
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError) as exc:
        # ValueError: an integer of more than 4,300 digits, which Python will not write out;
        # UnicodeEncodeError (one too): a lone surrogate, which UTF-8 (so JSON text) cannot hold.
        raise InvalidValueError(f"value cannot be encoded as JSON: {exc}") from exc
    check_size(len(data), max_bytes)
    return data


def check_size(size: int, max_bytes: int) -> None:
    """Raise :class:`ValueTooLargeError` when ``size`` bytes of JSON exceed ``max_bytes`` (>0)."""
    if max_bytes > 0 and size > max_bytes:
        raise ValueTooLargeError(
            f"value is {size} bytes of JSON, over the limit of {max_bytes} "
            "([state_store] max_value_bytes); configure a worker-side state backend "
            "([workers] state_backend) for large values",
            detail={"size": size, "limit": max_bytes},
        )


def validate_encoded_value(data: bytes, *, max_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> None:
    """Check JSON text received from a caller: well-formed, not null, finite, within the limit."""
    check_size(len(data), max_bytes)
    try:
        value = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidValueError(f"value is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    _check_json_value(value)


def decode_value(data: bytes | str) -> JSONValue:
    """The value whose JSON text is ``data``."""
    try:
        return _decoder.decode(data)  # type: ignore[no-any-return]
    except msgspec.DecodeError as exc:
        raise InvalidValueError(f"stored value is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _too_deep() from exc


def _too_deep() -> InvalidValueError:
    return InvalidValueError(
        f"value is nested deeper than {MAX_DEPTH} levels", detail={"limit": MAX_DEPTH}
    )


def validate_dag_id(dag_id: object) -> str:
    return _identifier("dag_id", dag_id, _DAG_OR_TASK_ID, "letters, digits, '_', '.', '-'")


def validate_task_id(task_id: object) -> str:
    return _identifier("task_id", task_id, _DAG_OR_TASK_ID, "letters, digits, '_', '.', '-'")


def validate_run_id(run_id: object) -> str:
    return _identifier("run_id", run_id, _RUN_ID, "letters, digits and '_.:+-@~'")


def validate_asset_name(name: object, *, what: str = "asset name") -> str:
    if not isinstance(name, str) or not name:
        raise InvalidIdentifierError(f"an {what} must be a non-empty string")
    if len(name) > MAX_ASSET_NAME_LENGTH or _CONTROL.search(name):
        raise InvalidIdentifierError(
            f"an {what} must be at most {MAX_ASSET_NAME_LENGTH} printable characters: {name!r}",
            detail={what.replace(" ", "_"): name},
        )
    return name


def _identifier(what: str, value: object, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid {what} {value!r}: use 1 to 250 characters of {allowed}",
            detail={what: value if isinstance(value, str) else repr(value)},
        )
    return value
