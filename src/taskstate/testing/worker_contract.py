"""The conformance suite of worker-side state backends (``[workers] state_backend``).

Bind it to a backend by subclassing it in a test module and providing a ``backend`` fixture::

    from taskstate.testing import WorkerBackendContract

    class TestMyWorkerBackend(WorkerBackendContract):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> BaseStateBackend:
            return MyWorkerBackend(root=str(tmp_path))

Each test gets a fresh ``backend`` and stores under task instances and asset names of its own.
A backend implements taskstate's six hooks or Apache Airflow 3.3.2's four
(:class:`~taskstate.state.BaseStoreBackend`); the suite runs either:

* taskstate's hooks are called directly, as the task process calls them: a reference must
  resolve to exactly what was stored for its (scope, key) and to nothing else, and resolving a
  purged reference must raise a :class:`~taskstate.errors.TaskStateError`.
* Airflow's hooks are called through :class:`~taskstate.runtime.worker_backend.WorkerBackend`,
  as the task process calls them: what a reference resolves to is compared as a value, and a
  purge is the backend's ``delete(scope, key)``, after which the reference must not resolve
  (the hook returns None or raises). Every value given must be stored, not kept inline.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskstate.errors import TaskStateError
from taskstate.runtime.worker_backend import Inline, Owner, TaskOwner, WorkerBackend
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import AssetScope, JSONValue, TaskScope

__all__ = ["HOSTILE_NAMES", "WorkerBackendContract", "WorkerHooks"]

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


def _ti() -> TaskOwner:
    """A task instance of its own: an id for taskstate's hooks, a scope for Airflow's."""
    ti_id = str(uuid.uuid4())
    return TaskOwner(ti_id, TaskScope("contract", f"run-{ti_id}", "task", -1))


def _asset(name: str) -> AssetScope:
    return AssetScope(name)


class WorkerHooks:
    """The three things the task process asks of a worker backend, in either set of hooks.

    ``value`` is JSON text; ``load`` returns the value it names.
    """

    def __init__(self, backend: BaseStateBackend) -> None:
        self.backend = backend
        self.worker = WorkerBackend(backend)

    def store(self, owner: Owner, key: str, value: str) -> str:
        backend = self.backend
        if self.worker.style == "airflow":
            stored = self.worker.store(owner, key, json.loads(value))
            assert not isinstance(stored, Inline), "the backend kept the value inline"
            return stored
        if isinstance(owner, TaskOwner):
            ref = backend.serialize_task_state_value(value=value, key=key, ti_id=owner.ti_id)
        else:
            ref = backend.serialize_asset_state_value(value=value, key=key, asset_name=owner.name)
        assert isinstance(ref, str)
        assert ref != value, "the hook returned the value itself: it stored nothing"
        return ref

    def load(self, owner: Owner, key: str, ref: str) -> JSONValue:
        if self.worker.style == "airflow":
            return self.worker.resolve(owner, key, ref, what="contract")
        if isinstance(owner, TaskOwner):
            text = self.backend.deserialize_task_state_value(ref)
        else:
            text = self.backend.deserialize_asset_state_value(ref)
        assert isinstance(text, str)
        return json.loads(text)  # type: ignore[no-any-return]

    def purge(self, owner: Owner, ref: str) -> None:
        self.worker.purge("task" if isinstance(owner, TaskOwner) else "asset", ref)


class WorkerBackendContract:
    """Tests every worker-side state backend passes; subclass it with a ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> BaseStateBackend:
        raise NotImplementedError("a WorkerBackendContract subclass provides a `backend` fixture")

    @pytest.fixture
    def hooks(self, backend: BaseStateBackend) -> WorkerHooks:
        return WorkerHooks(backend)

    # -- round trips ---------------------------------------------------------------------

    @pytest.mark.parametrize("value", VALUES, ids=["str", "int", "unicode", "5MB"])
    def test_task_round_trip(self, hooks: WorkerHooks, value: str) -> None:
        ti = _ti()
        ref = hooks.store(ti, "k", value)
        assert hooks.load(ti, "k", ref) == json.loads(value)

    @pytest.mark.parametrize("value", VALUES, ids=["str", "int", "unicode", "5MB"])
    def test_asset_round_trip(self, hooks: WorkerHooks, value: str) -> None:
        asset = _asset("orders")
        ref = hooks.store(asset, "k", value)
        assert hooks.load(asset, "k", ref) == json.loads(value)

    def test_storing_a_key_again(self, hooks: WorkerHooks) -> None:
        """A second store of a key either overwrites the object (the same reference) or stores
        a new one (a new reference) and leaves the first as it was, for the purge to remove."""
        ti = _ti()
        first = hooks.store(ti, "k", '"one"')
        second = hooks.store(ti, "k", '"two"')
        assert hooks.load(ti, "k", second) == "two"
        assert hooks.load(ti, "k", first) == ("two" if first == second else "one")
        asset = _asset(f"asset-{uuid.uuid4()}")
        first = hooks.store(asset, "k", "1")
        second = hooks.store(asset, "k", "2")
        assert hooks.load(asset, "k", second) == 2
        assert hooks.load(asset, "k", first) == (2 if first == second else 1)

    def test_scopes_and_keys_do_not_collide(self, hooks: WorkerHooks) -> None:
        ti_a, ti_b = _ti(), _ti()
        refs: dict[str, tuple[Owner, str, str]] = {
            hooks.store(ti_a, "k", '"ta"'): (ti_a, "k", "ta"),
            hooks.store(ti_b, "k", '"tb"'): (ti_b, "k", "tb"),
            hooks.store(ti_a, "k2", '"ta2"'): (ti_a, "k2", "ta2"),
            # An asset named like a task instance id must not meet that task's state.
            hooks.store(_asset(ti_a.ti_id), "k", '"aa"'): (_asset(ti_a.ti_id), "k", "aa"),
            hooks.store(_asset("b"), "k", '"ab"'): (_asset("b"), "k", "ab"),
        }
        assert len(refs) == 5
        for ref, (owner, key, value) in refs.items():
            assert hooks.load(owner, key, ref) == value

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
    def test_distinct_names_never_collide(self, hooks: WorkerHooks, names: list[str]) -> None:
        asset = _asset(f"asset-{uuid.uuid4()}")
        ti = _ti()
        stored: dict[str, tuple[Owner, str, str]] = {}
        for name in names:
            text = json.dumps(name)
            stored[hooks.store(asset, name, text)] = (asset, name, name)
            stored[hooks.store(_asset(name), "k", text)] = (_asset(name), "k", name)
            stored[hooks.store(ti, name, text)] = (ti, name, name)
        assert len(stored) == 3 * len(names)
        for ref, (owner, key, value) in stored.items():
            assert hooks.load(owner, key, ref) == value
            hooks.purge(owner, ref)

    # -- purging -------------------------------------------------------------------------

    def test_purge_removes_and_is_idempotent(self, hooks: WorkerHooks) -> None:
        ti = _ti()
        ref = hooks.store(ti, "k", '"v"')
        kept = hooks.store(ti, "other", '"kept"')
        hooks.purge(ti, ref)
        hooks.purge(ti, ref)
        with pytest.raises(TaskStateError):
            hooks.load(ti, "k", ref)
        assert hooks.load(ti, "other", kept) == "kept"

    def test_asset_purge_removes_and_is_idempotent(self, hooks: WorkerHooks) -> None:
        asset = _asset("orders")
        ref = hooks.store(asset, "k", '"v"')
        hooks.purge(asset, ref)
        hooks.purge(asset, ref)
        with pytest.raises(TaskStateError):
            hooks.load(asset, "k", ref)

    def test_set_after_purge_stores_again(self, hooks: WorkerHooks) -> None:
        ti = _ti()
        ref = hooks.store(ti, "k", '"v"')
        hooks.purge(ti, ref)
        again = hooks.store(ti, "k", '"w"')
        assert hooks.load(ti, "k", again) == "w"

    # -- hostile names -------------------------------------------------------------------

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
    def test_hostile_keys_stay_apart(self, hooks: WorkerHooks, name: str) -> None:
        ti = _ti()
        plain = hooks.store(ti, "passwd", '"plain"')
        ref = hooks.store(ti, name, '"hostile"')
        assert ref != plain
        assert hooks.load(ti, name, ref) == "hostile"
        assert hooks.load(ti, "passwd", plain) == "plain"
        hooks.purge(ti, ref)
        assert hooks.load(ti, "passwd", plain) == "plain"

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
    def test_hostile_asset_names_stay_apart(self, hooks: WorkerHooks, name: str) -> None:
        etc, hostile = _asset("etc"), _asset(name)
        plain = hooks.store(etc, "k", '"plain"')
        ref = hooks.store(hostile, name, '"hostile"')
        assert ref != plain
        assert hooks.load(hostile, name, ref) == "hostile"
        hooks.purge(hostile, ref)
        assert hooks.load(etc, "k", plain) == "plain"
