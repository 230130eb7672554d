import pendulum

from taskstate.sdk import DAG, task

with DAG(
    dag_id="aip103_memory_backend_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
) as dag:

    @task
    def test_set_and_get(**context):
        """set() stores via backend, get() resolves via backend."""
        ts = context["task_state"]
        ts.set("job_id", "spark_app_001")
        ts.set("checkpoint", "step_3")

        result = ts.get("job_id")
        print(f"get('job_id') = {result!r}")
        assert result == "spark_app_001", f"Expected 'spark_app_001', got {result!r}"

        result2 = ts.get("checkpoint")
        print(f"get('checkpoint') = {result2!r}")
        assert result2 == "step_3", f"Expected 'step_3', got {result2!r}"

        print("set + get: PASS")

    @task
    def test_delete(**context):
        """delete() purges from backend and removes DB reference."""
        ts = context["task_state"]
        ts.set("to_delete", "temporary_value")

        assert ts.get("to_delete") == "temporary_value"
        ts.delete("to_delete")

        result = ts.get("to_delete")
        print(f"get after delete = {result!r}")
        assert result is None, f"Expected None after delete, got {result!r}"

        print("delete: PASS")

    @task
    def test_clear(**context):
        """clear() purges all backend objects and removes all DB references."""
        ts = context["task_state"]
        ts.set("key_a", "value_a")
        ts.set("key_b", "value_b")

        ts.clear()

        result_a = ts.get("key_a")
        result_b = ts.get("key_b")
        print(f"get after clear: key_a={result_a!r}, key_b={result_b!r}")
        assert result_a is None and result_b is None, "Expected None for all keys after clear"

        print("clear: PASS")

    test_set_and_get() >> test_delete() >> test_clear()
