import pendulum

from taskstate.sdk import DAG, Asset, task

watched_asset = Asset(name="memory_backend_test_asset", uri="s3://aip103-test/memory-backend")

with DAG(
    dag_id="aip103_memory_backend_asset_state_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:

    @task(inlets=[watched_asset])
    def test_set_and_get(**context):
        """set() stores via backend, get() resolves via backend."""
        state = context["asset_state"][watched_asset]
        state.set("watermark", "2026-05-01")
        state.set("file_count", "42")

        result = state.get("watermark")
        print(f"get('watermark') = {result!r}")
        assert result == "2026-05-01", f"Expected '2026-05-01', got {result!r}"

        result2 = state.get("file_count")
        print(f"get('file_count') = {result2!r}")
        assert result2 == "42", f"Expected '42', got {result2!r}"

        print("set + get: PASS")

    @task(inlets=[watched_asset])
    def test_delete(**context):
        """delete() purges from backend and removes DB reference."""
        state = context["asset_state"][watched_asset]
        state.set("to_delete", "temporary_value")

        assert state.get("to_delete") == "temporary_value"
        state.delete("to_delete")

        result = state.get("to_delete")
        print(f"get after delete = {result!r}")
        assert result is None, f"Expected None after delete, got {result!r}"

        print("delete: PASS")

    @task(inlets=[watched_asset])
    def test_clear(**context):
        """clear() purges all backend objects and removes all DB references."""
        state = context["asset_state"][watched_asset]
        state.set("key_a", "value_a")
        state.set("key_b", "value_b")

        state.clear()

        result_a = state.get("key_a")
        result_b = state.get("key_b")
        print(f"get after clear: key_a={result_a!r}, key_b={result_b!r}")
        assert result_a is None and result_b is None, "Expected None for all keys after clear"

        print("clear: PASS")

    test_set_and_get() >> test_delete() >> test_clear()
