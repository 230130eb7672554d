"""Reading settings: environment over TOML file over defaults, remembering where each came from.

pydantic-settings reads the sources (``EnvSettingsSource`` for ``TASKSTATE__SECTION__KEY``,
``TomlConfigSettingsSource`` for the file); this module checks the names in each, merges them
one leaf at a time, and validates once. Merging per leaf, rather than letting pydantic-settings
deep-merge the sources, keeps provenance exact: a table such as ``backend_kwargs`` comes whole
from one source, never half from the file and half from the environment.

Every problem becomes one ``ConfigError`` naming the setting, the value (masked if secret)
and its source; no ``ValidationError`` or ``TOMLDecodeError`` escapes.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsError,
    TomlConfigSettingsSource,
)

from taskstate.config.display import MASK, display_value
from taskstate.config.settings import (
    DEFAULT_HOME,
    DEFAULT_SOURCE,
    SECTIONS,
    Settings,
    expand_home,
    is_secret_setting,
)
from taskstate.errors import ConfigError

__all__ = ["CONFIG_FILE_NAME", "ENV_CONFIG", "ENV_HOME", "load_settings"]

ENV_HOME = "TASKSTATE_HOME"
"""Names the taskstate home directory (single underscore: outside the nested scheme)."""

ENV_CONFIG = "TASKSTATE_CONFIG"
"""Names the TOML file to read instead of ``$TASKSTATE_HOME/taskstate.toml``."""

CONFIG_FILE_NAME = "taskstate.toml"
"""The file looked for in the home directory."""

_ENV_PREFIX: str = Settings.model_config.get("env_prefix", "")
_ENV_DELIMITER: str = Settings.model_config.get("env_nested_delimiter") or "__"

# (section, key) -> the source it came from, e.g. "env TASKSTATE__WORKERS__PARALLELISM".
_Origins = dict[tuple[str, str], str]
# section -> key -> raw value, as a source gave it.
_Values = dict[str, dict[str, Any]]


def load_settings(
    *, env: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read the settings once: environment over TOML file over defaults.

    ``env`` defaults to ``os.environ`` as it is now. The file is ``config_file`` if given, else
    the one ``TASKSTATE_CONFIG`` names, else ``$TASKSTATE_HOME/taskstate.toml`` if it exists.
    Raises ``ConfigError`` for any setting that cannot be used.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    user_home = environ.get("HOME")
    home_text = environ.get(ENV_HOME) or DEFAULT_HOME
    home = expand_home(home_text, user_home=user_home)
    path = _find_config_file(environ, home, config_file, user_home=user_home)

    file_values, file_origins = _read_file(path) if path is not None else ({}, {})
    env_values, env_origins = _read_env(environ)

    values: _Values = {}
    origins: _Origins = {}
    # Lowest priority first, so a higher source overwrites a whole leaf.
    for source_values, source_origins in ((file_values, file_origins), (env_values, env_origins)):
        for (section, key), origin in source_origins.items():
            values.setdefault(section, {})[key] = source_values[section][key]
            origins[section, key] = origin

    fields: dict[str, Any] = {"home": home, **values}
    try:
        settings = Settings(**fields)
    except ValidationError as exc:
        raise _translate(exc, origins) from exc

    sources = {f"{section}.{key}": origin for (section, key), origin in origins.items()}
    if environ.get(ENV_HOME):
        sources["home"] = f"env {ENV_HOME}"
    settings._record_origin(path, sources)
    return settings


def _find_config_file(
    environ: Mapping[str, str], home: Path, given: Path | None, *, user_home: str | None
) -> Path | None:
    """The TOML file to read, or None; a file that was asked for by name must exist."""
    if given is not None:
        path = expand_home(given, user_home=user_home)
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist or is not a file", detail={"path": str(path)}
            )
        return path
    named = environ.get(ENV_CONFIG)
    if named:
        path = expand_home(named, user_home=user_home)
        if not path.is_file():
            raise ConfigError(
                f"{ENV_CONFIG} names {path}, which does not exist or is not a file;"
                f" fix the path or unset {ENV_CONFIG}",
                detail={"env": ENV_CONFIG, "path": str(path)},
            )
        return path
    path = home / CONFIG_FILE_NAME
    return path if path.is_file() else None


def _read_file(path: Path) -> tuple[_Values, _Origins]:
    """The settings in the TOML file at ``path``, checked against the known names."""
    origin = f"file {path}"
    try:
        data = TomlConfigSettingsSource(Settings, toml_file=path).toml_data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot parse config file {path}: {exc}", detail={"path": str(path)}
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror or exc}", detail={"path": str(path)}
        ) from exc

    values: _Values = {}
    origins: _Origins = {}
    for section, table in data.items():
        if section not in SECTIONS:
            what = f"[{section}]" if isinstance(table, dict) else section
            raise _unknown(what, origin, hint=_section_hint(section, in_env=False))
        if not isinstance(table, dict):
            raise ConfigError(
                f"{section} in {origin} must be a table: write [{section}] and its keys below it",
                detail={"key": section, "source": origin},
            )
        for key, value in table.items():
            if key not in SECTIONS[section].model_fields:
                raise _unknown(f"[{section}] {key}", origin, hint=_key_hint(section, key))
            values.setdefault(section, {})[key] = value
            origins[section, key] = origin
    return values, origins


def _read_env(environ: Mapping[str, str]) -> tuple[_Values, _Origins]:
    """The settings in ``TASKSTATE__SECTION__KEY`` variables, checked against the known names."""
    origins: _Origins = {}
    for name in environ:
        if not name.upper().startswith(_ENV_PREFIX.upper()):
            continue
        section, key = _env_setting(name)
        if (section, key) in origins:
            raise ConfigError(
                f"[{section}] {key} is set twice in the environment:"
                f" {origins[section, key].removeprefix('env ')} and {name}",
                detail={"key": f"{section}.{key}", "source": f"env {name}"},
            )
        origins[section, key] = f"env {name}"

    try:
        data = _MappingEnvSource(Settings, environ)()
    except SettingsError as exc:
        raise ConfigError(f"cannot read settings from the environment: {exc}") from exc
    values: _Values = {section: dict(data[section]) for section in SECTIONS if section in data}
    return values, origins


def _env_setting(name: str) -> tuple[str, str]:
    """The (section, key) that the environment variable ``name`` sets, or a ConfigError."""
    origin = f"env {name}"
    parts = name[len(_ENV_PREFIX) :].lower().split(_ENV_DELIMITER)
    section = parts[0]
    if section not in SECTIONS:
        raise _unknown(section, origin, hint=_section_hint(section, in_env=True))
    if len(parts) == 1:
        raise _unknown(
            section, origin, hint=f"set one key per variable, e.g. {_env_name(section, 'KEY')}"
        )
    key = parts[1]
    if key not in SECTIONS[section].model_fields:
        raise _unknown(f"[{section}] {key}", origin, hint=_key_hint(section, key))
    if len(parts) > 2:
        raise _unknown(
            f"[{section}] {_ENV_DELIMITER.join(parts[1:])}",
            origin,
            hint=f"give the whole value as JSON text in {_env_name(section, key)}",
        )
    return section, key


class _MappingEnvSource(EnvSettingsSource):
    """``EnvSettingsSource`` over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._environ)
        return {name.lower(): value for name, value in self._environ.items()}


def _translate(exc: ValidationError, origins: _Origins) -> ConfigError:
    """One ConfigError listing every invalid setting with its value and source."""
    lines: list[str] = []
    problems: list[dict[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        section, key = [*loc, "", ""][:2]
        related = (error.get("ctx") or {}).get("keys")
        if not loc and related:
            # A rule between settings (e.g. the token TTL against the heartbeat interval).
            sources = [(name, origins.get(_split_key(name), DEFAULT_SOURCE)) for name in related]
            shown = ", ".join(f"{_bracketed(name)} from {source}" for name, source in sources)
            lines.append(f"{error['msg']} ({shown})")
            problems.extend(
                {"key": name, "source": source, "message": error["msg"]} for name, source in sources
            )
            continue
        if section in SECTIONS and key:
            name = f"[{section}] {key}" + "".join(f"[{part}]" for part in loc[2:])
            source = origins.get((section, key), DEFAULT_SOURCE)
            secret = is_secret_setting(section, key)
            dotted = f"{section}.{key}"
        else:
            name = dotted = ".".join(loc) or "settings"
            source, secret = DEFAULT_SOURCE, False
        shown = MASK if secret else _shown_input(error["input"])
        lines.append(f"{name} = {shown} (from {source}): {error['msg']}")
        problems.append({"key": dotted, "source": source, "message": error["msg"]})
    if len(lines) == 1:
        message = f"invalid setting {lines[0]}"
    else:
        message = f"{len(lines)} invalid settings:" + "".join(f"\n  {line}" for line in lines)
    return ConfigError(message, detail={"errors": problems})


def _split_key(name: str) -> tuple[str, str]:
    section, _, key = name.partition(".")
    return section, key


def _bracketed(name: str) -> str:
    section, key = _split_key(name)
    return f"[{section}] {key}"


def _shown_input(value: Any) -> str:
    return repr(value) if isinstance(value, str) else display_value(value)


def _unknown(what: str, origin: str, *, hint: str) -> ConfigError:
    setting = what.strip("[]").replace("] ", ".")
    return ConfigError(
        f"unknown setting {what} in {origin}; {hint}",
        detail={"key": setting, "source": origin},
    )


def _section_hint(section: str, *, in_env: bool) -> str:
    if section == "home":
        return f"the home directory is set by the environment variable {ENV_HOME}"
    known = list(SECTIONS)
    shown = [_env_name(name, "KEY") if in_env else f"[{name}]" for name in known]
    return _did_you_mean(section, known, shown) or "sections are " + ", ".join(shown)


def _key_hint(section: str, key: str) -> str:
    known = list(SECTIONS[section].model_fields)
    return _did_you_mean(key, known, known) or f"[{section}] takes " + ", ".join(known)


def _did_you_mean(name: str, known: list[str], shown: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if not close:
        return ""
    return f"did you mean {dict(zip(known, shown, strict=True))[close[0]]}?"


def _env_name(section: str, key: str) -> str:
    return f"{_ENV_PREFIX}{section.upper()}{_ENV_DELIMITER}{key.upper()}"
