import pickle

import pytest

import taskstate.errors as errors
from taskstate.errors import (
    TaskStateError,
    UndeclaredAssetError,
    UsageError,
    error_class,
    error_from_body,
)


def _classes() -> list[type[TaskStateError]]:
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, TaskStateError)
    ]


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _classes()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", _classes())
def test_every_error_survives_the_wire(cls: type[TaskStateError]) -> None:
    original = cls("boom", detail={"key": "k"})
    again = error_from_body(original.to_body())
    assert type(again) is cls
    assert again.message == "boom" and again.detail == {"key": "k"}
    assert type(pickle.loads(pickle.dumps(original))) is cls


def test_usage_errors_are_their_own_root() -> None:
    assert issubclass(UndeclaredAssetError, UsageError)
    assert UndeclaredAssetError.status == 403
    assert error_class("no-such-code") is TaskStateError


def test_malformed_bodies_become_runtime_failures() -> None:
    assert isinstance(error_from_body("nope"), errors.RuntimeFailure)
    assert error_from_body({"code": 5}).message == "unknown error"


def test_exported_members_are_pinned() -> None:
    assert sorted(errors.__all__) == errors.__all__
