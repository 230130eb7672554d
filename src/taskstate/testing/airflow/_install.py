"""Apache Airflow in a virtualenv of its own, built once per machine and version.

The virtualenv lives under ``${TASKSTATE_TEST_CACHE:-~/.cache/taskstate-tests}``, named by the
Airflow version and the Python it runs on (``airflow-3.3.2-py3.11``), outside any clone, so
every worktree and every test session reuses it. Building it takes ``python -m venv`` and
``pip install apache-airflow==VERSION`` (about 130 packages; some 45 s here), then
``airflow db migrate`` into a template metadata database that each Airflow home copies:
migrating costs about 4 s a home, copying the file 3 ms.

The build is atomic: it happens in a temporary directory beside the final one, which is
renamed into place only once Airflow imports and the template exists, so a build that is
killed half way is never taken for a good one (its leftovers are removed by the next build).
An exclusive lock on ``<name>.lock`` lets one process build while the others (pytest-xdist
workers, other sessions) wait for it and then use its result. Renaming a virtualenv keeps it
working as long as it is used through its ``bin/python`` (``python -m airflow``), never through
the scripts in ``bin/``, whose ``#!`` lines name the temporary directory.

When Airflow cannot be installed (no package index, no disk), :func:`install_airflow` skips
the calling test with a message saying what failed and how to enable the tests; under
``CI=true`` it fails it instead, so that CI never passes without having compared.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taskstate.testing._services import skip_or_fail

__all__ = [
    "AIRFLOW_VERSION",
    "CACHE_ENV_VAR",
    "AirflowInstallation",
    "airflow_env",
    "cache_root",
    "install_airflow",
]

AIRFLOW_VERSION = "3.3.2"
CACHE_ENV_VAR = "TASKSTATE_TEST_CACHE"
COMPLETE_MARKER = ".taskstate-complete"
TEMPLATE_DB = "template/airflow.db"

# Generous bounds that only end a hang: pip downloads ~130 packages.
PIP_TIMEOUT_SECONDS = 1200.0
MIGRATE_TIMEOUT_SECONDS = 300.0


def cache_root() -> Path:
    """``$TASKSTATE_TEST_CACHE``, or ``~/.cache/taskstate-tests``."""
    configured = os.environ.get(CACHE_ENV_VAR)
    return Path(configured) if configured else Path.home() / ".cache" / "taskstate-tests"


def airflow_env(home: Path) -> dict[str, str]:
    """The environment of an Airflow command over the Airflow home ``home``: nothing of the
    calling process's Airflow or taskstate settings, no example DAGs, the dags folder
    ``home/dags``."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "TASKSTATE", "PYTHON", "VIRTUAL_ENV"))
    }
    return {
        **inherited,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class AirflowInstallation:
    """A built virtualenv with Apache Airflow ``version`` in it."""

    root: Path
    version: str

    @property
    def python(self) -> Path:
        """The virtualenv's interpreter; run Airflow as ``python -m airflow``."""
        return self.root / "bin" / "python"

    @property
    def template_db(self) -> Path:
        """A metadata database migrated to this Airflow's schema, to be copied."""
        return self.root / TEMPLATE_DB

    @property
    def site_packages(self) -> Path:
        found = sorted(self.root.glob("lib/python3*/site-packages"))
        if not found:
            raise FileNotFoundError(f"no site-packages under {self.root}")
        return found[0]

    @property
    def package(self) -> Path:
        """The installed ``airflow`` package (``example_dags/`` is in it)."""
        return self.site_packages / "airflow"

    def is_complete(self) -> bool:
        marker = self.root / COMPLETE_MARKER
        return marker.is_file() and marker.read_text().strip() == self.version


def _name(version: str) -> str:
    return f"airflow-{version}-py{sys.version_info.major}.{sys.version_info.minor}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], *, log: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=True
        )


def _build(target: Path, version: str, requirement: str, log: Path) -> None:
    """Build the virtualenv in a temporary directory beside ``target``, then rename it."""
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    building.chmod(0o755)  # mkdtemp makes it private; the virtualenv is for every user
    try:
        # No pip of its own (ensurepip costs seconds): this interpreter's pip installs into it.
        _run([sys.executable, "-m", "venv", "--without-pip", str(building)], log=log, timeout=120.0)
        python = str(building / "bin" / "python")
        _run(
            [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", requirement],
            log=log,
            timeout=PIP_TIMEOUT_SECONDS,
        )
        home = building / "template"
        home.mkdir()
        _run(
            [python, "-m", "airflow", "db", "migrate"],
            log=log,
            timeout=MIGRATE_TIMEOUT_SECONDS,
            env=airflow_env(home),
        )
        for leftover in home.iterdir():  # airflow.cfg, logs/: each home writes its own
            if leftover.name != "airflow.db":
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        (building / COMPLETE_MARKER).write_text(version)
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def install_airflow(
    version: str = AIRFLOW_VERSION, *, cache: Path | None = None, requirement: str | None = None
) -> AirflowInstallation:
    """The virtualenv of Apache Airflow ``version`` under ``cache`` (default
    :func:`cache_root`), built if this machine has none yet by installing ``requirement``
    (default ``apache-airflow==VERSION``).

    Waits while another process builds it. If it cannot be built, the calling test is skipped
    (failed under ``CI=true``) with the reason and the build log's tail.
    """
    root = cache or cache_root()
    name = _name(version)
    installation = AirflowInstallation(root / name, version)
    if installation.is_complete():
        return installation
    log = root / f"{name}.log"
    try:
        with _locked(root / f"{name}.lock"):
            if installation.is_complete():
                return installation
            for leftover in root.glob(f".{name}.*"):  # from a build that was killed
                shutil.rmtree(leftover, ignore_errors=True)
            if installation.root.exists():  # not complete: not ours to trust
                shutil.rmtree(installation.root)
            log.write_text("")
            _build(installation.root, version, requirement or f"apache-airflow=={version}", log)
    except (OSError, subprocess.SubprocessError) as exc:
        skip_or_fail(
            f"Apache Airflow {version} could not be installed into {installation.root} "
            f"({exc}); the tests that compare with Airflow need `pip install "
            f"apache-airflow=={version}` to reach a package index and {CACHE_ENV_VAR} (or "
            f"~/.cache) to be writable. Build log {log}:\n{_tail(log)}"
        )
    return installation
