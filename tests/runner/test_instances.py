"""The runner's bookkeeping of task instances, and a placeholder giving way to its instances."""

from __future__ import annotations

from typing import Any

from taskstate.runner.instances import Instances, label


def ti(task_id: str, map_index: int, state: str = "scheduled") -> dict[str, Any]:
    return {
        "id": f"{task_id}:{map_index}",
        "task_id": task_id,
        "map_index": map_index,
        "state": state,
    }


def test_a_placeholder_is_replaced_by_the_expanded_instances() -> None:
    tis = Instances([ti("up", -1, "success"), ti("mapped", -1), ti("down", -1)])
    assert tis.states_of(["up", "mapped"]) == ["success", "scheduled"]

    tis.replace("mapped", [ti("mapped", 0), ti("mapped", 1, "running")])

    assert tis.indices("mapped") == [0, 1]
    assert tis.states_of(["mapped"]) == ["scheduled", "running"]
    assert tis.ids[("mapped", 1)] == "mapped:1"
    assert ("mapped", -1) not in tis.states and ("mapped", -1) not in tis.ids
    assert tis.indices("down") == [-1]


def test_labels() -> None:
    assert label("t", -1) == "t"
    assert label("t", 3) == "t[3]"
