"""``python -m taskstate.supervisor``: supervise one task instance described on stdin (JSON)."""

import sys

import msgspec

from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.process import Outcome, supervise

try:
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=SupervisorJob)
except msgspec.DecodeError as exc:
    print(f"[supervisor] malformed job on stdin: {exc}", file=sys.stderr)
    sys.exit(Outcome.ERROR)
sys.exit(supervise(job, handle_signals=True))
