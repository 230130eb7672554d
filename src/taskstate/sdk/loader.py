"""Loading a DAG file: import it as a module and collect the DAGs it defines."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dag import DAG, collect_dags
from taskstate.sdk.tracebacks import format_user_exception

__all__ = ["load_dag", "load_dag_file"]


def load_dag_file(path: str | Path) -> dict[str, DAG]:
    """Import the DAG file at ``path`` and return its DAGs by id.

    The file's folder is put first on ``sys.path``, so that modules beside it (a custom state
    backend, helpers) can be imported by the file and by the settings.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise DagDefinitionError(f"DAG file not found: {path}", detail={"path": str(path)})
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:12]
    module_name = f"taskstate_dag_{file.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise DagDefinitionError(f"cannot import {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with collect_dags() as found:
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            # The DAG file's own line first: the loader's and importlib's frames are left out.
            summary = format_user_exception(exc).rstrip()
            # A DAG definition error keeps its class (UnsupportedFeatureError, ...) and detail.
            cls = type(exc) if isinstance(exc, DagDefinitionError) else DagDefinitionError
            detail = exc.detail if isinstance(exc, DagDefinitionError) else {}
            raise cls(
                f"importing DAG file {file} failed: {type(exc).__name__}: {exc}\n{summary}",
                detail={**detail, "path": str(file)},
            ) from exc
    dags: dict[str, DAG] = {}
    for dag in found:
        dag.fileloc = str(file)
        dag.validate()  # a dependency cycle is refused here, as Airflow does
        if dag.dag_id in dags:
            raise DagDefinitionError(f"{file} defines DAG {dag.dag_id!r} twice")
        dags[dag.dag_id] = dag
    if not dags:
        raise DagDefinitionError(f"{file} defines no DAG", detail={"path": str(file)})
    return dags


def load_dag(path: str | Path, dag_id: str | None = None) -> DAG:
    """The DAG ``dag_id`` of the file at ``path``; without an id, the file's only DAG."""
    dags = load_dag_file(path)
    if dag_id is None:
        if len(dags) > 1:
            raise DagDefinitionError(
                f"{path} defines several DAGs ({', '.join(sorted(dags))}); choose one with --dag-id"
            )
        return next(iter(dags.values()))
    try:
        return dags[dag_id]
    except KeyError:
        raise DagDefinitionError(
            f"{path} has no DAG {dag_id!r}; it defines {', '.join(sorted(dags))}",
            detail={"dag_id": dag_id},
        ) from None
