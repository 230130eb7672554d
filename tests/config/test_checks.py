"""Settings checked at start: every numeric setting within bounds, ports in range, the token
TTL against the heartbeat interval, ``sqlite_synchronous``; from the TOML file and
``TASKSTATE__`` variables alike, each refused with a ConfigError naming the key and its source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskstate.config import Settings, load_settings
from taskstate.errors import ConfigError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    return {"TASKSTATE_HOME": str(home), "HOME": str(tmp_path / "user")}


OUT_OF_BOUNDS = [
    ("database", "pool_size", "0"),
    ("database", "pool_size", "1001"),
    ("database", "max_overflow", "-1"),
    ("database", "max_overflow", "10001"),
    ("database", "sqlite_synchronous", "off"),
    ("database", "sqlite_synchronous", "1"),
    ("state_store", "max_value_bytes", "0"),
    ("state_store", "max_value_bytes", "1000000001"),
    ("state_store", "max_value_bytes", "9" * 400),
    ("state_store", "default_retention_days", "-1"),
    ("state_store", "default_retention_days", "1e400"),
    ("state_store", "cleanup_batch_size", "0"),
    ("state_store", "cleanup_interval_seconds", "-5"),
    ("state_store", "cleanup_interval_seconds", "1e12"),
    ("state_store", "cleanup_interval_seconds", "nan"),
    ("workers", "heartbeat_interval", "0"),
    ("workers", "heartbeat_interval", "-1"),
    ("workers", "heartbeat_interval", "0.001"),
    ("workers", "heartbeat_interval", "3601"),
    ("workers", "parallelism", "0"),
    ("workers", "parallelism", "100000"),
    ("workers", "max_map_length", "0"),
    ("workers", "max_map_length", "1000001"),
    ("api", "port", "70000"),
    ("api", "port", "65536"),
    ("api", "port", "-1"),
    ("api", "token_ttl_seconds", "0"),
    ("api", "token_ttl_seconds", "-600"),
    ("api", "token_ttl_seconds", str(2**64)),
    ("api", "workers", "0"),
    ("api", "workers", "257"),
]


@pytest.mark.parametrize(("section", "key", "text"), OUT_OF_BOUNDS)
def test_out_of_bounds_from_the_environment(
    env: dict[str, str], home: Path, section: str, key: str, text: str
) -> None:
    name = f"TASKSTATE__{section.upper()}__{key.upper()}"
    env[name] = text

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert f"[{section}] {key} = " in caught.value.message
    assert f"(from env {name})" in caught.value.message
    assert caught.value.detail["errors"][0]["key"] == f"{section}.{key}"
    assert list(home.iterdir()) == []  # nothing created


@pytest.mark.parametrize(("section", "key", "text"), OUT_OF_BOUNDS)
def test_out_of_bounds_from_the_file(
    env: dict[str, str], home: Path, section: str, key: str, text: str
) -> None:
    literal = text if text.lstrip("-").replace(".", "").replace("e", "").isdigit() else f'"{text}"'
    path = home / "taskstate.toml"
    path.write_text(f"[{section}]\n{key} = {literal}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    assert f"[{section}] {key} = " in caught.value.message
    assert f"(from file {path})" in caught.value.message


def test_port_zero_picks_a_free_one_and_is_accepted(env: dict[str, str]) -> None:
    env["TASKSTATE__API__PORT"] = "0"
    assert load_settings(env=env).api.port == 0


# -- the token TTL against the heartbeat interval ---------------------------------------------


def test_a_token_ttl_shorter_than_three_heartbeats_is_refused(env: dict[str, str]) -> None:
    env["TASKSTATE__API__TOKEN_TTL_SECONDS"] = "20"  # heartbeat interval 10 s by default

    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)

    message = caught.value.message
    assert "[api] token_ttl_seconds = 20 must be at least 3 x [workers] heartbeat_interval" in (
        message
    )
    assert "i.e. 30 s" in message
    assert "[api] token_ttl_seconds from env TASKSTATE__API__TOKEN_TTL_SECONDS" in message
    assert "[workers] heartbeat_interval from default" in message
    keys = [problem["key"] for problem in caught.value.detail["errors"]]
    assert keys == ["api.token_ttl_seconds", "workers.heartbeat_interval"]


def test_the_ttl_rule_names_the_file_too(env: dict[str, str], home: Path) -> None:
    path = home / "taskstate.toml"
    path.write_text("[workers]\nheartbeat_interval = 300\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=rf"heartbeat_interval from file {path}"):
        load_settings(env=env)  # the default TTL, 600 s, is two heartbeats


@pytest.mark.parametrize(("ttl", "interval"), [("30", "10"), ("3", "1"), ("1", "0.3")])
def test_a_ttl_of_three_heartbeats_or_more_is_accepted(
    env: dict[str, str], ttl: str, interval: str
) -> None:
    env["TASKSTATE__API__TOKEN_TTL_SECONDS"] = ttl
    env["TASKSTATE__WORKERS__HEARTBEAT_INTERVAL"] = interval
    settings = load_settings(env=env)
    assert settings.api.token_ttl_seconds == int(ttl)


def test_the_ttl_rule_holds_for_settings_built_directly() -> None:
    with pytest.raises(ValueError, match="token_ttl_seconds = 5 must be at least"):
        Settings(api={"token_ttl_seconds": 5})


# -- sqlite_synchronous ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("normal", "normal"), ("FULL", "full")])
def test_sqlite_synchronous(env: dict[str, str], text: str, expected: str) -> None:
    env["TASKSTATE__DATABASE__SQLITE_SYNCHRONOUS"] = text
    assert load_settings(env=env).database.sqlite_synchronous == expected


def test_sqlite_synchronous_defaults_to_normal(env: dict[str, str]) -> None:
    assert load_settings(env=env).database.sqlite_synchronous == "normal"
