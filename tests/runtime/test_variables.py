"""``var`` and ``conn`` in the context: Airflow Variables and Connections read from the task's
environment, and ``macros``."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime

import pytest

from taskstate.errors import ConnectionNotFoundError, InvalidValueError, VariableNotFoundError
from taskstate.runtime import macros
from taskstate.runtime.connections import Connection, ConnectionAccessor, parse_connection
from taskstate.runtime.variables import VariableAccessor, variables

ENV = {
    "AIRFLOW_VAR_REGION": "eu-west-1",
    "AIRFLOW_VAR_LIMITS": '{"rows": 10}',
    "TASKSTATE_VAR_REGION": "eu-central-1",  # ours wins over Airflow's name
    "AIRFLOW_VAR_BROKEN": "{not json",
    "AIRFLOW_CONN_WAREHOUSE": "postgresql://us%40er:p%40ss@DB.example:5432/orders?sslmode=require",
    "TASKSTATE_CONN_API": '{"conn_type": "http", "host": "api.example", "port": "8443", '
    '"extra": {"verify": false}}',
}


def test_var_value_and_var_json() -> None:
    var = variables(ENV)
    assert var["value"].region == "eu-central-1"
    assert var["value"].limits == '{"rows": 10}'
    assert var["json"].limits == {"rows": 10}
    assert var["value"].get("limits") == '{"rows": 10}'
    assert var["value"].get("nope") is None
    assert var["json"].get("nope", {"d": 1}) == {"d": 1}


def test_a_missing_variable_is_a_typed_key_error() -> None:
    accessor = VariableAccessor(deserialize_json=False, environ=ENV)
    with pytest.raises(VariableNotFoundError) as caught:
        accessor.missing_one  # noqa: B018
    error = caught.value
    assert isinstance(error, KeyError)
    assert str(error) == error.message
    assert "TASKSTATE_VAR_MISSING_ONE or AIRFLOW_VAR_MISSING_ONE" in error.message
    assert error.detail == {"variable": "missing_one"}


def test_var_json_of_text_that_is_not_json() -> None:
    with pytest.raises(InvalidValueError, match=r"AIRFLOW_VAR_BROKEN.*not JSON"):
        variables(ENV)["json"].broken  # noqa: B018


def test_variables_are_read_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    accessor = VariableAccessor(deserialize_json=False)
    monkeypatch.setenv("AIRFLOW_VAR_LATE", "set after the accessor was made")
    assert accessor.late == "set after the accessor was made"


def test_accessors_survive_copy_and_pickle() -> None:
    # copy and pickle probe for dunder methods, which must not be read as variable names.
    accessor = VariableAccessor(deserialize_json=True, environ=ENV)
    assert copy.deepcopy(accessor).limits == {"rows": 10}
    assert pickle.loads(pickle.dumps(ConnectionAccessor(ENV))).get("nope") is None


def test_a_connection_from_a_uri() -> None:
    conn = ConnectionAccessor(ENV).warehouse
    assert conn == Connection(
        conn_id="warehouse",
        conn_type="postgres",
        host="db.example",
        schema="orders",
        login="us@er",
        password="p@ss",
        port=5432,
        extra='{"sslmode": "require"}',
    )
    assert conn.extra_dejson == {"sslmode": "require"}
    assert "p@ss" not in repr(conn)


def test_a_connection_from_json() -> None:
    conn = ConnectionAccessor(ENV).api
    assert (conn.conn_type, conn.host, conn.port) == ("http", "api.example", 8443)
    assert conn.extra_dejson == {"verify": False}
    assert conn.login is None


@pytest.mark.parametrize(
    ("uri", "parts"),
    [
        # As Airflow 3.3.2's Connection.from_uri parses them (checked against it).
        ("http://https%3A%2F%2Fexample.com", ("http", "https://example.com", "", None, None)),
        ("http://https://example.com/path", ("http", "https://example.com", "path", None, None)),
        (
            "aws://?__extra__=%7B%22region%22%3A%22eu%22%7D",
            ("aws", "", "", None, '{"region":"eu"}'),
        ),
        ("my-type://h:1", ("my_type", "h", "", 1, None)),
    ],
)
def test_uris_parse_as_airflow_parses_them(uri: str, parts: tuple[object, ...]) -> None:
    conn = parse_connection("c", uri)
    assert (conn.conn_type, conn.host, conn.schema, conn.port, conn.extra) == parts


def test_bad_connections() -> None:
    with pytest.raises(InvalidValueError, match="port"):
        parse_connection("c", "http://h:notaport")
    with pytest.raises(InvalidValueError, match="not valid JSON"):
        parse_connection("c", "{oops")
    with pytest.raises(ConnectionNotFoundError, match="AIRFLOW_CONN_NOPE") as caught:
        ConnectionAccessor(ENV).nope  # noqa: B018
    assert isinstance(caught.value, KeyError)
    assert ConnectionAccessor(ENV).get("nope", "fallback") == "fallback"


def test_macros() -> None:
    assert macros.ds_add("2026-03-01", -1) == "2026-02-28"
    assert macros.ds_add("2026-03-01", 0) == "2026-03-01"
    assert macros.ds_format("2026-03-01", "%Y-%m-%d", "%d/%m/%y") == "01/03/26"
    assert macros.datetime(2026, 1, 1) == datetime(2026, 1, 1)
    assert macros.timedelta(days=1).days == 1
    assert 0 <= macros.random() < 1
    assert macros.json.loads("[1]") == [1]
    assert macros.uuid.UUID(int=0).int == 0
    assert isinstance(macros.time.time(), float)
    earlier = datetime(2026, 1, 1)
    assert macros.datetime_diff_for_humans(earlier, datetime(2026, 1, 3)) == "2 days before"
