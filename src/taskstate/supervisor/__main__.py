"""``python -m taskstate.supervisor``: supervise one task instance described on stdin (JSON)."""

import sys

import msgspec

from taskstate.hardening import make_undumpable
from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.process import Outcome, supervise

# Before the job (and its token) is read: no process of this user may read it from memory.
make_undumpable("supervisor")
try:
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=SupervisorJob)
except msgspec.DecodeError as exc:
    print(f"[supervisor] malformed job on stdin: {exc}", file=sys.stderr)
    sys.exit(Outcome.ERROR)
sys.exit(supervise(job, handle_signals=True))
