from taskstate.state import BaseStateBackend, StateScope


class MemoryStateBackend(BaseStateBackend):
    """Worker-side state backend that stores values in a process-local dict."""

    _store: dict[str, str] = {}

    def _ref(self, namespace: str, key: str) -> str:
        return f"mem://{namespace}/{key}"

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        ref = self._ref(ti_id, key)
        self._store[ref] = value
        print(f"[MemoryStateBackend] task stored {key!r} → {ref!r}")
        return ref

    def deserialize_task_state_value(self, stored: str) -> str:
        if stored.startswith("mem://"):
            value = self._store.get(stored, stored)
            print(f"[MemoryStateBackend] task resolved {stored!r} → {value!r}")
            return value
        return stored

    def serialize_asset_state_value(self, *, value: str, key: str, asset_name: str) -> str:
        ref = self._ref(asset_name, key)
        self._store[ref] = value
        print(f"[MemoryStateBackend] asset stored {key!r} → {ref!r}")
        return ref

    def deserialize_asset_state_value(self, stored: str) -> str:
        if stored.startswith("mem://"):
            value = self._store.get(stored, stored)
            print(f"[MemoryStateBackend] asset resolved {stored!r} → {value!r}")
            return value
        return stored

    def purge_task_state(self, stored: str) -> None:
        if stored.startswith("mem://") and stored in self._store:
            del self._store[stored]
            print(f"[MemoryStateBackend] task purged {stored!r}")

    def purge_asset_state(self, stored: str) -> None:
        if stored.startswith("mem://") and stored in self._store:
            del self._store[stored]
            print(f"[MemoryStateBackend] asset purged {stored!r}")

    def get(self, scope: StateScope, key: str, *, session=None) -> str | None:
        raise NotImplementedError("Worker-side backend — use serialize/deserialize instead")

    def set(self, scope: StateScope, key: str, value: str, *, session=None) -> None:
        raise NotImplementedError("Worker-side backend — use serialize/deserialize instead")

    def delete(self, scope: StateScope, key: str, *, session=None) -> None:
        raise NotImplementedError("Worker-side backend — use serialize/deserialize instead")

    def clear(self, scope: StateScope, *, all_map_indices: bool = False, session=None) -> None:
        raise NotImplementedError("Worker-side backend — use serialize/deserialize instead")

    async def aget(self, scope: StateScope, key: str, *, session=None) -> str | None:
        raise NotImplementedError

    async def aset(self, scope: StateScope, key: str, value: str, *, session=None) -> None:
        raise NotImplementedError

    async def adelete(self, scope: StateScope, key: str, *, session=None) -> None:
        raise NotImplementedError

    async def aclear(self, scope: StateScope, *, all_map_indices: bool = False, session=None) -> None:
        raise NotImplementedError
