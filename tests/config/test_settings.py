"""The settings models: defaults, validation, immutability and how values are shown."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

import taskstate.config
from taskstate.config import (
    APISettings,
    DatabaseSettings,
    LoggingSettings,
    Settings,
    StateStoreSettings,
    WorkersSettings,
    format_settings,
)
from taskstate.config.display import MASK, NOT_SET, display_value, mask_url_password


def build(**values: Any) -> Settings:
    """Settings from raw values, as the loader passes them: text, dicts, JSON text."""
    return Settings(**values)


def test_public_surface_is_pinned() -> None:
    assert taskstate.config.__all__ == [
        "APISettings",
        "DatabaseSettings",
        "LoggingSettings",
        "SettingInfo",
        "Settings",
        "StateStoreSettings",
        "WorkersSettings",
        "format_settings",
        "load_settings",
    ]
    for name in taskstate.config.__all__:
        assert getattr(taskstate.config, name) is not None


def test_defaults(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)

    assert settings.database == DatabaseSettings(url=f"sqlite:///{tmp_path}/taskstate.db")
    assert settings.database.echo is False
    assert (settings.database.pool_size, settings.database.max_overflow) == (10, 10)
    assert settings.state_store == StateStoreSettings(
        backend="metastore", backend_kwargs={}, clear_on_success=False, max_value_bytes=1048576
    )
    assert settings.workers == WorkersSettings(
        state_backend=None,
        state_backend_kwargs={},
        heartbeat_interval=10.0,
        parallelism=4,
        max_map_length=1024,
    )
    assert settings.api == APISettings(
        host="127.0.0.1",
        port=8080,
        secret_key=None,
        api_keys=[],
        token_ttl_seconds=600,
        workers=1,
        client_retry_seconds=60.0,
    )
    assert settings.logging == LoggingSettings(level="INFO")
    assert settings.logs_folder == tmp_path / "logs"
    assert settings.config_file is None
    assert set(settings.sources.values()) == {"default"}


def test_home_is_expanded_and_absolute() -> None:
    assert Settings().home == Path.home() / ".taskstate"
    assert build(home="~/elsewhere").home == Path.home() / "elsewhere"
    relative = build(home="relative")
    assert relative.home == Path.cwd() / "relative"
    assert relative.database.url == f"sqlite:///{Path.cwd()}/relative/taskstate.db"


def test_database_url_is_kept_when_given(tmp_path: Path) -> None:
    settings = build(home=tmp_path, database={"url": "postgresql://db/ts", "echo": True})

    assert settings.database.url == "postgresql://db/ts"
    assert settings.database.echo is True


def test_database_url_defaults_when_only_other_keys_are_given(tmp_path: Path) -> None:
    settings = build(home=tmp_path, database={"pool_size": 2})

    assert settings.database.url == f"sqlite:///{tmp_path}/taskstate.db"
    assert settings.database.pool_size == 2


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)

    with pytest.raises(ValidationError, match="frozen"):
        settings.home = Path("/elsewhere")
    with pytest.raises(ValidationError, match="frozen"):
        settings.workers.parallelism = 8
    assert settings.workers.parallelism == 4


@pytest.mark.parametrize(
    ("section", "values"),
    [
        ("database", {"pool_size": 0}),
        ("database", {"max_overflow": -1}),
        ("database", {"url": ""}),
        ("state_store", {"max_value_bytes": 0}),
        ("state_store", {"backend": ""}),
        ("state_store", {"default_retention_days": -1}),
        ("state_store", {"default_retention_days": float("nan")}),
        ("state_store", {"default_retention_days": 36_501}),
        ("state_store", {"cleanup_batch_size": 0}),
        ("state_store", {"cleanup_interval_seconds": -1}),
        ("state_store", {"cleanup_interval_seconds": float("inf")}),
        ("workers", {"heartbeat_interval": 0}),
        ("workers", {"heartbeat_interval": float("inf")}),
        ("workers", {"parallelism": 0}),
        ("workers", {"max_map_length": 0}),
        ("workers", {"max_map_length": -1}),
        ("api", {"port": 65536}),
        ("api", {"port": -1}),
        ("api", {"token_ttl_seconds": 0}),
        ("api", {"workers": 0}),
        ("api", {"client_retry_seconds": -1}),
        ("api", {"client_retry_seconds": 86_401}),
        ("api", {"client_retry_seconds": float("inf")}),
        ("api", {"unknown": 1}),
        ("logging", {"level": "LOUD"}),
        ("logging", {"level": ""}),
        ("logging", {"level": 20}),
        ("logging", {"unknown": 1}),
    ],
)
def test_out_of_range_values_are_rejected(section: str, values: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        build(**{section: values})

    assert caught.value.errors()[0]["loc"][:2] == (section, next(iter(values)))


@pytest.mark.parametrize(
    ("given", "level"), [("debug", "DEBUG"), (" Warning ", "WARNING"), ("CRITICAL", "CRITICAL")]
)
def test_logging_level_takes_a_level_name_in_any_case(given: str, level: str) -> None:
    assert build(logging={"level": given}).logging.level == level


def test_logging_level_names_its_choices_when_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        build(logging={"level": "verbose"})

    assert "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in str(caught.value)


def test_max_map_length_is_at_least_one() -> None:
    assert build(workers={"max_map_length": 1}).workers.max_map_length == 1
    assert build(workers={"max_map_length": "3"}).workers.max_map_length == 3


def test_retention_and_clean_up_defaults() -> None:
    store = build().state_store
    assert store.default_retention_days == 0  # never expire, unless a write says otherwise
    assert store.cleanup_batch_size == 1000
    assert store.cleanup_interval_seconds == 300
    tuned = build(
        state_store={
            "default_retention_days": "0.5",
            "cleanup_batch_size": "50",
            "cleanup_interval_seconds": "0",
        }
    ).state_store
    assert (tuned.default_retention_days, tuned.cleanup_batch_size) == (0.5, 50)
    assert tuned.cleanup_interval_seconds == 0


def test_tables_and_lists_accept_json_text() -> None:
    settings = build(
        workers={"state_backend_kwargs": '{"root": "memory://x"}'},
        api={"api_keys": '["k1", "k2"]'},
    )

    assert settings.workers.state_backend_kwargs == {"root": "memory://x"}
    assert [key.get_secret_value() for key in settings.api.api_keys] == ["k1", "k2"]


def test_blank_state_backend_and_secret_key_mean_unset() -> None:
    settings = build(workers={"state_backend": ""}, api={"secret_key": ""})

    assert settings.workers.state_backend is None
    assert settings.api.secret_key is None


def test_format_settings_lists_every_leaf_with_secrets_masked(tmp_path: Path) -> None:
    settings = build(
        home=tmp_path,
        database={"url": "postgresql+psycopg://alice:hunter2@db:5432/ts"},
        workers={"state_backend_kwargs": {"bucket": "b", "secret": "s3cr3t"}},
        api={"secret_key": "jwt-signing-key", "api_keys": ["key-one", "key-two"]},
    )

    rows = format_settings(settings)
    shown = {key: value for key, value, _source in rows}

    assert [key for key, _value, _source in rows] == Settings.setting_keys()
    assert shown["home"] == str(tmp_path)
    assert shown["api.secret_key"] == MASK
    assert shown["api.api_keys"] == f'["{MASK}", "{MASK}"]'
    assert shown["database.url"] == f"postgresql+psycopg://alice:{MASK}@db:5432/ts"
    assert shown["workers.state_backend_kwargs"] == f'{{"bucket": "b", "secret": "{MASK}"}}'
    assert shown["workers.state_backend"] == NOT_SET
    assert shown["state_store.clear_on_success"] == "false"
    text = repr(rows)
    for secret in ("hunter2", "s3cr3t", "jwt-signing-key", "key-one", "key-two"):
        assert secret not in text


def test_describe_keeps_the_effective_values(tmp_path: Path) -> None:
    settings = build(home=tmp_path, api={"secret_key": "k", "port": 9000})

    described = {info.key: info for info in settings.describe()}

    assert described["api.port"].value == 9000
    assert described["api.port"].display == "9000"
    assert isinstance(described["api.secret_key"].value, SecretStr)
    assert described["api.secret_key"].value.get_secret_value() == "k"
    assert described["api.secret_key"].display == MASK
    assert described["home"].source == "default"


def test_value_of_rejects_unknown_names(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)

    assert settings.value_of("workers.parallelism") == 4
    with pytest.raises(KeyError):
        settings.value_of("workers.nope")
    with pytest.raises(KeyError):
        settings.value_of("nope.parallelism")


def test_settings_survive_pickling(tmp_path: Path) -> None:
    # Supervisors may hand settings to a child process.
    settings = build(home=tmp_path, api={"secret_key": "k"})
    settings._record_origin(tmp_path / "taskstate.toml", {"api.secret_key": "env X"})

    copy = pickle.loads(pickle.dumps(settings))

    assert copy == settings
    assert copy.config_file == tmp_path / "taskstate.toml"
    assert copy.sources["api.secret_key"] == "env X"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, NOT_SET),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (Path("/a/b"), "/a/b"),
        ("text", "text"),
        ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
        (
            {"nested": {"Password": "p", "user": "u"}},
            f'{{"nested": {{"Password": "{MASK}", "user": "u"}}}}',
        ),
        ([SecretStr("x")], f'["{MASK}"]'),
    ],
)
def test_display_value(value: object, shown: str) -> None:
    assert display_value(value) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://alice@db/ts", "postgresql://alice@db/ts"),
        (
            "postgresql://alice:pw@db/ts?sslmode=require",
            f"postgresql://alice:{MASK}@db/ts?sslmode=require",
        ),
    ],
)
def test_mask_url_password(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown


def test_max_body_bytes_defaults_to_8_mib_and_must_hold_a_value() -> None:
    assert Settings().api.max_body_bytes == 8 * 1024 * 1024
    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings(api={"max_body_bytes": 1_048_576})  # the default max_value_bytes, no room
    given = Settings(state_store={"max_value_bytes": 100}, api={"max_body_bytes": 100 + 65536})
    assert given.api.max_body_bytes == 65636
