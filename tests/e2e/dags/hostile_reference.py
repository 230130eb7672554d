"""A task that forges a reference to another task's object (the object-storage worker backend).

``victim`` stores a value through the worker backend and hands its task-instance id on;
``attacker`` finds the victim's object under the root and writes its URL, as a reference, into
its own task state with a raw ``SetState`` frame, as a hostile task may (the accessor would
never write it). Then it tries to read the victim's value through its own key, and to destroy
the victim's object by deleting and clearing its own keys. It leaves two forged keys behind,
for the test to delete through the public API and purge. It prints one line per attempt,
``HOSTILE {"attempt": ..., "outcome": ...}``, as ``dags/hostile.py`` does; the task itself
succeeds whatever it found.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from taskstate.backends.object_storage import encode_component
from taskstate.contracts.frames import GetState, SetState
from taskstate.errors import ForeignReferenceError, TaskStateError
from taskstate.sdk import DAG, task

OBJECT_STORAGE = "taskstate.backends.object_storage.ObjectStorageStateBackend"
VICTIM_VALUE = {"card": "4111 1111 1111 1111"}
LEFT_FOR_PURGE = ("forged kept", "forged kept too")
"""The forged keys the attacker leaves, for the test's public-API deletes and purges."""


def report(attempt, outcome, **detail):
    print("HOSTILE " + json.dumps({"attempt": attempt, "outcome": outcome, **detail}))


def plant(task_state, key, ref):
    """Write ``ref`` as the reference of ``key`` in the task's own state, past the accessor."""
    task_state._comms.send(SetState(task_state._scope, key, ref.encode(), OBJECT_STORAGE))


def kept(victim_object):
    return "kept" if victim_object.exists() else "removed"


with DAG(dag_id="e2e_hostile_reference", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def victim(task_state, ti):
        task_state.set("secret", VICTIM_VALUE)
        return ti.id

    @task
    def attacker(victim_id, task_state):
        # The objects are listed by anyone who can reach the storage; the victim's is named
        # by its task-instance id and key.
        backend = task_state._worker.backend
        folder = f"/task/{encode_component(victim_id)}/{encode_component('secret')}/"
        [ref] = [url for url in backend.iter_objects() if folder in url]
        victim_object = Path(ref.removeprefix("file://"))
        report("victim object", "found", ref=ref)

        plant(task_state, "forged", ref)
        try:
            value = task_state.get("forged")
        except ForeignReferenceError as exc:
            report("get", "refused", error=exc.code, status=exc.status)
        except TaskStateError as exc:
            report("get", f"error {type(exc).__name__}", message=str(exc))
        else:
            report("get", "read", value=value)

        for attempt, remove in (
            ("delete", lambda: task_state.delete("forged")),
            ("clear", task_state.clear),
        ):
            plant(task_state, "forged", ref)
            try:
                remove()
            except TaskStateError as exc:
                raised = type(exc).__name__
            else:
                raised = None
            left = task_state._comms.send(GetState(task_state._scope, "forged")).data
            report(attempt, kept(victim_object), raised=raised, key_left=left is not None)

        for key in LEFT_FOR_PURGE:
            plant(task_state, key, ref)
        report("left for purge", kept(victim_object), keys=list(LEFT_FOR_PURGE))

    attacker(victim())
