"""Task state and asset state with [workers] encryption_keys: a retry reads what try 1
encrypted, and each run reads the asset state an earlier run wrote (perhaps with an older key)."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

vault = Asset(name="e2e_vault", uri="file:///tmp/e2e-vault")
SECRET = "plaintext-marker-7f3a"

with DAG(dag_id="e2e_encryption", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(retries=1, outlets=[vault])
    def keeps(task_state, asset_state, ti):
        if ti.try_number == 1:
            task_state.set("token", {"secret": SECRET, "n": 1})
            raise RuntimeError("try 1 fails after set")
        # A new task process decrypts what try 1 encrypted.
        assert task_state.get("token") == {"secret": SECRET, "n": 1}
        ledger = asset_state.get("ledger", {"runs": []})
        runs = [*ledger["runs"], ti.run_id]
        asset_state.set("ledger", {"secret": SECRET, "runs": runs})
        assert asset_state.get("ledger") == {"secret": SECRET, "runs": runs}
        print(f"keeps: PASS after {len(runs)} runs")

    keeps()
