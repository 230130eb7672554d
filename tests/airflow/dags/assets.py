"""Asset events: ``outlet_events[asset].extra``, ``yield Metadata(...)`` and an
``AssetAlias``'s ``outlet_events[alias].add(asset, extra=...)`` record events with extra when a
try succeeds (a failed try records none); a later task of the same run and the runs of other
DAGs read them through ``inlet_events``; an ``@asset`` records its own; a schedule on an asset
expression is accepted. Run in order: ``asset_producer``, ``daily_report``,
``asset_consumer``."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, AssetAlias, Metadata, asset, task

orders = Asset(name="orders", uri="s3://lake/orders")
alias = AssetAlias(name="orders-alias")


def extras(events):
    return [event.extra for event in events]


with DAG(dag_id="asset_producer", schedule=None, start_date=datetime(2026, 1, 1)):

    @task(outlets=[orders])
    def by_context(outlet_events=None):
        outlet_events[orders].extra = {"rows": 10, "by": "context"}
        return "by context"

    @task(outlets=[orders])
    def by_yield():
        yield Metadata(orders, {"rows": 20, "by": "yield"})

    @task(outlets=[alias])
    def by_alias(outlet_events=None):
        outlet_events[alias].add(orders, extra={"rows": 30, "by": "alias"})

    @task(outlets=[orders])
    def fails(outlet_events=None):
        outlet_events[orders].extra = {"rows": -1}
        raise RuntimeError("no event for a failed try")

    @task(inlets=[orders])
    def read_same_run(inlet_events=None):
        return extras(inlet_events[orders])

    producers = by_context() >> by_yield() >> by_alias() >> fails()
    producers >> read_same_run.override(trigger_rule="all_done")()


@asset(schedule=None)
def daily_report():
    return {"report": "ready"}


with DAG(dag_id="asset_consumer", schedule=orders | daily_report, start_date=datetime(2026, 1, 1)):

    @task(inlets=[orders, daily_report])
    def read_later(inlet_events=None):
        events = inlet_events[orders]
        return {
            "orders": extras(events),
            "last_source": [events[-1].source_dag_id, events[-1].source_task_id],
            "report": extras(inlet_events[daily_report]),
        }

    read_later()
