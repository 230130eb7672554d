"""No object is orphaned on any path: task processes killed by SIGKILL at each step of set,
delete and clear, then ``taskstate state purge --orphans --older-than 0``.

Every case runs the DAG ``e2e_crash`` (dags/crash_dag.py) once, in one shared home over one
``file://`` root, with the worker backend dags/crash_backend.py set to kill the task at the
case's point; the purge runs right after each crash, so what it removed belongs to that crash.
The last tests list every reference through ``taskstate state list --json`` and read the asset
values back through a reader DAG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from taskstate.backends.object_storage import encode_component

from .conftest import DAGS, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = DAGS / "crash_dag.py"
BACKEND = "crash_backend.CrashingBackend"
KWARGS = "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS"
KEPT = "e2e_crash_kept"

# The values dags/crash_dag.py stores.
KEEP = {"keep_1": {"n": 1, "tags": ["a", "b"]}, "keep_2": "second"}
OLD = {"version": "old", "items": [1, 2, 3]}
NEW = {"version": "new", "items": list(range(50))}
DOOMED = "bye"
NEW_TEXT = json.dumps(NEW, separators=(",", ":"))
"""NEW as the value codec writes it."""

KILLED = (
    "[supervisor] try 1 failed: the task process was killed by SIGKILL; task instance is failed"
)


@dataclass(frozen=True)
class Case:
    """One crash: what the crasher does, where it dies, and what must be true afterwards."""

    op: str
    """``<task|asset>-<step>``: the step of dags/crash_dag.py's ``crasher``."""
    crash_at: str | None
    """The backend's crash point; None: the DAG kills itself once ``set`` returned."""
    left: tuple[frozenset[str], ...]
    """The crasher's files right after the crash (one of these); a temporary as ``KEY.tmp``."""
    state: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """The crasher's keys after the purge, each with the values it may hold."""

    @property
    def id(self) -> str:
        return f"{self.op}.{self.crash_at or 'after_set'}"

    @property
    def kind(self) -> str:
        return self.op.partition("-")[0]

    @property
    def asset(self) -> str | None:
        return f"e2e_crash.{self.id}" if self.kind == "asset" else None


def _left(*names: str) -> tuple[frozenset[str], ...]:
    return (frozenset(names),)


SEEDED = {"over": (OLD,), "doomed": (DOOMED,)}

CASES = [
    # set: a cut-short write leaves a partial temporary and the previous value intact.
    Case("task-set-new", "mid_write", _left("over", "doomed", "fresh.tmp"), SEEDED),
    Case("task-set-overwrite", "mid_write", _left("over", "doomed", "over.tmp"), SEEDED),
    Case("asset-set-overwrite", "mid_write", _left("over", "doomed", "over.tmp"), SEEDED),
    # set: the object is stored, its reference never written.
    Case("task-set-new", "stored", _left("over", "doomed", "fresh"), SEEDED),
    Case("asset-set-new", "stored", _left("over", "doomed", "fresh"), SEEDED),
    # Every write stores a new object: the old value stays until the reference names the new
    # one, and the new object, never named, is an orphan.
    Case("task-set-overwrite", "stored", _left("over", "doomed"), SEEDED),
    # set returned: the new value is durable.
    Case("task-set-returned", None, _left("over", "doomed"), {"over": (NEW,), "doomed": (DOOMED,)}),
    # delete: the row goes first, then the object.
    Case("task-delete", "before_purge", _left("over", "doomed"), {"over": (OLD,)}),
    Case("task-delete", "after_purge", _left("over"), {"over": (OLD,)}),
    # clear: the rows go first, then the objects one by one.
    Case("task-clear", "before_purge", _left("over", "doomed")),
    Case("task-clear", "second_purge", (frozenset({"over"}), frozenset({"doomed"}))),
    Case("asset-clear", "before_purge", _left("over", "doomed")),
    Case("asset-clear", "second_purge", (frozenset({"over"}), frozenset({"doomed"}))),
]
ASSET_CASES = [case for case in CASES if case.asset is not None]


def _files(root: Path) -> set[str]:
    """Every file under ``root``, as a path relative to it."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _name(relative: str) -> str:
    """A file's key, or ``KEY.tmp`` for a temporary: ``<kind>/<owner>/<key>/<object>``."""
    path = PurePosixPath(relative)
    key = path.parent.name
    return f"{key}.tmp" if path.name.endswith(".tmp") else key


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _read(root: Path, relative: str) -> Any:
    return json.loads((root / relative).read_text())


@dataclass
class Crash:
    """One case's run and the purge after it."""

    run: Any
    before: set[str]
    """Files before the run."""
    crashed: set[str]
    """Files right after the crash."""
    temporaries: dict[str, str]
    """The temporaries among them, with what they held."""
    purge: Any
    purged: set[str]
    """Files right after the purge."""

    def crasher_files(self, files: set[str]) -> set[str]:
        """The files of ``files`` the crasher of this run wrote (the keeper's are ``keep_*``)."""
        return {f for f in files - self.before if not _name(f).startswith("keep_")}


@dataclass
class Listing:
    """Every reference the server holds, and what the reader DAG resolved."""

    task: list[dict[str, Any]]
    assets: dict[str, list[dict[str, Any]]]
    read: Any

    def entries(self) -> list[dict[str, Any]]:
        return [*self.task, *(e for entries in self.assets.values() for e in entries)]


class CrashLab:
    """Runs each case at most once, in the order the tests ask for them."""

    def __init__(self, cli: Any, root: Path) -> None:
        self.cli = cli
        self.root = root
        self.url = f"file://{root}"
        self._crashes: dict[str, Crash] = {}
        self._listing: Listing | None = None

    def path(self, ref: str) -> str:
        assert ref.startswith(self.url + "/"), ref
        return ref.removeprefix(self.url + "/")

    def crash(self, case: Case) -> Crash:
        if case.id not in self._crashes:
            before = _files(self.root)
            run = self.cli.dags_test(
                DAG,
                "--dag-id",
                "e2e_crash",
                "--run-id",
                case.id,
                env={
                    KWARGS: json.dumps({"root": self.url, "crash_at": case.crash_at}),
                    "E2E_CASE": json.dumps({"op": case.op, "asset": case.asset}),
                },
            )
            crashed = _files(self.root)
            temporaries = {f: (self.root / f).read_text() for f in crashed if f.endswith(".tmp")}
            purge = self.cli.run("state", "purge", "--orphans", "--older-than", "0", "--path", DAGS)
            self._crashes[case.id] = Crash(
                run, before, crashed, temporaries, purge, _files(self.root)
            )
        return self._crashes[case.id]

    def listing(self) -> Listing:
        if self._listing is None:
            for case in CASES:
                self.crash(case)
            reads = {KEPT: [f"keep_{case.id}" for case in CASES]}
            reads |= {case.asset: ["over", "doomed", "fresh"] for case in ASSET_CASES}
            reader = self.cli.dags_test(
                DAG,
                "--dag-id",
                "e2e_crash_assets",
                "--run-id",
                "read",
                env={"E2E_READ": json.dumps(reads)},
            )
            assert reader.code == 0, str(reader)
            [line] = [x for x in reader.lines("assets") if x.startswith("assets: ")]
            self._listing = Listing(
                task=self.cli.task_state("e2e_crash"),
                assets={name: self.cli.asset_state(name) for name in reads},
                read=json.loads(line.removeprefix("assets: ")),
            )
        return self._listing


@pytest.fixture(scope="module")
def lab(make_cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> CrashLab:
    root = tmp_path_factory.mktemp("crash") / "objects"
    cli = make_cli("crash-home", worker_backend_env(BACKEND, root=f"file://{root}"))
    return CrashLab(cli, root)


by_case = pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])


@by_case
def test_the_task_is_killed_at_its_point_and_fails(lab: CrashLab, case: Case) -> None:
    run = lab.crash(case).run
    assert run.code == 1, str(run)
    assert run.summary() == {"keeper": ("success", 1), "crasher": ("failed", 1)}, str(run)
    lines = run.lines("crasher")
    died = (
        f"[CrashingBackend] SIGKILL at {case.crash_at}"
        if case.crash_at
        else "crasher: set returned, SIGKILL"
    )
    assert lines[-2:] == [died, KILLED], str(run)


@by_case
def test_the_crash_leaves_what_the_point_implies(lab: CrashLab, case: Case) -> None:
    crash = lab.crash(case)
    left = crash.crasher_files(crash.crashed)
    assert frozenset(_name(f) for f in left) in case.left, sorted(left)
    assert set(crash.temporaries) == {f for f in left if f.endswith(".tmp")}
    for written in crash.temporaries.values():
        assert 0 < len(written) < len(NEW_TEXT) and NEW_TEXT.startswith(written), written
    # All in the crasher's own folder: its task instance's, or the asset's.
    folders = {PurePosixPath(f).parent.parent.as_posix() for f in left}
    if case.asset is not None:
        assert folders == {f"asset/{encode_component(case.asset)}"}
    elif left:
        [folder] = folders
        assert folder.startswith("task/"), folder


@by_case
def test_purge_removes_what_nothing_names_and_keeps_the_rest(lab: CrashLab, case: Case) -> None:
    crash = lab.crash(case)
    kept = crash.crasher_files(crash.purged)
    assert {_name(f) for f in kept} == set(case.state), sorted(kept)
    for relative in kept:
        assert _read(lab.root, relative) in case.state[_name(relative)], relative
    removed = crash.crashed - crash.purged
    assert removed == crash.crasher_files(crash.crashed) - kept
    assert crash.purge.code == 0, str(crash.purge)
    assert crash.purge.stdout == (
        f"purged 0 queued objects; removed {_count(len(removed), 'orphan')} of "
        f"{_count(len(crash.crashed), 'object')} checked\n"
    ), str(crash.purge)
    # What the keeper stored before the crash is untouched.
    keeper = {f for f in crash.purged - crash.before if _name(f).startswith("keep_")}
    expected = {**KEEP, encode_component(f"keep_{case.id}"): KEEP["keep_1"]}
    assert {_name(f): _read(lab.root, f) for f in keeper} == expected


def test_every_reference_names_an_object_and_every_object_a_reference(lab: CrashLab) -> None:
    listing = lab.listing()
    named = [lab.path(entry["ref"]) for entry in listing.entries()]
    assert all(entry["backend"] == BACKEND for entry in listing.entries())
    assert len(named) == len(set(named))
    on_disk = _files(lab.root)
    assert set(named) <= on_disk, sorted(set(named) - on_disk)  # (a) no dangling reference
    assert on_disk <= set(named), sorted(on_disk - set(named))  # (b) no orphan, no temporary


@by_case
def test_completed_values_read_back(lab: CrashLab, case: Case) -> None:
    listing = lab.listing()
    task = {
        (e["task_id"], e["key"]): _read(lab.root, lab.path(e["ref"]))
        for e in listing.task
        if e["run_id"] == case.id
    }
    keeper = {("keeper", key): value for key, value in KEEP.items()}
    if case.kind == "task":
        assert set(task) == {*keeper, *(("crasher", key) for key in case.state)}
        for key, allowed in case.state.items():
            assert task["crasher", key] in allowed, key
    else:
        assert set(task) == set(keeper)
        assert case.asset is not None
        assert {e["key"] for e in listing.assets[case.asset]} == set(case.state)
        read = listing.read[case.asset]
        for key in ("over", "doomed", "fresh"):
            assert read[key] in case.state.get(key, (None,)), key
    assert {key: task[key] for key in keeper} == keeper
    assert listing.read[KEPT][f"keep_{case.id}"] == KEEP["keep_1"]
