"""Worker backends written against Apache Airflow 3.3.2's hooks: the conformance suite, and what
the accessors do with them (references that carry scope and key, None keeps a value inline,
purging through ``delete(scope, key)``, typed errors, a class with both sets refused)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from taskstate.backends.registry import create_backend
from taskstate.contracts.types import WorkerBackendSpec
from taskstate.errors import (
    BackendError,
    BackendImportError,
    InvalidValueError,
    ReferenceResolutionError,
    ValueTooLargeError,
)
from taskstate.runtime.accessors import AssetState, TaskState
from taskstate.runtime.worker_backend import WorkerBackend, load_worker_backend
from taskstate.sdk import Asset, AssetScope, BaseStoreBackend, TaskScope
from taskstate.state import BaseStateBackend
from taskstate.testing import WorkerBackendContract

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDERS = Asset(name="orders", uri="s3://lake/orders")
SCOPE = TaskScope("d", "r", "t")


class DictStoreBackend(BaseStoreBackend):
    """Written as for Airflow 3.3.2: its four hooks, delete(), and nothing of taskstate's.

    Values whose JSON is under ``inline_below`` bytes stay inline (the hook returns None).
    """

    def __init__(self, inline_below: int = 0) -> None:
        self.objects: dict[str, object] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.inline_below = inline_below

    @staticmethod
    def _ref(scope: TaskScope | AssetScope, key: str) -> str:
        match scope:
            case TaskScope():
                where = [scope.dag_id, scope.run_id, scope.task_id, str(scope.map_index)]
            case AssetScope():
                where = ["assets", scope.name or scope.uri or str(scope.asset_id)]
        return "dict://" + json.dumps([*where, key])

    def _store(self, scope: Any, key: str, value: object) -> str | None:
        self.calls.append(("serialize", key, value, scope))
        if len(json.dumps(value)) < self.inline_below:
            return None
        ref = self._ref(scope, key)
        self.objects[ref] = value
        return ref

    def _load(self, stored: str) -> object:
        self.calls.append(("deserialize", stored))
        return self.objects.get(stored)  # None: the object is gone

    def serialize_task_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> Any:
        return self._store(scope, key, value)

    def deserialize_task_state_store_from_ref(self, stored: str) -> Any:
        return self._load(stored)

    def serialize_asset_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> Any:
        return self._store(scope, key, value)

    def deserialize_asset_state_store_from_ref(self, stored: str) -> Any:
        return self._load(stored)

    def delete(self, scope: Any, key: str, *, session: Any = None) -> None:
        self.calls.append(("delete", key, scope))
        self.objects.pop(self._ref(scope, key), None)

    def clear(self, scope: Any, *, all_map_indices: bool = False, session: Any = None) -> None:
        raise AssertionError("taskstate never clears a worker backend by scope")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = aget = aset = adelete = aclear = get


def _example_backend_class() -> type[BaseStateBackend]:
    spec = importlib.util.spec_from_file_location(
        "airflow_style_backend", EXAMPLES / "airflow_style_backend.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type[BaseStateBackend] = module.FileStoreBackend
    return cls


class TestContract(WorkerBackendContract):
    @pytest.fixture
    def backend(self) -> BaseStateBackend:
        return DictStoreBackend()


class TestExampleContract(WorkerBackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> BaseStateBackend:
        return _example_backend_class()(root=str(tmp_path / "objects"))  # type: ignore[call-arg]


# -- through the accessors ------------------------------------------------------------------


def _task_state(served: Any, backend: BaseStateBackend, limit: int = 1000) -> TaskState:
    comms, _ = served
    return TaskState(comms, WorkerBackend(backend), limit, ti_id="ti-1", scope=SCOPE)


def test_the_hook_gets_the_value_and_the_scope_and_the_reference_carries_both(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend()
    ts = _task_state(served, backend)
    _, server = served
    ts.set("job", {"id": "j-1", "parts": [1, 2]})
    assert backend.calls == [("serialize", "job", {"id": "j-1", "parts": [1, 2]}, SCOPE)]
    data, ref_backend = server.store[("ti", "job")]
    inner = 'dict://["d", "r", "t", "-1", "job"]'
    assert json.loads(data) == ["task", "d", "r", "t", -1, "job", inner]
    assert ref_backend == WorkerBackend(backend).path
    assert ts.get("job") == {"id": "j-1", "parts": [1, 2]}
    assert backend.calls[-1] == ("deserialize", inner)  # the hook never sees the wrapping


def test_an_asset_hook_gets_an_asset_scope_named_by_name(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend()
    comms, server = served
    state = AssetState(comms, WorkerBackend(backend), 1000, asset=ORDERS)
    state.set("watermark", "2026-05-01")
    [(_, _, _, scope)] = backend.calls
    assert scope == AssetScope("orders")
    assert (scope.name, scope.uri, scope.asset_id) == ("orders", None, None)
    data, _ = server.store[("asset:orders", "watermark")]
    assert json.loads(data)[:3] == ["asset", "orders", "watermark"]
    assert state.get("watermark") == "2026-05-01"


def test_returning_none_keeps_the_value_inline(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend(inline_below=10)
    ts = _task_state(served, backend, limit=20)
    _, server = served
    ts.set("small", 7)
    assert server.store[("ti", "small")] == (b"7", None)  # a value, not a reference
    assert ts.get("small") == 7
    assert [call[0] for call in backend.calls] == ["serialize"]  # get needed no hook
    assert backend.objects == {}
    # Inline, so the database's size limit applies, and nothing is sent.
    over = "x" * 30
    with pytest.raises(ValueTooLargeError):
        _task_state(served, DictStoreBackend(inline_below=100), limit=20).set("big", over)
    assert ("ti", "big") not in server.store
    ts.set("big", over)  # stored by the backend: the limit does not apply
    assert ts.get("big") == over


def test_a_hook_left_at_its_default_keeps_values_inline(served) -> None:  # type: ignore[no-untyped-def]
    class TaskOnly(DictStoreBackend):
        serialize_asset_state_store_to_ref = BaseStoreBackend.serialize_asset_state_store_to_ref

    backend = TaskOnly()
    comms, server = served
    AssetState(comms, WorkerBackend(backend), 1000, asset=ORDERS).set("w", [1, 2])
    assert server.store[("asset:orders", "w")] == (b"[1,2]", None)
    assert backend.calls == []


def test_super_calls_get_airflows_defaults(served) -> None:  # type: ignore[no-untyped-def]
    class JsonRefs(DictStoreBackend):
        def serialize_task_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> Any:
            return super(DictStoreBackend, self).serialize_task_state_store_to_ref(
                value=value, key=key, scope=scope
            )

        deserialize_task_state_store_from_ref = (
            BaseStoreBackend.deserialize_task_state_store_from_ref
        )

    ts = _task_state(served, JsonRefs())
    ts.set("k", {"a": 1})  # the "reference" is the JSON text itself, as in Airflow
    _, server = served
    assert json.loads(server.store[("ti", "k")][0])[-1] == '{"a":1}'
    assert ts.get("k") == {"a": 1}


def test_delete_and_clear_purge_through_delete_scope_key(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend(inline_below=3)
    ts = _task_state(served, backend)
    ts.set("a", "first")
    ts.set("b", "second")
    ts.set("inline", 1)
    ts.delete("a")
    assert ("delete", "a", SCOPE) in backend.calls
    assert list(backend.objects) == ['dict://["d", "r", "t", "-1", "b"]']
    backend.calls.clear()
    ts.clear()
    # One delete per removed reference; the inline value had no object.
    assert backend.calls == [("delete", "b", SCOPE)]
    assert backend.objects == {}
    assert ts.get("b") is None and ts.get("inline") is None


def test_the_async_twins(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend()
    ts = _task_state(served, backend)

    async def work() -> object:
        await ts.aset("k", [1])
        got = await ts.aget("k")
        await ts.adelete("k")
        return got, await ts.aget("k")

    assert asyncio.run(work()) == ([1], None)
    assert backend.objects == {}


# -- typed errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "named"), [(42, "int"), (b"ref", "bytes"), ("", "an empty string")]
)
def test_a_serialize_hook_that_returns_no_string_is_a_typed_error(
    served: Any, returned: object, named: str
) -> None:
    class Broken(DictStoreBackend):
        def serialize_task_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> Any:
            return returned

    _, server = served
    with pytest.raises(BackendError) as raised:
        _task_state(served, Broken()).set("k", 1)
    assert str(raised.value) == (
        f"serialize_task_state_store_to_ref() of worker backend Broken returned {named}; it "
        "must return a non-empty reference string, or None to keep the value inline"
    )
    assert server.requests == []


def test_a_value_that_is_not_json_fails_before_the_hook(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend()
    with pytest.raises(InvalidValueError, match="datetime is not JSON-serializable"):
        _task_state(served, backend).set("k", {"when": datetime(2026, 1, 1)})  # type: ignore[dict-item]
    assert backend.calls == []


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "its deserialize hook returned None: the object is gone"),
        (datetime(2026, 1, 1), "returned a value that is not JSON: datetime is not JSON"),
        (KeyError("k"), "KeyError: 'k'"),
    ],
)
def test_a_reference_that_does_not_resolve_is_a_typed_error(
    served: Any, returned: object, message: str
) -> None:
    class Odd(DictStoreBackend):
        def deserialize_task_state_store_from_ref(self, stored: str) -> Any:
            if isinstance(returned, Exception):
                raise returned
            return returned

    ts = _task_state(served, Odd())
    ts.set("k", 1)
    with pytest.raises(ReferenceResolutionError, match="task state key 'k': worker backend") as e:
        ts.get("k")
    assert message in str(e.value)


def test_a_reference_resolves_only_in_the_scope_that_wrote_it(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictStoreBackend()
    comms, server = served
    _task_state(served, backend).set("k", 1)
    other = TaskState(
        comms, WorkerBackend(backend), 1000, ti_id="ti-2", scope=TaskScope("d", "r", "t", 3)
    )
    with pytest.raises(ReferenceResolutionError, match=r"written for d/r/t, not d/r/t\[3\]"):
        other.get("k")  # the served store has one task scope: a copied reference
    server.store[("ti", "bad")] = (b"dict://not-wrapped", WorkerBackend(backend).path)
    with pytest.raises(ReferenceResolutionError, match="not one that taskstate wrote"):
        other.get("bad")


def test_purging_by_reference_alone_rebuilds_scope_and_key() -> None:
    backend = DictStoreBackend()
    worker = WorkerBackend(backend)
    asset = AssetScope("orders")
    ref = worker.store(asset, "w", 5)
    assert isinstance(ref, str)
    with pytest.raises(ReferenceResolutionError, match="written for asset state"):
        worker.purge("task", ref)
    worker.purge("asset", ref)  # as `taskstate state purge` does, with no task around
    assert backend.calls[-1] == ("delete", "w", asset)
    assert backend.objects == {}


def test_a_delete_that_is_not_implemented_says_how_objects_are_removed() -> None:
    class NoDelete(DictStoreBackend):
        def delete(self, scope: Any, key: str, *, session: Any = None) -> None:
            raise NotImplementedError

    worker = WorkerBackend(NoDelete())
    ref = worker.store(AssetScope("orders"), "w", 5)
    assert isinstance(ref, str)
    with pytest.raises(BackendError, match=r"removed by delete\(scope, key\), but its delete"):
        worker.purge("asset", ref)


# -- which hooks a class implements ----------------------------------------------------------


class BothSets(DictStoreBackend):
    def purge_task_state(self, stored: str) -> None:
        pass


def test_a_class_with_both_sets_of_hooks_is_refused() -> None:
    with pytest.raises(BackendImportError) as raised:
        WorkerBackend(BothSets())
    message = str(raised.value)
    assert message.startswith(f"[workers] state_backend = '{__name__}.BothSets': BothSets")
    assert "implements both taskstate's worker hooks (purge_task_state)" in message
    assert "and Apache Airflow's (serialize_task_state_store_to_ref, " in message
    with pytest.raises(BackendImportError, match="implements both"):
        load_worker_backend(WorkerBackendSpec(f"{__name__}.BothSets"))


def test_which_hooks() -> None:
    assert WorkerBackend(DictStoreBackend()).style == "airflow"
    seed_style = create_backend("object_storage", {"root": "memory://x"}, setting="s")
    assert WorkerBackend(seed_style).style == "taskstate"

    class Plain(DictStoreBackend):  # subclasses of the base classes count, the bases do not
        pass

    assert WorkerBackend(Plain()).style == "airflow"


def test_the_sdk_names_are_the_state_layers() -> None:
    import taskstate.state as state

    assert (TaskScope, AssetScope, BaseStoreBackend) == (
        state.TaskScope,
        state.AssetScope,
        state.BaseStoreBackend,
    )
    assert issubclass(BaseStoreBackend, BaseStateBackend)
