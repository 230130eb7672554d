"""schemathesis over both APIs' OpenAPI documents, against a real server on the test database.

Every operation of ``/openapi/public.json`` and ``/openapi/execution.json`` gets generated
requests (valid and invalid: huge integers, NUL bytes, odd strings, wrong types), sent with real
credentials to a server holding a run and a started task instance. Two checks, on every answer:
no server error (5xx), and no status the document does not declare. The number of examples per
operation is bounded so that each API takes about a minute; ``TASKSTATE_FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, status_code_conformance
from tests.conftest import HomeDatabases, settings_env

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.public import PublicClient
from taskstate.config import load_settings

EXAMPLES = int(os.environ.get("TASKSTATE_FUZZ_EXAMPLES", "20"))


@dataclass
class Target:
    url: str
    api_key: str
    token: str
    ti_id: str


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, module_home_databases: HomeDatabases
) -> Iterator[Target]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    config = load_settings(env=settings_env(home, **module_home_databases.env(home)))
    with EmbeddedServer(config) as server:
        api_key = client_api_key(config)
        with PublicClient(server.url, api_key) as public:
            public.create_run(
                {
                    "dag_id": "etl",
                    "run_id": "r1",
                    "tasks": [
                        {"task_id": "load", "inlets": [{"name": "orders", "uri": "s3://o"}]},
                    ],
                }
            )
            ti_id = public.get_run("etl", "r1")["task_instances"][0]["id"]
            token = public.queue_task_instance(ti_id)["token"]
        headers = {"authorization": f"Bearer {token}"}
        started = httpx.post(
            f"{server.url}/execution/task-instances/{ti_id}/start",
            json={"pid": os.getpid(), "hostname": "fuzz"},
            headers=headers,
        )
        assert started.status_code == 200, started.text
        yield Target(server.url, api_key, token, ti_id)


def _failures(target: Target, api: str) -> list[str]:
    document = httpx.get(f"{target.url}/openapi/{api}.json").json()
    schema = schemathesis.openapi.from_dict(document)
    credential = target.api_key if api == "public" else target.token
    headers = {"authorization": f"Bearer {credential}"}
    found: list[str] = []
    statuses: dict[int, int] = {}

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(), real=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any, real: bool) -> None:
            if real:
                # Half the requests name the real task instance and asset, to get past the
                # scope checks and reach the database.
                if "ti_id" in (case.path_parameters or {}):
                    case.path_parameters["ti_id"] = target.ti_id
                if case.query and "name" in case.query:
                    case.query["name"] = "orders"
            try:
                answer = case.call_and_validate(
                    base_url=target.url,
                    headers=headers,
                    checks=[not_a_server_error, status_code_conformance],
                    timeout=30,
                )
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            except Exception as failure:
                label = case.operation.label
                found.append(f"{label}: {type(failure).__name__}: {failure}"[:600])

        fuzz()
    # The fuzzer got past the credentials and the scope checks, to answers from the handlers.
    assert statuses.get(200, 0) > 20, statuses
    return found


@pytest.mark.timeout(240)
@pytest.mark.parametrize("api", ["public", "execution"])
def test_no_server_error_and_no_undocumented_status(target: Target, api: str) -> None:
    failures = _failures(target, api)
    assert not failures, "\n".join(failures[:20])


def test_both_documents_declare_every_route_errors_and_bearer_auth(target: Target) -> None:
    public = httpx.get(f"{target.url}/openapi/public.json").json()
    execution = httpx.get(f"{target.url}/openapi/execution.json").json()
    assert "/execution/state/ti/{ti_id}/{key}" in execution["paths"]
    assert "/execution/state/asset" in execution["paths"]
    assert "/api/v1/dag-runs" in public["paths"]
    for document, scheme in ((public, "apiKey"), (execution, "taskInstanceToken")):
        assert document["components"]["securitySchemes"][scheme]["scheme"] == "bearer"
        for item in document["paths"].values():
            for operation in item.values():
                assert operation["security"] == [{scheme: []}]
                assert {"400", "401", "403", "404", "413"} <= set(operation["responses"])
                assert "422" not in operation["responses"]


def test_every_route_served_is_in_a_document(target: Target) -> None:
    from taskstate.api.execution import STATE_ROUTES

    public = httpx.get(f"{target.url}/openapi/public.json").json()
    execution = httpx.get(f"{target.url}/openapi/execution.json").json()
    documented = {
        (path, method.upper())
        for document in (public, execution)
        for path, item in document["paths"].items()
        for method in item
    }
    served = {
        (route.path.replace(":state_key", ""), method)
        for route in STATE_ROUTES
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served <= documented, served - documented
    bodies = {
        ("/execution/task-instances/{ti_id}/start", "post"),
        ("/execution/task-instances/{ti_id}/finish", "post"),
        ("/execution/outputs/ti/{ti_id}", "put"),
        ("/execution/task-instances/{ti_id}/asset-events", "post"),
    }
    for path, method in bodies:
        assert "requestBody" in execution["paths"][path][method], path
    assert "requestBody" in public["paths"]["/api/v1/dag-runs"]["post"]
