"""The conformance suite of server-side state backends.

Bind it to a backend by subclassing it in a test module and providing a ``backend`` fixture::

    from taskstate.testing import ServerBackendContract

    class TestMyBackend(ServerBackendContract):
        @pytest.fixture
        def backend(self) -> Iterator[BaseStateBackend]:
            backend = MyBackend(...)
            yield backend
            backend.close()

The scopes the tests use come from the fixtures ``task_scope``, ``other_task_scope``,
``mapped_task_scopes`` (one task, several map indices), ``asset_scope`` and
``other_asset_scope``. Their defaults suit a backend that accepts any scope; a backend that only
knows scopes that exist elsewhere (the metastore needs the task instance and asset rows)
overrides them to create what they return. Every scope a test gets is empty.

Async tests run each scenario with :meth:`ServerBackendContract.run_async`, which calls
:func:`asyncio.run`; override it to run on a loop of your own.

The tests of retention and provenance live in :class:`RetentionContract`, and those of
versions and compare-and-set in :class:`VersionContract` (skipped for a backend without
``supports_versions``); this class inherits both.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta

import pytest

from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import AssetScope, StateScope, StoredValue, TaskScope
from taskstate.testing._contract import REF_BACKEND, supported
from taskstate.testing._contract import entries as _entries
from taskstate.testing.retention_contract import RetentionContract
from taskstate.testing.version_contract import VersionContract

__all__ = ["ServerBackendContract"]

ODD_KEYS = [
    "with/slashes/in/it",
    "ключ-キー-🔑",
    "k" * 512,
    "spaces and .dots: and %percent%",
    "'quotes\" and \\backslashes",
]


class ServerBackendContract(RetentionContract, VersionContract):
    """Tests every server-side state backend passes; subclass it with a ``backend`` fixture."""

    # -- fixtures a binding provides or overrides ----------------------------------------------

    @pytest.fixture
    def backend(self) -> BaseStateBackend:
        raise NotImplementedError("a ServerBackendContract subclass provides a `backend` fixture")

    @pytest.fixture
    def task_scope(self) -> TaskScope:
        return TaskScope("contract_dag", "contract_run", "task_a")

    @pytest.fixture
    def other_task_scope(self) -> TaskScope:
        return TaskScope("contract_dag", "contract_run", "task_b")

    @pytest.fixture
    def mapped_task_scopes(self) -> list[TaskScope]:
        return [TaskScope("contract_dag", "contract_run", "task_m", i) for i in range(3)]

    @pytest.fixture
    def asset_scope(self) -> AssetScope:
        return AssetScope("contract_asset")

    @pytest.fixture
    def other_asset_scope(self) -> AssetScope:
        return AssetScope("contract_asset_other")

    # -- derived fixtures: each scope test runs on a task scope and on an asset scope ---------

    @pytest.fixture(params=["task", "asset"])
    def scope_kind(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def scope(self, scope_kind: str, request: pytest.FixtureRequest) -> StateScope:
        scope: StateScope = request.getfixturevalue(f"{scope_kind}_scope")
        return scope

    @pytest.fixture
    def other_scope(self, scope_kind: str, request: pytest.FixtureRequest) -> StateScope:
        scope: StateScope = request.getfixturevalue(f"other_{scope_kind}_scope")
        return scope

    # -- get / set ------------------------------------------------------------------------------

    def test_get_missing_key_is_none(self, backend: BaseStateBackend, scope: StateScope) -> None:
        assert backend.get(scope, "missing") is None

    def test_set_then_get(self, backend: BaseStateBackend, scope: StateScope) -> None:
        backend.set(scope, "job_id", StoredValue('"app_001"'))
        assert backend.get(scope, "job_id") == StoredValue('"app_001"')

    def test_set_overwrites(self, backend: BaseStateBackend, scope: StateScope) -> None:
        backend.set(scope, "counter", StoredValue("1"))
        backend.set(scope, "counter", StoredValue('{"n": 2}'))
        assert backend.get(scope, "counter") == StoredValue('{"n": 2}')

    def test_keys_are_independent(self, backend: BaseStateBackend, scope: StateScope) -> None:
        backend.set(scope, "a", StoredValue("1"))
        backend.set(scope, "b", StoredValue("2"))
        assert backend.get(scope, "a") == StoredValue("1")
        assert backend.get(scope, "b") == StoredValue("2")

    def test_same_key_in_other_scope_is_separate(
        self, backend: BaseStateBackend, scope: StateScope, other_scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue('"mine"'))
        assert backend.get(other_scope, "k") is None
        backend.set(other_scope, "k", StoredValue('"theirs"'))
        assert backend.get(scope, "k") == StoredValue('"mine"')

    def test_task_and_asset_scopes_are_separate(
        self, backend: BaseStateBackend, task_scope: TaskScope, asset_scope: AssetScope
    ) -> None:
        backend.set(task_scope, "k", StoredValue('"task"'))
        backend.set(asset_scope, "k", StoredValue('"asset"'))
        assert backend.get(task_scope, "k") == StoredValue('"task"')
        assert backend.get(asset_scope, "k") == StoredValue('"asset"')

    def test_map_indices_are_separate(
        self, backend: BaseStateBackend, mapped_task_scopes: list[TaskScope]
    ) -> None:
        for i, scope in enumerate(mapped_task_scopes):
            backend.set(scope, "k", StoredValue(str(i)))
        for i, scope in enumerate(mapped_task_scopes):
            assert backend.get(scope, "k") == StoredValue(str(i))

    @pytest.mark.parametrize("key", ODD_KEYS, ids=["slash", "unicode", "512-chars", "punct", "q"])
    def test_unusual_keys_round_trip(
        self, backend: BaseStateBackend, scope: StateScope, key: str
    ) -> None:
        backend.set(scope, key, StoredValue('"v"'))
        assert backend.get(scope, key) == StoredValue('"v"')
        assert backend.delete(scope, key) == StoredValue('"v"')
        assert backend.get(scope, key) is None

    def test_values_keep_their_text_exactly(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        texts = ['"ünïcödé 🔑"', '{"b": 1,  "a": [1.5, true, null]}', '"' + "x" * 100_000 + '"']
        for i, text in enumerate(texts):
            backend.set(scope, f"v{i}", StoredValue(text))
        for i, text in enumerate(texts):
            assert backend.get(scope, f"v{i}") == StoredValue(text)

    # -- references are marked out of band ------------------------------------------------------

    def test_ref_is_marked(self, backend: BaseStateBackend, scope: StateScope) -> None:
        backend.set(scope, "big", StoredValue("mem://ti/big", REF_BACKEND))
        stored = backend.get(scope, "big")
        assert stored == StoredValue("mem://ti/big", REF_BACKEND)
        assert stored is not None
        assert stored.is_ref

    def test_value_that_looks_like_a_ref_stays_inline(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        for text in ['"mem://ti/big"', '{"ref_backend": "x", "__ref__": "s3://b/k"}', "mem://x"]:
            backend.set(scope, "k", StoredValue(text))
            stored = backend.get(scope, "k")
            assert stored == StoredValue(text)
            assert stored is not None
            assert not stored.is_ref

    def test_ref_that_looks_like_json_stays_a_ref(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue('{"a": 1}', REF_BACKEND))
        assert backend.get(scope, "k") == StoredValue('{"a": 1}', REF_BACKEND)

    def test_overwrite_switches_between_ref_and_inline(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue("mem://a", REF_BACKEND))
        backend.set(scope, "k", StoredValue('"inline"'))
        assert backend.get(scope, "k") == StoredValue('"inline"')
        backend.set(scope, "k", StoredValue("mem://b", REF_BACKEND))
        assert backend.get(scope, "k") == StoredValue("mem://b", REF_BACKEND)

    def test_encryption_marker_round_trips(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        """The id of the key a value is encrypted with is kept beside it, inline or a ref, and
        goes with an overwrite by a plain value."""
        sealed = StoredValue('"c2VhbGVk"', encryption="k-2026")
        ref = StoredValue("mem://sealed", REF_BACKEND, encryption="k-2026")
        backend.set(scope, "v", sealed)
        backend.set(scope, "r", ref)
        assert backend.get(scope, "v") == sealed
        assert backend.get(scope, "r") == ref
        assert {e.key: e.stored for e in _entries(backend, scope)} == {"r": ref, "v": sealed}
        assert self.run_async(backend.aget(scope, "v")) == sealed
        backend.set(scope, "v", StoredValue('"plain"'))
        assert backend.get(scope, "v") == StoredValue('"plain"')
        assert backend.delete(scope, "r") == ref

    # -- delete -------------------------------------------------------------------------------

    def test_delete_returns_removed_value(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue("[1, 2]"))
        assert backend.delete(scope, "k") == StoredValue("[1, 2]")
        assert backend.get(scope, "k") is None

    def test_delete_returns_removed_ref(self, backend: BaseStateBackend, scope: StateScope) -> None:
        backend.set(scope, "k", StoredValue("mem://k", REF_BACKEND))
        assert backend.delete(scope, "k") == StoredValue("mem://k", REF_BACKEND)

    def test_delete_missing_key_is_none(self, backend: BaseStateBackend, scope: StateScope) -> None:
        assert backend.delete(scope, "missing") is None
        backend.set(scope, "k", StoredValue("1"))
        backend.delete(scope, "k")
        assert backend.delete(scope, "k") is None

    def test_delete_leaves_other_keys_and_scopes(
        self, backend: BaseStateBackend, scope: StateScope, other_scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue("1"))
        backend.set(scope, "other", StoredValue("2"))
        backend.set(other_scope, "k", StoredValue("3"))
        backend.delete(scope, "k")
        assert backend.get(scope, "other") == StoredValue("2")
        assert backend.get(other_scope, "k") == StoredValue("3")

    # -- clear --------------------------------------------------------------------------------

    def test_clear_returns_only_refs_and_empties_the_scope(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "inline", StoredValue('"mem://not-a-ref"'))
        backend.set(scope, "ref_1", StoredValue("mem://1", REF_BACKEND))
        backend.set(scope, "ref_2", StoredValue("mem://2", "other.Backend"))
        removed = backend.clear(scope)
        assert sorted(removed, key=lambda s: s.data) == [
            StoredValue("mem://1", REF_BACKEND),
            StoredValue("mem://2", "other.Backend"),
        ]
        for key in ("inline", "ref_1", "ref_2"):
            assert backend.get(scope, key) is None

    def test_clear_empty_scope(self, backend: BaseStateBackend, scope: StateScope) -> None:
        assert backend.clear(scope) == []
        backend.set(scope, "k", StoredValue("1"))
        assert backend.clear(scope) == []
        assert backend.clear(scope) == []

    def test_clear_leaves_other_scopes(
        self,
        backend: BaseStateBackend,
        scope: StateScope,
        other_scope: StateScope,
        task_scope: TaskScope,
        asset_scope: AssetScope,
    ) -> None:
        cross = asset_scope if scope == task_scope else task_scope
        for target in (scope, other_scope, cross):
            backend.set(target, "k", StoredValue("mem://k", REF_BACKEND))
        assert backend.clear(scope) == [StoredValue("mem://k", REF_BACKEND)]
        assert backend.get(other_scope, "k") == StoredValue("mem://k", REF_BACKEND)
        assert backend.get(cross, "k") == StoredValue("mem://k", REF_BACKEND)

    def test_clear_one_map_index(
        self, backend: BaseStateBackend, mapped_task_scopes: list[TaskScope]
    ) -> None:
        for scope in mapped_task_scopes:
            backend.set(scope, "k", StoredValue(f"mem://{scope.map_index}", REF_BACKEND))
        first, *rest = mapped_task_scopes
        assert backend.clear(first) == [StoredValue(f"mem://{first.map_index}", REF_BACKEND)]
        assert backend.get(first, "k") is None
        for scope in rest:
            assert backend.get(scope, "k") is not None

    def test_clear_all_map_indices(
        self,
        backend: BaseStateBackend,
        mapped_task_scopes: list[TaskScope],
        task_scope: TaskScope,
        asset_scope: AssetScope,
    ) -> None:
        for scope in mapped_task_scopes:
            backend.set(scope, "ref", StoredValue(f"mem://{scope.map_index}", REF_BACKEND))
            backend.set(scope, "inline", StoredValue("1"))
        backend.set(task_scope, "ref", StoredValue("mem://other-task", REF_BACKEND))
        backend.set(asset_scope, "ref", StoredValue("mem://asset", REF_BACKEND))
        removed = backend.clear(mapped_task_scopes[0], all_map_indices=True)
        assert sorted(s.data for s in removed) == sorted(
            f"mem://{scope.map_index}" for scope in mapped_task_scopes
        )
        for scope in mapped_task_scopes:
            assert backend.get(scope, "ref") is None
            assert backend.get(scope, "inline") is None
        assert backend.get(task_scope, "ref") is not None
        assert backend.get(asset_scope, "ref") is not None

    def test_all_map_indices_has_no_effect_on_asset_scope(
        self, backend: BaseStateBackend, asset_scope: AssetScope, other_asset_scope: AssetScope
    ) -> None:
        backend.set(asset_scope, "k", StoredValue("mem://a", REF_BACKEND))
        backend.set(other_asset_scope, "k", StoredValue("mem://b", REF_BACKEND))
        assert backend.clear(asset_scope, all_map_indices=True) == [
            StoredValue("mem://a", REF_BACKEND)
        ]
        assert backend.get(other_asset_scope, "k") is not None

    # -- list_entries ---------------------------------------------------------------------------

    def test_list_entries_ordered_by_key(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        keys = ["b", "a", "B", "a/b", "a-b", "é", "z", "Ω", "10", "9", "_"]
        started = datetime.now().astimezone()
        for key in keys:
            backend.set(scope, key, StoredValue(f'"{key}"'))
        backend.set(scope, "z", StoredValue("mem://z", REF_BACKEND))
        entries = _entries(backend, scope)
        assert [entry.key for entry in entries] == sorted(keys)
        by_key = {entry.key: entry for entry in entries}
        assert by_key["a"].stored == StoredValue('"a"')
        assert by_key["z"].stored == StoredValue("mem://z", REF_BACKEND)
        for entry in entries:
            assert entry.updated_at.tzinfo is not None
            assert entry.updated_at >= started - timedelta(seconds=5)

    def test_list_entries_of_empty_scope(
        self, backend: BaseStateBackend, scope: StateScope, other_scope: StateScope
    ) -> None:
        backend.set(other_scope, "k", StoredValue("1"))
        assert _entries(backend, scope) == []

    # -- async twins ----------------------------------------------------------------------------

    def test_aget_missing_key_is_none(self, backend: BaseStateBackend, scope: StateScope) -> None:
        assert self.run_async(backend.aget(scope, "missing")) is None

    def test_async_twins_see_sync_writes(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue("mem://k", REF_BACKEND))
        backend.set(scope, "v", StoredValue('"v"'))

        async def scenario() -> None:
            assert await backend.aget(scope, "k") == StoredValue("mem://k", REF_BACKEND)
            assert await backend.adelete(scope, "v") == StoredValue('"v"')
            assert await backend.adelete(scope, "v") is None

        self.run_async(scenario())
        assert backend.get(scope, "v") is None

    def test_sync_sees_async_writes(self, backend: BaseStateBackend, scope: StateScope) -> None:
        async def scenario() -> None:
            await backend.aset(scope, "k", StoredValue("1"))
            await backend.aset(scope, "k", StoredValue("2"))
            await backend.aset(scope, "r", StoredValue("mem://r", REF_BACKEND))

        self.run_async(scenario())
        assert backend.get(scope, "k") == StoredValue("2")
        assert backend.get(scope, "r") == StoredValue("mem://r", REF_BACKEND)

    def test_aclear_returns_only_refs(
        self, backend: BaseStateBackend, scope: StateScope, other_scope: StateScope
    ) -> None:
        backend.set(scope, "inline", StoredValue("1"))
        backend.set(scope, "ref", StoredValue("mem://r", REF_BACKEND))
        backend.set(other_scope, "ref", StoredValue("mem://o", REF_BACKEND))
        removed = self.run_async(backend.aclear(scope))
        assert removed == [StoredValue("mem://r", REF_BACKEND)]
        assert backend.get(scope, "inline") is None
        assert backend.get(other_scope, "ref") is not None

    def test_aclear_all_map_indices(
        self, backend: BaseStateBackend, mapped_task_scopes: list[TaskScope]
    ) -> None:
        for scope in mapped_task_scopes:
            backend.set(scope, "ref", StoredValue(f"mem://{scope.map_index}", REF_BACKEND))
        removed = self.run_async(backend.aclear(mapped_task_scopes[-1], all_map_indices=True))
        assert len(removed) == len(mapped_task_scopes)
        assert all(backend.get(scope, "ref") is None for scope in mapped_task_scopes)

    def test_alist_entries_agrees_with_list_entries(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        for key in ("b", "a", "ключ"):
            backend.set(scope, key, StoredValue(f'"{key}"'))
        entries = _entries(backend, scope)
        assert self.run_async(backend.alist_entries(scope)) == entries

    @pytest.mark.parametrize("key", ODD_KEYS, ids=["slash", "unicode", "512-chars", "punct", "q"])
    def test_async_unusual_keys_round_trip(
        self, backend: BaseStateBackend, scope: StateScope, key: str
    ) -> None:
        async def scenario() -> None:
            await backend.aset(scope, key, StoredValue('"v"'))
            assert await backend.aget(scope, key) == StoredValue('"v"')

        self.run_async(scenario())
        assert backend.get(scope, key) == StoredValue('"v"')

    # -- finding references (for the purge) --------------------------------------------------

    def _find_refs(self, backend: BaseStateBackend, refs: list[str]) -> frozenset[str]:
        look_up = functools.partial(backend.find_refs, REF_BACKEND, refs)
        return supported(look_up, "look up references", backend)

    def test_find_refs_names_stored_refs_only(
        self,
        backend: BaseStateBackend,
        task_scope: TaskScope,
        asset_scope: AssetScope,
    ) -> None:
        tag = uuid.uuid4().hex
        held_task, held_asset, deleted, inline, other = (
            f"mem://{tag}/{name}" for name in ("task", "asset", "deleted", "inline", "other")
        )
        backend.set(task_scope, "a", StoredValue(held_task, REF_BACKEND))
        backend.set(asset_scope, "a", StoredValue(held_asset, REF_BACKEND))
        backend.set(task_scope, "gone", StoredValue(deleted, REF_BACKEND))
        backend.delete(task_scope, "gone")
        # The same text stored inline, or by another backend, is not a reference of REF_BACKEND.
        backend.set(task_scope, "inline", StoredValue(inline))
        backend.set(asset_scope, "other", StoredValue(other, "another.Backend"))
        asked = [held_task, held_asset, deleted, inline, other, f"mem://{tag}/never"]
        assert self._find_refs(backend, asked) == {held_task, held_asset}
        assert self.run_async(backend.afind_refs(REF_BACKEND, asked)) == {held_task, held_asset}

    def test_find_refs_of_nothing(self, backend: BaseStateBackend) -> None:
        assert self._find_refs(backend, []) == frozenset()

    def test_find_refs_sees_overwrites_and_clears(
        self, backend: BaseStateBackend, mapped_task_scopes: list[TaskScope]
    ) -> None:
        tag = uuid.uuid4().hex
        refs = [f"s3://bucket/{tag}/{'x' * 600}/{i}" for i in range(len(mapped_task_scopes))]
        for scope, ref in zip(mapped_task_scopes, refs, strict=True):
            backend.set(scope, "k", StoredValue(ref, REF_BACKEND))
        assert self._find_refs(backend, refs) == set(refs)  # long refs share their index prefix
        backend.set(mapped_task_scopes[0], "k", StoredValue('"inline now"'))
        assert self._find_refs(backend, refs) == set(refs[1:])
        backend.clear(mapped_task_scopes[0], all_map_indices=True)
        assert self._find_refs(backend, refs) == frozenset()
