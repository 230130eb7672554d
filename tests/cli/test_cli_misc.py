"""``taskstate version``, ``config show``, ``db migrate`` and how bad settings are reported.

The installed command runs as a subprocess in a private ``TASKSTATE_HOME``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import taskstate
from taskstate.db.migration import HEAD_REVISION

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result


def test_version(cli: Cli) -> None:
    result = cli("version")
    assert (result.code, result.stdout, result.stderr) == (
        0,
        f"taskstate {taskstate.__version__}\n",
        "",
    )


def test_no_arguments_prints_the_commands(cli: Cli) -> None:
    result = cli()
    output = result.stdout + result.stderr
    for command in ("version", "dags", "db", "config", "state", "api-server"):
        assert command in output


@pytest.mark.parametrize(
    ("command", "setting"),
    [
        (("api-server",), "[api] workers"),
        (("state", "clean"), "[state_store] cleanup_batch_size"),
        (("state", "set"), "[state_store] default_retention_days"),
        (("state", "purge"), "[workers] state_backend"),
        (("dags", "test"), "[workers] parallelism"),
    ],
)
def test_help_keeps_the_setting_names_in_brackets(
    cli: Cli, command: tuple[str, ...], setting: str
) -> None:
    # Rich markup would read "[api]" as a style and drop it from the help.
    result = cli(*command, "--help")
    assert result.code == 0, result.stderr
    assert setting in " ".join(result.stdout.split())  # as wrapped to the terminal's width


# -- config show ------------------------------------------------------------------------------


@pytest.mark.sqlite_home
def test_config_show_lists_every_setting_and_its_source(cli: Cli, cli_home: Path) -> None:
    (cli_home / "taskstate.toml").write_text("[workers]\nparallelism = 7\n")
    result = cli(
        "config",
        "show",
        env={
            "TASKSTATE__STATE_STORE__MAX_VALUE_BYTES": "2048",
            "TASKSTATE__API__SECRET_KEY": "do-not-print-this-secret-value-0123456789",
        },
    )
    assert result.code == 0, result.stderr
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and len(cells) == 3
    }
    config_file = cli_home / "taskstate.toml"
    assert f"(file: {config_file})" in result.stdout
    assert rows["workers.parallelism"] == ["7", f"file {config_file}"]
    assert rows["state_store.max_value_bytes"] == [
        "2048",
        "env TASKSTATE__STATE_STORE__MAX_VALUE_BYTES",
    ]
    assert rows["state_store.backend"] == ["metastore", "default"]
    assert rows["home"] == [str(cli_home), "env TASKSTATE_HOME"]
    # Printed whole, although stdout is a pipe and the path is longer than 80 columns.
    assert rows["database.url"] == [f"sqlite:///{cli_home}/taskstate.db", "default"]
    assert "do-not-print-this-secret" not in result.stdout


def test_config_show_without_a_file(cli: Cli) -> None:
    result = cli("config", "show")
    assert result.code == 0, result.stderr
    assert "(file: none found)" in result.stdout


# -- bad settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("config", "show"),
        ("db", "migrate"),
        ("state", "list", "--dag-id", "etl"),
        ("state", "set", "k", "1", "--asset", "a"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_malformed_config_file_is_a_usage_error_naming_the_file(
    command: tuple[str, ...], cli: Cli, cli_home: Path
) -> None:
    config_file = cli_home / "taskstate.toml"
    config_file.write_text("[state_store\nbackend = 'metastore'\n")
    result = cli(*command)
    assert result.code == 2
    assert result.stdout == ""
    assert f"cannot parse config file {config_file}" in result.error
    assert "\n" not in result.error  # one line, however long the path


def test_an_unknown_setting_is_named(cli: Cli, cli_home: Path) -> None:
    (cli_home / "taskstate.toml").write_text("[workers]\nparalelism = 2\n")
    result = cli("config", "show")
    assert result.code == 2
    assert "unknown setting [workers] paralelism" in result.error
    assert "did you mean parallelism?" in result.error


def test_an_invalid_setting_value_is_named(cli: Cli) -> None:
    result = cli("config", "show", env={"TASKSTATE__WORKERS__PARALLELISM": "lots"})
    assert result.code == 2
    assert result.error.startswith("invalid setting [workers] parallelism = 'lots'")
    assert "env TASKSTATE__WORKERS__PARALLELISM" in result.error


def test_a_missing_config_file_named_by_the_environment(cli: Cli, cli_home: Path) -> None:
    missing = cli_home / "nowhere.toml"
    result = cli("config", "show", env={"TASKSTATE_CONFIG": str(missing)})
    assert result.code == 2
    assert f"TASKSTATE_CONFIG names {missing}" in result.error


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        ("no_such_module.NoSuchBackend", "no module named 'no_such_module'"),
        ("taskstate.errors.NoSuchClass", "module 'taskstate.errors' has no attribute"),
        ("taskstate.errors.ConfigError", "not a subclass of taskstate.state.BaseStateBackend"),
        ("not a path", "not a known backend"),
    ],
)
def test_an_unknown_state_store_backend_names_the_setting(
    backend: str, reason: str, cli: Cli
) -> None:
    result = cli(
        "state", "list", "--dag-id", "etl", env={"TASKSTATE__STATE_STORE__BACKEND": backend}
    )
    assert result.code == 2
    assert result.stdout == ""
    assert result.error.startswith(f"[state_store] backend = {backend!r}: ")
    assert reason in result.error


# -- db migrate -------------------------------------------------------------------------------


@pytest.mark.sqlite_home
def test_db_migrate_creates_then_keeps_the_schema(cli: Cli, cli_home: Path) -> None:
    database = cli_home / "taskstate.db"
    first = cli("db", "migrate")
    assert first.code == 0, first.stderr
    assert first.stdout.strip() == f"sqlite:///{database} migrated from empty to {HEAD_REVISION}"
    assert database.is_file()

    again = cli("db", "migrate")
    assert again.code == 0, again.stderr
    assert (
        again.stdout.strip()
        == f"sqlite:///{database} is at revision {HEAD_REVISION}; nothing to do"
    )


def test_db_migrate_into_a_folder_that_is_a_file_is_a_settings_error(
    cli: Cli, cli_home: Path
) -> None:
    not_a_dir = cli_home / "file"
    not_a_dir.write_text("")
    result = cli("db", "migrate", env={"TASKSTATE__DATABASE__URL": f"sqlite:///{not_a_dir}/x.db"})
    assert result.code == 2
    assert result.stdout == ""
    assert result.error.startswith("[database] url: cannot create the folder of the SQLite file")


def test_db_migrate_on_an_unreachable_server_is_a_runtime_error(cli: Cli) -> None:
    result = cli(
        "db", "migrate", env={"TASKSTATE__DATABASE__URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert result.code == 1
    assert result.stdout == ""
    assert result.error.startswith("the metadata database at postgresql+psycopg://nobody@")
    assert "connection" in result.error.lower()
