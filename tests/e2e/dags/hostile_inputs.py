"""Hostile inputs from inside a task, through the SDK and past it (raw frames to the supervisor):
each call raises its typed error, and nothing stored changes.

One ``ok <case>: <error class>`` line per case; ``tests/e2e/test_hostile_inputs.py`` compares the
list with the cases it expects, then reads the stored state back through the CLI.
"""

import math
from datetime import UTC, datetime, timedelta

from taskstate import errors
from taskstate.contracts.frames import GetState, SetState
from taskstate.contracts.scopes import AssetNamed, OwnTask
from taskstate.sdk import DAG, Asset, task

mine = Asset(name="hostile_mine", uri="file:///tmp/hostile-mine")
theirs = Asset(name="hostile_theirs", uri="file:///tmp/hostile-theirs")

ORIGINAL = {"n": 1}


def deep(levels):
    """A list nested ``levels`` deep, built without recursion."""
    value = []
    for _ in range(levels - 1):
        value = [value]
    return value


with DAG(dag_id="hostile_inputs", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(outlets=[theirs])
    def owner(asset_state):
        asset_state.set("secret", "theirs")

    @task(inlets=[mine])
    def attacker(task_state, asset_state):
        task_state.set("k", ORIGINAL)
        asset_state[mine].set("k", ORIGINAL)
        ts, ms = task_state, asset_state[mine]
        comms = task_state._comms

        def unchanged():
            assert ts.get("k") == ORIGINAL, ts.get("k")
            assert ms.get("k") == ORIGINAL, ms.get("k")
            assert ts.get("x") is None

        def check(case, error, call):
            raised = None
            try:
                call()
            except errors.TaskStateError as exc:
                raised = exc
            if type(raised) is not error:
                raise AssertionError(f"{case}: expected {error.__name__}, got {raised!r}")
            print(f"ok {case}: {type(raised).__name__}: {raised.message[:120]}")
            unchanged()

        bad_key = errors.InvalidKeyError
        bad_value = errors.InvalidValueError
        bad_retention = errors.InvalidRetentionError
        # Keys.
        check("empty key", bad_key, lambda: ts.set("", 1))
        check("key of 513", bad_key, lambda: ts.set("k" * 513, 1))
        check("NUL key", bad_key, lambda: ts.set("a\x00b", 1))
        check("newline key", bad_key, lambda: ts.get("a\nb"))
        check("int key", bad_key, lambda: ts.set(5, 1))
        check("None key", bad_key, lambda: ts.delete(None))
        check("lone surrogate key", bad_key, lambda: ts.set("a\ud800", 1))
        # Values.
        check("None", bad_value, lambda: ts.set("x", None))
        check("NaN", bad_value, lambda: ts.set("x", math.nan))
        check("-inf nested", bad_value, lambda: ts.set("x", {"a": [-math.inf]}))
        check("lone surrogate value", bad_value, lambda: ts.set("x", "a\udc00"))
        check("lone surrogate object key", bad_value, lambda: ts.set("x", {"\ud800": 1}))
        check("NUL in value", bad_value, lambda: ts.set("x", "a\x00b"))
        check("300 deep", bad_value, lambda: ts.set("x", deep(300)))
        check("100k deep", bad_value, lambda: ts.set("x", deep(100_000)))
        check("10**5000", bad_value, lambda: ts.set("x", 10**5000))
        check("set", bad_value, lambda: ts.set("x", {1, 2}))
        check("bytes", bad_value, lambda: ts.set("x", b"raw"))
        check("over max_value_bytes", errors.ValueTooLargeError, lambda: ts.set("x", "v" * 10_000))
        check("asset None", bad_value, lambda: ms.set("x", None))
        # Retention.
        check("zero retention", bad_retention, lambda: ts.set("x", 1, retention=timedelta(0)))
        check("negative retention", bad_retention, lambda: ts.set("x", 1, retention=timedelta(-1)))
        check(
            "1000 years", bad_retention, lambda: ts.set("x", 1, retention=timedelta(days=365_000))
        )
        check("int retention", bad_retention, lambda: ts.set("x", 1, retention=5))
        # Assets.
        check("unknown asset", errors.UndeclaredAssetError, lambda: asset_state["nope"])
        check("undeclared asset", errors.UndeclaredAssetError, lambda: asset_state[theirs])
        # Past the task process's checks: frames the supervisor relays to the API server.
        undeclared = errors.UndeclaredAssetError
        check(
            "frame, undeclared get",
            undeclared,
            lambda: comms.send(GetState(AssetNamed(theirs.name), "secret")),
        )
        check(
            "frame, undeclared set",
            undeclared,
            lambda: comms.send(SetState(AssetNamed(theirs.name), "secret", b'"stolen"')),
        )
        for case, data in [
            ("frame, null", b"null"),
            ("frame, NaN", b"NaN"),
            ("frame, not JSON", b"{not json"),
            ("frame, 100k deep", b"[" * 100_000 + b"]" * 100_000),
            ("frame, lone surrogate", b'"\\ud800"'),
            ("frame, NUL escape", b'"a\\u0000"'),
            ("frame, invalid UTF-8", b'"\xed\xa0\x80"'),
        ]:
            check(case, bad_value, lambda data=data: comms.send(SetState(OwnTask(), "x", data)))
        check(
            "frame, retention 1e308",
            bad_retention,
            lambda: comms.send(SetState(OwnTask(), "x", b"1", retention=1e308)),
        )
        check(
            "frame, retention -1",
            bad_retention,
            lambda: comms.send(SetState(OwnTask(), "x", b"1", retention=-1.0)),
        )
        check(
            "frame, key of 600",
            bad_key,
            lambda: comms.send(SetState(OwnTask(), "k" * 600, b"1")),
        )
        print("hostile inputs: ALL CHECKED")

    owner() >> attacker()
