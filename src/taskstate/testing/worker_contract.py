"""The conformance suite of worker-side state backends (``[workers] state_backend``).

Bind it to a backend by subclassing it in a test module and providing a ``backend`` fixture::

    from taskstate.testing import WorkerBackendContract

    class TestMyWorkerBackend(WorkerBackendContract):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> BaseStateBackend:
            return MyWorkerBackend(root=str(tmp_path))

Each test gets a fresh ``backend`` and stores under task instance ids and asset names of its own.
The suite calls only the six hooks, as the task process does; whatever a backend does to keep
its objects apart is its own business, but a reference must always resolve to what was stored
for its (scope, key) and to nothing else.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskstate.errors import TaskStateError
from taskstate.state.backend import BaseStateBackend

__all__ = ["HOSTILE_NAMES", "WorkerBackendContract"]

HOSTILE_NAMES = [
    "..",
    ".",
    "../../etc/passwd",
    "a/b",
    "/abs",
    "%2F",
    "%2E%2E",
    "a%2Fb",
    "k" * 2000,
    "ключ-キー-🔑",
    " ",
    "~",
    "back\\slash",
    "NUL\x00byte",
]
"""Keys and asset names that a careless encoding turns into an escape or a collision."""

VALUES = [
    '"plain"',
    "42",
    '{"nested": [1, 2.5, true, null], "ключ": "значение 🔑"}',
    '"' + "x" * (5 * 1024 * 1024) + '"',
]


def _ti() -> str:
    return str(uuid.uuid4())


class WorkerBackendContract:
    """Tests every worker-side state backend passes; subclass it with a ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> BaseStateBackend:
        raise NotImplementedError("a WorkerBackendContract subclass provides a `backend` fixture")

    # -- round trips ---------------------------------------------------------------------

    @pytest.mark.parametrize("value", VALUES, ids=["str", "int", "unicode", "5MB"])
    def test_task_round_trip(self, backend: BaseStateBackend, value: str) -> None:
        ref = backend.serialize_task_state_value(value=value, key="k", ti_id=_ti())
        assert isinstance(ref, str)
        assert ref != value
        assert backend.deserialize_task_state_value(ref) == value

    @pytest.mark.parametrize("value", VALUES, ids=["str", "int", "unicode", "5MB"])
    def test_asset_round_trip(self, backend: BaseStateBackend, value: str) -> None:
        ref = backend.serialize_asset_state_value(value=value, key="k", asset_name="orders")
        assert isinstance(ref, str)
        assert backend.deserialize_asset_state_value(ref) == value

    def test_same_scope_and_key_overwrite(self, backend: BaseStateBackend) -> None:
        ti = _ti()
        first = backend.serialize_task_state_value(value='"one"', key="k", ti_id=ti)
        second = backend.serialize_task_state_value(value='"two"', key="k", ti_id=ti)
        assert first == second
        assert backend.deserialize_task_state_value(first) == '"two"'
        asset = f"asset-{uuid.uuid4()}"
        first = backend.serialize_asset_state_value(value="1", key="k", asset_name=asset)
        second = backend.serialize_asset_state_value(value="2", key="k", asset_name=asset)
        assert first == second
        assert backend.deserialize_asset_state_value(first) == "2"

    def test_scopes_and_keys_do_not_collide(self, backend: BaseStateBackend) -> None:
        ti_a, ti_b = _ti(), _ti()
        refs = {
            backend.serialize_task_state_value(value='"ta"', key="k", ti_id=ti_a): '"ta"',
            backend.serialize_task_state_value(value='"tb"', key="k", ti_id=ti_b): '"tb"',
            backend.serialize_task_state_value(value='"ta2"', key="k2", ti_id=ti_a): '"ta2"',
        }
        asset_refs = {
            # An asset named like a task instance id must not meet that task's state.
            backend.serialize_asset_state_value(value='"aa"', key="k", asset_name=ti_a): '"aa"',
            backend.serialize_asset_state_value(value='"ab"', key="k", asset_name="b"): '"ab"',
        }
        assert len(refs) == 3
        assert len(asset_refs) == 2
        assert not set(refs) & set(asset_refs)
        for ref, value in refs.items():
            assert backend.deserialize_task_state_value(ref) == value
        for ref, value in asset_refs.items():
            assert backend.deserialize_asset_state_value(ref) == value

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        # Each binding runs this method on its own backend; no state is shared between them.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        names=st.lists(
            st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300),
            min_size=2,
            max_size=4,
            unique=True,
        )
    )
    def test_distinct_names_never_collide(
        self, backend: BaseStateBackend, names: list[str]
    ) -> None:
        asset = f"asset-{uuid.uuid4()}"
        ti = _ti()
        keys = {
            backend.serialize_asset_state_value(
                value=json.dumps(name), key=name, asset_name=asset
            ): name
            for name in names
        }
        assets = {
            backend.serialize_asset_state_value(
                value=json.dumps(name), key="k", asset_name=name
            ): name
            for name in names
        }
        tasks = {
            backend.serialize_task_state_value(value=json.dumps(name), key=name, ti_id=ti): name
            for name in names
        }
        assert len(keys) == len(assets) == len(tasks) == len(names)
        for ref, name in [*keys.items(), *assets.items()]:
            assert backend.deserialize_asset_state_value(ref) == json.dumps(name)
            backend.purge_asset_state(ref)
        for ref, name in tasks.items():
            assert backend.deserialize_task_state_value(ref) == json.dumps(name)
            backend.purge_task_state(ref)

    # -- purging -------------------------------------------------------------------------

    def test_purge_removes_and_is_idempotent(self, backend: BaseStateBackend) -> None:
        ti = _ti()
        ref = backend.serialize_task_state_value(value='"v"', key="k", ti_id=ti)
        kept = backend.serialize_task_state_value(value='"kept"', key="other", ti_id=ti)
        backend.purge_task_state(ref)
        backend.purge_task_state(ref)
        with pytest.raises(TaskStateError):
            backend.deserialize_task_state_value(ref)
        assert backend.deserialize_task_state_value(kept) == '"kept"'

    def test_asset_purge_removes_and_is_idempotent(self, backend: BaseStateBackend) -> None:
        ref = backend.serialize_asset_state_value(value='"v"', key="k", asset_name="orders")
        backend.purge_asset_state(ref)
        backend.purge_asset_state(ref)
        with pytest.raises(TaskStateError):
            backend.deserialize_asset_state_value(ref)

    def test_set_after_purge_stores_again(self, backend: BaseStateBackend) -> None:
        ti = _ti()
        ref = backend.serialize_task_state_value(value='"v"', key="k", ti_id=ti)
        backend.purge_task_state(ref)
        again = backend.serialize_task_state_value(value='"w"', key="k", ti_id=ti)
        assert backend.deserialize_task_state_value(again) == '"w"'

    # -- hostile names -------------------------------------------------------------------

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
    def test_hostile_keys_stay_apart(self, backend: BaseStateBackend, name: str) -> None:
        ti = _ti()
        plain = backend.serialize_task_state_value(value='"plain"', key="passwd", ti_id=ti)
        ref = backend.serialize_task_state_value(value='"hostile"', key=name, ti_id=ti)
        assert ref != plain
        assert backend.deserialize_task_state_value(ref) == '"hostile"'
        assert backend.deserialize_task_state_value(plain) == '"plain"'
        backend.purge_task_state(ref)
        assert backend.deserialize_task_state_value(plain) == '"plain"'

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
    def test_hostile_asset_names_stay_apart(self, backend: BaseStateBackend, name: str) -> None:
        plain = backend.serialize_asset_state_value(value='"plain"', key="k", asset_name="etc")
        ref = backend.serialize_asset_state_value(value='"hostile"', key=name, asset_name=name)
        assert ref != plain
        assert backend.deserialize_asset_state_value(ref) == '"hostile"'
        backend.purge_asset_state(ref)
        assert backend.deserialize_asset_state_value(plain) == '"plain"'
