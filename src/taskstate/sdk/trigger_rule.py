"""``TriggerRule``: when a task runs, given the states of its direct upstream tasks.

The runner (:mod:`taskstate.runner`) applies them; the SDK only records them on operators.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from taskstate.errors import DagDefinitionError

__all__ = ["TriggerRule", "trigger_rule"]


class TriggerRule(StrEnum):
    """Airflow's thirteen trigger rules; a plain string with the same value is accepted too."""

    ALL_SUCCESS = "all_success"  # every upstream succeeded (the default)
    ALL_FAILED = "all_failed"  # every upstream failed or is upstream_failed
    ALL_DONE = "all_done"  # every upstream finished, in any state
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"  # all finished, one succeeded
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"  # all finished, and its setups succeeded
    ONE_SUCCESS = "one_success"  # as soon as one upstream succeeded
    ONE_FAILED = "one_failed"  # as soon as one upstream failed
    ONE_DONE = "one_done"  # as soon as one upstream succeeded or failed
    NONE_FAILED = "none_failed"  # no upstream failed (skipped ones are fine)
    NONE_SKIPPED = "none_skipped"  # no upstream was skipped
    ALWAYS = "always"  # no dependency at all
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"  # none failed, one succeeded
    ALL_SKIPPED = "all_skipped"  # every upstream was skipped

    @classmethod
    def is_valid(cls, value: Any) -> bool:
        return isinstance(value, str) and value in cls._value2member_map_

    @classmethod
    def all_triggers(cls) -> set[str]:
        return {rule.value for rule in cls}


def trigger_rule(value: Any, *, task_id: str) -> TriggerRule:
    """``value`` as a :class:`TriggerRule`, or a DagDefinitionError naming the valid ones."""
    if not TriggerRule.is_valid(value):
        valid = ", ".join(rule.value for rule in TriggerRule)
        raise DagDefinitionError(
            f"task {task_id!r}: trigger_rule must be one of {valid}; got {value!r}",
            detail={"task_id": task_id, "trigger_rule": repr(value)},
        )
    return TriggerRule(value)
