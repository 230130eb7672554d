"""Writers that set keys again and again through a worker backend whose references are the same
for every write of a key (``file_state_backend.py``), while the test clears their state through
the public API and drains the purge queue. After every set the writer reads the key back: a row
that still names, at the same version, an object that is gone is a lost acknowledged write.
Each writer prints ``RACE {"writer": i, "sets": n, "lost": [...]}``.
"""

import json
import os
from datetime import UTC, datetime

from taskstate.contracts.frames import GetState
from taskstate.errors import ReferenceResolutionError
from taskstate.sdk import DAG, task

SETS = int(os.environ.get("E2E_RACE_SETS", "300"))
KEYS = 3


def lost_write(task_state, key):
    """A description of the loss if ``key``'s live row names a purged object, else None."""
    first = task_state._comms.send(GetState(task_state._scope, key))
    if first.data is None or first.ref_backend is None:
        return None
    try:
        task_state._worker.resolve(task_state._owner, key, first.data.decode(), what="race")
    except ReferenceResolutionError:
        again = task_state._comms.send(GetState(task_state._scope, key))
        if again.data == first.data and again.version == first.version:
            return f"{key} at version {first.version}"
    return None


with DAG(dag_id="e2e_purge_race", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def writer(index, task_state):
        lost = []
        for i in range(SETS):
            key = f"k{i % KEYS}"
            task_state.set(key, {"writer": index, "i": i})
            if (loss := lost_write(task_state, key)) is not None:
                lost.append(loss)
        print("RACE " + json.dumps({"writer": index, "sets": SETS, "lost": lost}))

    writer.expand(index=[0, 1, 2, 3])
