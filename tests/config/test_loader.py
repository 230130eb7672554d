"""load_settings: sources, priority, provenance and the errors a user sees.

Every test passes its own ``env`` dict and writes real files under ``tmp_path``; the process
environment is never read or changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskstate.config import Settings, format_settings, load_settings
from taskstate.config.display import MASK
from taskstate.errors import ConfigError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    return {"TASKSTATE_HOME": str(home), "HOME": str(tmp_path / "user")}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_put_the_database_under_the_default_home(tmp_path: Path) -> None:
    settings = load_settings(env={"HOME": str(tmp_path)})

    assert settings.home == tmp_path / ".taskstate"
    assert settings.database.url == f"sqlite:///{tmp_path}/.taskstate/taskstate.db"
    assert settings.config_file is None
    assert set(settings.sources.values()) == {"default"}
    assert settings == Settings(home=tmp_path / ".taskstate")


def test_taskstate_home_moves_the_database(home: Path, env: dict[str, str]) -> None:
    settings = load_settings(env=env)

    assert settings.home == home
    assert settings.database.url == f"sqlite:///{home}/taskstate.db"
    assert settings.sources["home"] == "env TASKSTATE_HOME"
    assert settings.sources["database.url"] == "default"


def test_tilde_in_taskstate_home_uses_home_of_the_given_env(tmp_path: Path) -> None:
    settings = load_settings(env={"HOME": str(tmp_path), "TASKSTATE_HOME": "~/ts"})

    assert settings.home == tmp_path / "ts"


def test_env_beats_file_beats_default(home: Path, env: dict[str, str]) -> None:
    config = write(
        home / "taskstate.toml",
        '[workers]\nparallelism = 3\nheartbeat_interval = 2.5\n[state_store]\nbackend = "redis"\n',
    )
    env["TASKSTATE__WORKERS__PARALLELISM"] = "7"

    settings = load_settings(env=env)

    assert settings.config_file == config
    assert settings.workers.parallelism == 7
    assert settings.workers.heartbeat_interval == 2.5
    assert settings.state_store.backend == "redis"
    assert settings.api.port == 8080
    assert settings.sources["workers.parallelism"] == "env TASKSTATE__WORKERS__PARALLELISM"
    assert settings.sources["workers.heartbeat_interval"] == f"file {config}"
    assert settings.sources["state_store.backend"] == f"file {config}"
    assert settings.sources["api.port"] == "default"
    rows = {key: (value, source) for key, value, source in format_settings(settings)}
    assert rows["workers.parallelism"] == ("7", "env TASKSTATE__WORKERS__PARALLELISM")
    assert rows["workers.heartbeat_interval"] == ("2.5", f"file {config}")


def test_env_table_replaces_the_file_table_whole(home: Path, env: dict[str, str]) -> None:
    write(
        home / "taskstate.toml",
        '[workers]\nstate_backend_kwargs = {root = "s3://b", anon = true}\n',
    )
    env["TASKSTATE__WORKERS__STATE_BACKEND_KWARGS"] = '{"root": "memory://x"}'

    settings = load_settings(env=env)

    assert settings.workers.state_backend_kwargs == {"root": "memory://x"}
    assert settings.sources["workers.state_backend_kwargs"] == (
        "env TASKSTATE__WORKERS__STATE_BACKEND_KWARGS"
    )


def test_env_values_are_parsed(env: dict[str, str]) -> None:
    env |= {
        "TASKSTATE__WORKERS__STATE_BACKEND": "memory_state_backend.MemoryStateBackend",
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": '{"root": "memory://x", "depth": 2}',
        "TASKSTATE__STATE_STORE__CLEAR_ON_SUCCESS": "true",
        "TASKSTATE__API__API_KEYS": '["k1", "k2"]',
        "TASKSTATE__API__SECRET_KEY": "signing-key",
        "TASKSTATE__DATABASE__POOL_SIZE": "9",
        "TASKSTATE_SOMETHING_ELSE": "ignored: not in the TASKSTATE__ namespace",
    }

    settings = load_settings(env=env)

    assert settings.workers.state_backend == "memory_state_backend.MemoryStateBackend"
    assert settings.workers.state_backend_kwargs == {"root": "memory://x", "depth": 2}
    assert settings.state_store.clear_on_success is True
    assert [key.get_secret_value() for key in settings.api.api_keys] == ["k1", "k2"]
    assert settings.api.secret_key is not None
    assert settings.api.secret_key.get_secret_value() == "signing-key"
    assert settings.database.pool_size == 9
    rows = {key: (value, source) for key, value, source in format_settings(settings)}
    assert rows["api.secret_key"] == (MASK, "env TASKSTATE__API__SECRET_KEY")
    assert rows["api.api_keys"] == (f'["{MASK}", "{MASK}"]', "env TASKSTATE__API__API_KEYS")
    assert "signing-key" not in repr(rows)


def test_env_names_are_case_insensitive_and_reported_as_written(env: dict[str, str]) -> None:
    env["taskstate__api__port"] = "9001"

    settings = load_settings(env=env)

    assert settings.api.port == 9001
    assert settings.sources["api.port"] == "env taskstate__api__port"


def test_same_setting_twice_in_env_is_rejected(env: dict[str, str]) -> None:
    env |= {"TASKSTATE__API__PORT": "1", "taskstate__api__port": "2"}

    with pytest.raises(ConfigError, match=r"\[api\] port is set twice"):
        load_settings(env=env)


def test_file_values_of_every_kind(home: Path, env: dict[str, str]) -> None:
    config = write(
        home / "taskstate.toml",
        """
        [database]
        url = "postgresql+psycopg://ts:pw@localhost/ts"
        echo = true

        [state_store]
        backend = "my_backends.RedisStateBackend"
        backend_kwargs = { url = "redis://localhost:6379/0" }
        max_value_bytes = 2048

        [workers]
        state_backend = "memory_state_backend.MemoryStateBackend"

        [api]
        host = "0.0.0.0"
        api_keys = ["one"]
        token_ttl_seconds = 60
        workers = 2
        """.replace("\n        ", "\n"),
    )

    settings = load_settings(env=env)

    assert settings.database.url == "postgresql+psycopg://ts:pw@localhost/ts"
    assert settings.database.echo is True
    assert settings.state_store.backend_kwargs == {"url": "redis://localhost:6379/0"}
    assert settings.state_store.max_value_bytes == 2048
    assert settings.workers.state_backend == "memory_state_backend.MemoryStateBackend"
    assert settings.api.host == "0.0.0.0"
    assert [key.get_secret_value() for key in settings.api.api_keys] == ["one"]
    assert (settings.api.token_ttl_seconds, settings.api.workers) == (60, 2)
    assert settings.sources["database.url"] == f"file {config}"
    shown = {key: value for key, value, _source in format_settings(settings)}
    assert shown["database.url"] == f"postgresql+psycopg://ts:{MASK}@localhost/ts"


def test_config_file_argument_wins_over_taskstate_config(
    home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    write(home / "taskstate.toml", "[api]\nport = 1\n")
    named = write(tmp_path / "named.toml", "[api]\nport = 2\n")
    given = write(tmp_path / "given.toml", "[api]\nport = 3\n")
    env["TASKSTATE_CONFIG"] = str(named)

    assert load_settings(env=env).api.port == 2
    assert load_settings(env=env).config_file == named
    settings = load_settings(env=env, config_file=given)
    assert settings.api.port == 3
    assert settings.config_file == given
    assert settings.sources["api.port"] == f"file {given}"


def test_taskstate_config_pointing_to_a_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    env["TASKSTATE_CONFIG"] = str(missing)

    with pytest.raises(ConfigError, match="TASKSTATE_CONFIG") as caught:
        load_settings(env=env)

    assert str(missing) in caught.value.message
    assert "does not exist" in caught.value.message


def test_missing_config_file_argument(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env=env, config_file=tmp_path / "nope.toml")


def test_no_file_in_home_means_no_file(env: dict[str, str]) -> None:
    settings = load_settings(env=env)

    assert settings.config_file is None


def test_malformed_toml_names_the_file_and_line(home: Path, env: dict[str, str]) -> None:
    config = write(home / "taskstate.toml", "[workers]\nparallelism = 4\nstate_backend = \n")

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert str(config) in caught.value.message
    assert "line 3" in caught.value.message
    assert type(caught.value.__cause__).__name__ == "TOMLDecodeError"


def test_file_that_is_not_utf8(home: Path, env: dict[str, str]) -> None:
    (home / "taskstate.toml").write_bytes(b"\xff\xfe[workers]")

    with pytest.raises(ConfigError, match="cannot parse config file"):
        load_settings(env=env)


def test_wrong_type_in_env_names_key_value_and_source(env: dict[str, str]) -> None:
    env["TASKSTATE__WORKERS__PARALLELISM"] = "many"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    message = caught.value.message
    assert "[workers] parallelism" in message
    assert "'many'" in message
    assert "env TASKSTATE__WORKERS__PARALLELISM" in message
    assert caught.value.detail == {
        "errors": [
            {
                "key": "workers.parallelism",
                "source": "env TASKSTATE__WORKERS__PARALLELISM",
                "message": "Input should be a valid integer, unable to parse string as an integer",
            }
        ]
    }
    assert type(caught.value.__cause__).__name__ == "ValidationError"


def test_logging_level_from_the_file_and_the_environment(home: Path, env: dict[str, str]) -> None:
    write(home / "taskstate.toml", '[logging]\nlevel = "warning"\n')
    assert load_settings(env=env).logging.level == "WARNING"

    env["TASKSTATE__LOGGING__LEVEL"] = "debug"
    settings = load_settings(env=env)
    assert settings.logging.level == "DEBUG"
    assert settings.sources["logging.level"] == "env TASKSTATE__LOGGING__LEVEL"


def test_bad_logging_level_names_the_setting_and_its_source(env: dict[str, str]) -> None:
    env["TASKSTATE__LOGGING__LEVEL"] = "chatty"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    message = caught.value.message
    assert "[logging] level" in message and "'chatty'" in message
    assert "env TASKSTATE__LOGGING__LEVEL" in message


def test_wrong_type_in_file_names_key_and_file(home: Path, env: dict[str, str]) -> None:
    config = write(home / "taskstate.toml", '[api]\nport = "http"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert "[api] port = 'http'" in caught.value.message
    assert f"file {config}" in caught.value.message


def test_out_of_range_value_overriding_the_file_is_blamed_on_env(
    home: Path, env: dict[str, str]
) -> None:
    write(home / "taskstate.toml", "[api]\nport = 8000\n")
    env["TASKSTATE__API__PORT"] = "70000"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert "[api] port = '70000' (from env TASKSTATE__API__PORT)" in caught.value.message
    assert "65535" in caught.value.message


def test_every_invalid_setting_is_listed(env: dict[str, str]) -> None:
    env |= {"TASKSTATE__API__WORKERS": "0", "TASKSTATE__WORKERS__HEARTBEAT_INTERVAL": "-1"}

    with pytest.raises(ConfigError, match="2 invalid settings") as caught:
        load_settings(env=env)

    keys = [problem["key"] for problem in caught.value.detail["errors"]]
    assert sorted(keys) == ["api.workers", "workers.heartbeat_interval"]


def test_bad_json_in_env(env: dict[str, str]) -> None:
    env["TASKSTATE__WORKERS__STATE_BACKEND_KWARGS"] = "{root: x}"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    message = caught.value.message
    assert "[workers] state_backend_kwargs" in message
    assert "env TASKSTATE__WORKERS__STATE_BACKEND_KWARGS" in message
    assert "invalid JSON" in message


def test_bad_secret_is_never_echoed(env: dict[str, str]) -> None:
    env["TASKSTATE__API__API_KEYS"] = "not-json-top-secret"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert "env TASKSTATE__API__API_KEYS" in caught.value.message
    assert MASK in caught.value.message
    assert "top-secret" not in str(caught.value)
    assert "top-secret" not in repr(caught.value.detail)


def test_unknown_key_in_file(home: Path, env: dict[str, str]) -> None:
    config = write(home / "taskstate.toml", '[workers]\nstate_backedn = "x"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert "[workers] state_backedn" in caught.value.message
    assert f"file {config}" in caught.value.message
    assert "did you mean state_backend?" in caught.value.message
    assert caught.value.detail == {"key": "workers.state_backedn", "source": f"file {config}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[worker]\nparallelism = 2\n", "did you mean [workers]?"),
        ('home = "/x"\n', "TASKSTATE_HOME"),
        ("workers = 3\n", "must be a table"),
    ],
)
def test_unknown_or_misplaced_section_in_file(
    home: Path, env: dict[str, str], text: str, expected: str
) -> None:
    write(home / "taskstate.toml", text)

    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(env=env)

    assert f"file {home / 'taskstate.toml'}" in caught.value.message


def test_unknown_key_in_env(env: dict[str, str]) -> None:
    env["TASKSTATE__WORKERS__STATE_BACKEDN"] = "memory_state_backend.MemoryStateBackend"

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert "[workers] state_backedn" in caught.value.message
    assert "env TASKSTATE__WORKERS__STATE_BACKEDN" in caught.value.message
    assert "did you mean state_backend?" in caught.value.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TASKSTATE__WORKER__PARALLELISM", "did you mean TASKSTATE__WORKERS__KEY?"),
        ("TASKSTATE__WORKERS", "set one key per variable"),
        ("TASKSTATE__HOME", "TASKSTATE_HOME"),
        ("TASKSTATE__WORKERS__STATE_BACKEND_KWARGS__ROOT", "as JSON text"),
    ],
)
def test_unknown_env_names(env: dict[str, str], name: str, expected: str) -> None:
    env[name] = "x"

    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(env=env)

    assert f"env {name}" in caught.value.message
