"""``taskstate.api.keys``: where the server's keys and the CLI's API key come from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from taskstate.api.keys import client_api_key, in_memory_keys, local_secret, read_api_key_file
from taskstate.config import Settings
from taskstate.errors import ConfigError

MakeSettings = Callable[..., Settings]


def test_an_embedded_server_gets_keys_of_its_own_that_no_file_holds(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    first, key = in_memory_keys(settings)
    second, other = in_memory_keys(settings)
    assert first.api.secret_key is not None and second.api.secret_key is not None
    assert first.api.secret_key.get_secret_value() != second.api.secret_key.get_secret_value()
    assert len(first.api.secret_key.get_secret_value()) >= 32
    assert [k.get_secret_value() for k in first.api.api_keys] == [key]
    assert key != other
    # Nothing else changed, and nothing was written.
    assert first.model_dump(exclude={"api"}) == settings.model_dump(exclude={"api"})
    assert first.sources == settings.sources
    assert not settings.home.exists() or not any(settings.home.iterdir())


def test_configured_keys_are_kept(make_settings: MakeSettings) -> None:
    secret = "s" * 40
    settings = make_settings(TASKSTATE__API__SECRET_KEY=secret, TASKSTATE__API__API_KEYS='["k1"]')
    kept, key = in_memory_keys(settings)
    assert kept is settings
    assert key == "k1"


def test_the_cli_key_comes_from_a_file_then_the_environment_then_the_settings(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("  from-file\n")
    configured = make_settings(TASKSTATE__API__API_KEYS='["configured"]')
    environ = {"TASKSTATE_API_KEY": "from-env"}
    assert client_api_key(configured, key_file, environ=environ) == "from-file"
    assert client_api_key(configured, environ=environ) == "from-env"
    assert client_api_key(configured, environ={"TASKSTATE_API_KEY": " "}) == "configured"
    local = make_settings()
    assert client_api_key(local) == (local.home / "api_key").read_text().strip()


def test_an_unreadable_or_empty_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        read_api_key_file(tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_api_key_file(tmp_path / "empty")


def test_local_keys_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    local_secret(home, "secret_key")
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "secret_key").stat().st_mode & 0o777 == 0o600
