"""Bad input inside a task: each call raises its typed error and changes nothing stored.

``check`` raises the error, checks its class, reads the stored values back, and prints one
``ok <case>`` line per case; the test compares that list with the cases it expects.
"""

import math
from datetime import UTC, datetime

from taskstate import errors
from taskstate.contracts.frames import GetState, SetState
from taskstate.contracts.scopes import AssetNamed
from taskstate.sdk import DAG, Asset, task

mine = Asset(name="e2e_mine", uri="file:///tmp/e2e-mine")
theirs = Asset(name="e2e_theirs", uri="file:///tmp/e2e-theirs")

ORIGINAL = {"n": 1}


with DAG(dag_id="e2e_bad_input", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(outlets=[theirs])
    def owner(asset_state):
        asset_state.set("secret", "theirs")

    @task(inlets=[mine])
    def misuse(task_state, asset_state):
        task_state.set("k", ORIGINAL)
        asset_state[mine].set("k", ORIGINAL)

        def unchanged():
            assert task_state.get("k") == ORIGINAL, task_state.get("k")
            assert asset_state[mine].get("k") == ORIGINAL, asset_state[mine].get("k")

        def check(case, error, call):
            raised = None
            try:
                call()
            except errors.TaskStateError as exc:
                raised = exc
            if type(raised) is not error:
                raise AssertionError(f"{case}: expected {error.__name__}, got {raised!r}")
            print(f"ok {case}: {type(raised).__name__}: {raised}")
            unchanged()

        ts = task_state
        mine_state = asset_state[mine]
        check("empty key", errors.InvalidKeyError, lambda: ts.set("", 1))
        check("empty key get", errors.InvalidKeyError, lambda: ts.get(""))
        check("empty key asset", errors.InvalidKeyError, lambda: mine_state.set("", 1))
        check("key of 513", errors.InvalidKeyError, lambda: ts.set("k" * 513, 1))
        check("key of 513 delete", errors.InvalidKeyError, lambda: ts.delete("k" * 513))
        check("value None", errors.InvalidValueError, lambda: ts.set("k", None))
        check("value NaN", errors.InvalidValueError, lambda: ts.set("k", math.nan))
        check("nested inf", errors.InvalidValueError, lambda: ts.set("k", {"a": [math.inf]}))
        check("value set()", errors.InvalidValueError, lambda: ts.set("k", {1, 2}))
        check("value object()", errors.InvalidValueError, lambda: ts.set("k", object()))
        check("asset value None", errors.InvalidValueError, lambda: mine_state.set("k", None))
        check(
            "too large",
            errors.ValueTooLargeError,
            lambda: ts.set("k", "x" * 2000),  # the test sets max_value_bytes to 1000
        )
        check("unknown asset", errors.UndeclaredAssetError, lambda: asset_state["nope"])
        check("undeclared asset", errors.UndeclaredAssetError, lambda: asset_state[theirs])
        check(
            "undeclared asset by name",
            errors.UndeclaredAssetError,
            lambda: asset_state["e2e_theirs"].get("secret"),
        )
        # Past the task process's own checks: the API server refuses the token for an asset
        # the task does not declare.
        comms = task_state._comms
        check(
            "server undeclared asset get",
            errors.UndeclaredAssetError,
            lambda: comms.send(GetState(AssetNamed("e2e_theirs"), "secret")),
        )
        check(
            "server undeclared asset set",
            errors.UndeclaredAssetError,
            lambda: comms.send(SetState(AssetNamed("e2e_theirs"), "secret", b'"stolen"')),
        )
        check(
            "server null value",
            errors.InvalidValueError,
            lambda: comms.send(SetState(AssetNamed("e2e_mine"), "k", b"null")),
        )
        check(
            "server malformed JSON",
            errors.InvalidValueError,
            lambda: comms.send(SetState(AssetNamed("e2e_mine"), "k", b"{not json")),
        )
        print("bad input: ALL CHECKED")

    owner() >> misuse()
