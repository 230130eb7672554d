"""Which Airflow options taskstate builds, which it accepts without effect, which it refuses.

An Airflow DAG file may set any option Airflow's ``BaseOperator`` or ``DAG`` takes. taskstate
sorts every one of them into three kinds:

* **built** (:data:`BUILT_OPTIONS` for operators; the DAG's named arguments): the option works
  as in Airflow (``retries``, ``trigger_rule``, ``execution_timeout``, ``template_searchpath``,
  ...); :func:`parse_options` checks and normalizes an operator's.
* **no effect** (:data:`NO_EFFECT_OPTIONS`, :data:`NO_EFFECT_DAG_ARGS`): the option has no meaning
  on one machine, where a person starts each run (pools, queues, owners, e-mail, ...). It is
  accepted, kept as an attribute of the same name, and changes nothing.
* **refused** (:data:`REFUSED_OPTIONS`, :data:`REFUSED_DAG_ARGS`): the option would change what
  runs, and taskstate does not build it. Set to a value that would matter, it raises
  :class:`~taskstate.errors.UnsupportedFeatureError` while the DAG file is imported, naming
  the option; its default (``depends_on_past=False``, common in ``default_args``) is fine.

Any other name is a :class:`~taskstate.errors.DagDefinitionError`, as a typo should be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from taskstate.errors import DagDefinitionError, UnsupportedFeatureError
from taskstate.sdk.asset import Asset, AssetAlias
from taskstate.sdk.trigger_rule import TriggerRule, trigger_rule

__all__ = [
    "BUILT_OPTIONS",
    "NO_EFFECT_DAG_ARGS",
    "NO_EFFECT_OPTIONS",
    "OPTION_NAMES",
    "REFUSED_DAG_ARGS",
    "REFUSED_OPTIONS",
    "NoEffect",
    "Refused",
    "aware_datetime",
    "check_extra_options",
    "parse_options",
    "to_timedelta",
    "unsupported",
]


@dataclass(frozen=True, slots=True)
class NoEffect:
    """An option accepted without effect: its default, and why it means nothing here."""

    default: Any
    why: str


@dataclass(frozen=True, slots=True)
class Refused:
    """An option refused when ``matters(value)``: it would change what runs."""

    default: Any
    what: str
    matters: Callable[[Any], bool] = bool


_ONE_MACHINE = "tasks run on this machine, limited only by the runner's parallelism"
_NO_EMAIL = "taskstate sends no e-mail"
_BY_HAND = "a run is started by hand (taskstate dags test)"

# Operator options accepted without effect (Airflow's BaseOperator arguments).
NO_EFFECT_OPTIONS: Mapping[str, NoEffect] = {
    "allow_nested_operators": NoEffect(True, "operators may always run other operators"),
    "email": NoEffect(None, _NO_EMAIL),
    "email_on_failure": NoEffect(True, _NO_EMAIL),
    "email_on_retry": NoEffect(True, _NO_EMAIL),
    "end_date": NoEffect(None, _BY_HAND),
    "executor": NoEffect(None, _ONE_MACHINE),
    "executor_config": NoEffect(None, _ONE_MACHINE),
    "logger_name": NoEffect(None, "task logs go to the try's log file and the terminal"),
    "map_index_template": NoEffect(None, "no UI shows mapped instances' names"),
    "max_active_tis_per_dag": NoEffect(None, _ONE_MACHINE),
    "max_active_tis_per_dagrun": NoEffect(None, _ONE_MACHINE),
    "owner": NoEffect("airflow", "there are no users or permissions on one machine"),
    "pool": NoEffect("default_pool", _ONE_MACHINE),
    "pool_slots": NoEffect(1, _ONE_MACHINE),
    "priority_weight": NoEffect(1, "ready tasks start in the DAG's order"),
    "queue": NoEffect("default", _ONE_MACHINE),
    "resources": NoEffect(None, _ONE_MACHINE),
    "run_as_user": NoEffect(None, "tasks run as the user who runs taskstate"),
    "sla": NoEffect(None, "Airflow 3 ignores it too: SLAs were removed"),
    "start_date": NoEffect(None, _BY_HAND),
    "weight_rule": NoEffect("downstream", "ready tasks start in the DAG's order"),
}

_DEPENDS_ON_PAST = "depends on task instances of earlier DAG runs"

# Operator options refused when set to a value that would change what runs.
REFUSED_OPTIONS: Mapping[str, Refused] = {
    "deferrable": Refused(False, "deferrable operators (the triggerer)"),
    "depends_on_past": Refused(False, f"depends_on_past ({_DEPENDS_ON_PAST})"),
    "ignore_first_depends_on_past": Refused(False, "ignore_first_depends_on_past"),
    "mode": Refused(
        "poke", "sensors' mode='reschedule'", matters=lambda value: value == "reschedule"
    ),
    "on_execute_callback": Refused(None, "task callbacks (on_execute_callback)"),
    "on_failure_callback": Refused(None, "task callbacks (on_failure_callback)"),
    "on_retry_callback": Refused(None, "task callbacks (on_retry_callback)"),
    "on_skipped_callback": Refused(None, "task callbacks (on_skipped_callback)"),
    "on_success_callback": Refused(None, "task callbacks (on_success_callback)"),
    "retry_policy": Refused(None, "retry policies (retry_policy)", lambda v: v is not None),
    "wait_for_downstream": Refused(False, f"wait_for_downstream ({_DEPENDS_ON_PAST})"),
    "wait_for_past_depends_before_skipping": Refused(
        False, f"wait_for_past_depends_before_skipping ({_DEPENDS_ON_PAST})"
    ),
}

# DAG arguments accepted without effect.
NO_EFFECT_DAG_ARGS: Mapping[str, NoEffect] = {
    "access_control": NoEffect(None, "there are no users or permissions on one machine"),
    "allowed_run_types": NoEffect(None, _BY_HAND),
    "auto_register": NoEffect(True, "every DAG a DAG file creates is found"),
    "catchup": NoEffect(False, _BY_HAND),
    "dagrun_timeout": NoEffect(None, "only Airflow's scheduler enforces it, not `dags test`"),
    "disable_bundle_versioning": NoEffect(False, "DAG files are read from disk at each run"),
    "is_paused_upon_creation": NoEffect(None, _BY_HAND),
    "max_active_runs": NoEffect(16, "one run at a time"),
    "max_active_tasks": NoEffect(16, _ONE_MACHINE),
    "max_consecutive_failed_dag_runs": NoEffect(0, _BY_HAND),
    "owner_links": NoEffect(None, "no UI shows them"),
    "rerun_with_latest_version": NoEffect(None, "DAG files are read from disk at each run"),
    "sla_miss_callback": NoEffect(None, "Airflow 3 ignores it too: SLAs were removed"),
}

# DAG arguments refused when set to a value that would change what runs.
REFUSED_DAG_ARGS: Mapping[str, Refused] = {
    "deadline": Refused(None, "deadline alerts (deadline)"),
    "fail_fast": Refused(False, "fail_fast"),
    "on_failure_callback": Refused(None, "DAG callbacks (on_failure_callback)"),
    "on_success_callback": Refused(None, "DAG callbacks (on_success_callback)"),
}


def unsupported(feature: str, where: str, hint: str = "") -> UnsupportedFeatureError:
    """The error for a feature taskstate does not build, naming it and where it was used."""
    message = f"{where}: taskstate does not support {feature}"
    return UnsupportedFeatureError(
        message + (f"; {hint}" if hint else ""), detail={"feature": feature}
    )


def check_extra_options(
    given: Mapping[str, Any],
    *,
    where: str,
    no_effect: Mapping[str, NoEffect],
    refused: Mapping[str, Refused],
    known: Iterable[str],
) -> dict[str, Any]:
    """The value of every no-effect and refused option (given or default), after refusing
    those set to a value that matters and rejecting names that are neither."""
    unknown = sorted(set(given) - set(no_effect) - set(refused))
    if unknown:
        names = sorted({*known, *no_effect, *refused})
        raise DagDefinitionError(
            f"{where}: unknown option(s) {unknown}; known: {names}",
            detail={"options": unknown},
        )
    for name, value in given.items():
        refusal = refused.get(name)
        if refusal is not None and refusal.matters(value):
            raise unsupported(refusal.what, where)
    values = {name: option.default for name, option in no_effect.items()}
    values.update((name, option.default) for name, option in refused.items())
    values.update(given)
    return values


def to_timedelta(value: Any, name: str, *, where: str) -> timedelta:
    """A ``timedelta`` given as one or as seconds (int or float), never negative."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    else:
        raise DagDefinitionError(
            f"{where}: {name} must be a timedelta or a number of seconds, not {value!r}"
        )
    if delta < timedelta(0):
        raise DagDefinitionError(f"{where}: {name} must not be negative: {value!r}")
    return delta


def aware_datetime(value: Any, name: str, *, where: str) -> datetime | None:
    """A datetime with a timezone: a naive one is UTC, as in Airflow; pendulum's are kept."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise DagDefinitionError(f"{where}: {name} must be a datetime, not {value!r}")
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


# The operator options taskstate builds, and their defaults. ``retry_delay`` defaults to 0 s
# (Airflow's is 300 s: a run started by hand should not sit idle between tries).
BUILT_OPTIONS: Mapping[str, Any] = {
    "do_xcom_push": True,
    "doc": None,
    "doc_json": None,
    "doc_md": None,
    "doc_rst": None,
    "doc_yaml": None,
    "execution_timeout": None,
    "inlets": None,
    "max_retry_delay": None,
    "multiple_outputs": False,
    "on_failure_fail_dagrun": False,
    "outlets": None,
    "post_execute": None,
    "pre_execute": None,
    "render_template_as_native_obj": None,
    "retries": 0,
    "retry_delay": timedelta(0),
    "retry_exponential_backoff": 0.0,
    "task_display_name": None,
    "trigger_rule": TriggerRule.ALL_SUCCESS,
}

# Every option name an operator accepts besides its class's own arguments.
OPTION_NAMES: frozenset[str] = frozenset(
    {*BUILT_OPTIONS, *NO_EFFECT_OPTIONS, *REFUSED_OPTIONS, "task_id", "dag", "task_group"}
    | {"params", "default_args"}
)


def parse_options(options: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """The node attributes the options give (built ones checked and normalized, the others
    through :func:`~taskstate.sdk.options.check_extra_options`); ``options`` holds only
    operator option names."""
    built = {**BUILT_OPTIONS, **{k: v for k, v in options.items() if k in BUILT_OPTIONS}}
    extra = {k: v for k, v in options.items() if k not in BUILT_OPTIONS}
    values = check_extra_options(
        extra,
        where=where,
        no_effect=NO_EFFECT_OPTIONS,
        refused=REFUSED_OPTIONS,
        known=BUILT_OPTIONS,
    )
    retries = built["retries"]
    if retries is None:
        retries = 0
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise DagDefinitionError(f"{where}: retries must be a whole number >= 0, not {retries!r}")
    values["retries"] = retries
    values["retry_delay"] = to_timedelta(
        built["retry_delay"] if built["retry_delay"] is not None else 0, "retry_delay", where=where
    )
    backoff = built["retry_exponential_backoff"]
    if isinstance(backoff, bool):
        # Airflow 3 reads True as a multiplier of 2 (the delay doubles each try).
        backoff = 2.0 if backoff else 0.0
    if not isinstance(backoff, int | float) or backoff < 0:
        raise DagDefinitionError(
            f"{where}: retry_exponential_backoff must be a multiplier >= 0 (or a bool), "
            f"not {backoff!r}"
        )
    values["retry_exponential_backoff"] = float(backoff)
    max_delay = built["max_retry_delay"]
    values["max_retry_delay"] = (
        None if max_delay is None else to_timedelta(max_delay, "max_retry_delay", where=where)
    )
    timeout = built["execution_timeout"]
    if timeout is not None and not isinstance(timeout, timedelta):
        raise DagDefinitionError(
            f"{where}: execution_timeout must be a timedelta, not {type(timeout).__name__}"
        )
    if timeout is not None and timeout <= timedelta(0):
        raise DagDefinitionError(f"{where}: execution_timeout must be positive: {timeout!r}")
    values["execution_timeout"] = timeout
    values["trigger_rule"] = trigger_rule(built["trigger_rule"], task_id=where)
    for name in ("do_xcom_push", "multiple_outputs", "on_failure_fail_dagrun"):
        if not isinstance(built[name], bool):
            raise DagDefinitionError(f"{where}: {name} must be True or False, not {built[name]!r}")
        values[name] = built[name]
    for name in ("doc", "doc_json", "doc_md", "doc_rst", "doc_yaml", "task_display_name"):
        if built[name] is not None and not isinstance(built[name], str):
            raise DagDefinitionError(f"{where}: {name} must be a string, not {built[name]!r}")
        values[name] = built[name]
    for hook in ("pre_execute", "post_execute"):
        if built[hook] is not None and not callable(built[hook]):
            raise DagDefinitionError(f"{where}: {hook} must be callable, not {built[hook]!r}")
        # Kept beside the methods of the same name, which call them.
        values[f"_{hook}_hook"] = built[hook]
    native = built["render_template_as_native_obj"]
    values["render_template_as_native_obj"] = None if native is None else bool(native)
    values["inlets"], values["inlet_aliases"] = _assets("inlets", built["inlets"], where)
    values["outlets"], values["outlet_aliases"] = _assets("outlets", built["outlets"], where)
    return values


def _assets(what: str, value: Any, where: str) -> tuple[tuple[Asset, ...], tuple[AssetAlias, ...]]:
    if value is None:
        return (), ()
    items = [value] if isinstance(value, Asset | AssetAlias) else value
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise DagDefinitionError(f"{where}: {what} must be Asset objects, not {value!r}")
    assets: list[Asset] = []
    aliases: list[AssetAlias] = []
    for item in items:
        if isinstance(item, Asset):
            assets.append(item)
        elif isinstance(item, AssetAlias):
            aliases.append(item)
        else:
            raise DagDefinitionError(f"{where}: {what} must be Asset objects, not {item!r}")
    return tuple(assets), tuple(aliases)
