"""What an Airflow task sees: the run's dates, params with the run's conf over them, templates
in a task's arguments, ``var``/``conn`` from the environment, and both names of the state
accessors."""

import json
from datetime import UTC, datetime

from taskstate.sdk import DAG, Param, task

with DAG(dag_id="e2e_airflow_context", start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:

    @task
    def show(ds=None, params=None, dag_run=None, data_interval_start=None, ts=None, **context):
        seen = {
            "ds": ds,
            "ts": ts,
            "params": params,
            "conf": dag_run.conf,
            "run_type": dag_run.run_type,
            "logical_date": dag_run.logical_date.isoformat(),
            "data_interval": [
                data_interval_start.isoformat(),
                context["data_interval_end"].isoformat(),
            ],
            "tomorrow": context["macros"].ds_add(ds, 1),
            "region": context["var"]["value"].region,
            "warehouse": context["conn"].warehouse.host,
        }
        print("SEEN " + json.dumps(seen, sort_keys=True))

    @task
    def extract():
        return {"rows": [1, 2, 3]}

    @task
    def braces():
        return "{{ an output is data, never a template }}"

    @task
    def report(message, rows, output):
        print("RENDERED " + message)
        print("ROWS " + json.dumps(rows))
        print("OUTPUT " + json.dumps(output))

    @task
    def both_names(task_state_store=None, task_state=None, asset_state_store=None):
        task_state_store.set("seen", "through task_state_store")
        print("SAME " + json.dumps([task_state_store is task_state, asset_state_store is not None]))
        print("GOT " + task_state.get("seen"))

    rows = extract()
    show()
    report(
        "ds={{ ds }} x={{ params.x }} k={{ dag_run.conf.get('k', 'none') }}"
        " tomorrow={{ macros.ds_add(ds, 1) }}"
        " pulled={{ ti.xcom_pull(task_ids='extract')['rows'] | length }}"
        " region={{ var.value.region }} project={{ project }}",
        rows,
        braces(),
    )
    both_names()

# The DAG's params and macros, set as attributes until DAG(params=..., user_defined_macros=...)
# takes them.
dag.params = {"x": Param(1, type="integer", minimum=0), "label": "default"}
dag.user_defined_macros = {"project": "lake"}
