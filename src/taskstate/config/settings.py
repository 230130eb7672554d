"""The settings object: one frozen value, built once by ``load_settings`` and passed down.

``Settings`` is a pydantic-settings ``BaseSettings`` whose ``model_config`` declares the
environment scheme (``TASKSTATE__SECTION__KEY``), but it reads nothing by itself: its only
source is the keyword arguments it is built with. ``taskstate.config.loader`` gathers the
environment and the TOML file, records where every value came from, and builds it. So
``Settings()`` is the defaults, whatever the process environment holds, and tests build the
exact settings they need with keyword arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from taskstate.config.display import display_value, mask_url_password
from taskstate.config.encryption_keys import EncryptionKey, load_encryption_keys

__all__ = [
    "DEFAULT_HOME",
    "DEFAULT_SOURCE",
    "MAX_INTERVAL_SECONDS",
    "SECTIONS",
    "TTL_HEARTBEATS",
    "APISettings",
    "DatabaseSettings",
    "LoggingSettings",
    "SettingInfo",
    "Settings",
    "StateStoreSettings",
    "WorkersSettings",
    "default_database_url",
    "expand_home",
    "format_settings",
    "is_secret_setting",
]

DEFAULT_HOME = "~/.taskstate"
"""Where taskstate keeps its files when ``TASKSTATE_HOME`` is not set."""

DEFAULT_SOURCE = "default"
"""The source of a setting that neither the environment nor the file set."""

MAX_INTERVAL_SECONDS = 365 * 86_400
"""The longest period a setting in seconds may name: a year."""

TTL_HEARTBEATS = 3
"""How many heartbeat intervals a task-instance token must outlive at least."""


def _from_json_text(value: Any) -> Any:
    """Decode JSON text given for a table or list; the environment can only carry text.

    Decoding happens here, during validation, rather than in the environment source, so a bad
    value is reported like every other bad value: with its key and where it came from.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise PydanticCustomError(
            "json_invalid", "expected JSON text, got invalid JSON: {error}", {"error": str(exc)}
        ) from exc


def _blank_is_none(value: Any) -> Any:
    """Treat an empty string as unset, so ``TASKSTATE__X__Y=`` can clear a file's value."""
    return None if value == "" else value


JSONTable = Annotated[dict[str, Any], BeforeValidator(_from_json_text)]
SecretList = Annotated[list[SecretStr], BeforeValidator(_from_json_text)]


def _key_entries(value: Any) -> Any:
    """``id:base64key`` entries, from a list of them or a table ``{id = "base64key"}``."""
    value = _from_json_text(value)
    if isinstance(value, dict):
        return [f"{key_id}:{key}" if isinstance(key, str) else key for key_id, key in value.items()]
    return value


KeyEntries = Annotated[list[SecretStr], BeforeValidator(_key_entries)]


MAX_BODY_BYTES = 8 * 1024 * 1024
BODY_OVERHEAD_BYTES = 64 * 1024
"""What a request body needs beyond its value: the key, the retention, the JSON around them."""


class _Section(BaseModel):
    """A ``[section]`` of the TOML file: immutable, and strict about its key names."""

    model_config = ConfigDict(frozen=True, extra="forbid")


SQLiteSynchronous = Literal["normal", "full"]


def _lower(value: Any) -> Any:
    """A name in any case, lower-cased; anything else is left for the type to refuse."""
    return value.strip().lower() if isinstance(value, str) else value


class DatabaseSettings(_Section):
    """``[database]``: the metadata database, used only by the API server."""

    url: str = Field(min_length=1)
    """SQLAlchemy URL; defaults to ``sqlite:///{home}/taskstate.db``."""
    echo: bool = False
    """Log every SQL statement."""
    pool_size: int = Field(default=10, ge=1, le=1000)
    """Connections each engine of an API server process keeps open between requests.

    Set it to at least the number of state calls in flight at once on one process (roughly, the
    tasks running against it): a connection beyond it is opened for one request and closed after
    it, which on PostgreSQL costs a backend process start per request.
    """
    max_overflow: int = Field(default=10, ge=0, le=10_000)
    """Connections each engine may open beyond ``pool_size`` at a peak, closed after use."""
    sqlite_synchronous: Annotated[SQLiteSynchronous, BeforeValidator(_lower)] = "normal"
    """SQLite's ``PRAGMA synchronous`` on every connection: ``normal`` or ``full``.

    In WAL mode ``normal`` syncs at checkpoints only: an acknowledged write survives a crash of
    the process, but the last ones may be lost if the machine loses power. ``full`` syncs the
    WAL on every commit, so they survive a power loss too, at a cost per write measured by
    ``benchmarks/sqlite_synchronous.py``. Ignored for PostgreSQL (see its ``synchronous_commit``).
    """


class StateStoreSettings(_Section):
    """``[state_store]``: the server-side state backend and the limits it enforces."""

    backend: str = Field(default="metastore", min_length=1)
    """A short name of a built-in backend or a dotted class path."""
    backend_kwargs: JSONTable = Field(default_factory=dict)
    """Keyword arguments for the backend's constructor."""
    clear_on_success: bool = False
    """Clear a task instance's state, objects included, when it succeeds."""
    max_value_bytes: int = Field(default=1_048_576, ge=1, le=1_000_000_000)
    """Largest accepted value, measured as UTF-8 JSON text (at most SQLite's largest string,
    10^9 bytes)."""
    default_retention_days: float = Field(default=0, ge=0, le=36_500, allow_inf_nan=False)
    """How long a key set without a retention stays visible; 0: until it is deleted.

    Never expiring is the default because state is kept to be found again (a job id by a
    retry, a watermark by the next run, perhaps months later); silently dropping a watermark
    would make a load start over. Set a retention where keys pile up."""
    cleanup_batch_size: int = Field(default=1000, ge=1, le=100_000)
    """Expired keys the clean-up removes per statement (each batch is one short transaction)."""
    cleanup_interval_seconds: float = Field(
        default=300, ge=0, le=MAX_INTERVAL_SECONDS, allow_inf_nan=False
    )
    """Seconds between the API server's clean-ups of expired keys; 0: no periodic clean-up."""
    purge_claim_seconds: int = Field(default=300, ge=5, le=86_400)
    """How long a purger holds the objects it claimed (a task after its own delete or clear,
    ``taskstate state purge``); a set of such an object waits until the purge is done, and a
    claim whose purger died is taken again after this long."""


class WorkersSettings(_Section):
    """``[workers]``: how tasks run, how many a mapped task may make, and the worker-side
    state backend if any."""

    state_backend: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    """Dotted class path of a backend that runs in the task process; unset means none."""
    state_backend_kwargs: JSONTable = Field(default_factory=dict)
    """Keyword arguments for the worker backend's constructor."""
    heartbeat_interval: float = Field(default=10.0, ge=0.01, le=3600, allow_inf_nan=False)
    """Seconds between a supervisor's heartbeats; ``[api] token_ttl_seconds`` must be at least
    three of them, so that a token outlives a missed heartbeat or two."""
    parallelism: int = Field(default=4, ge=1, le=1024)
    """Task instances a runner executes at once."""
    max_map_length: int = Field(default=1024, ge=1, le=1_000_000)
    """Most task instances one mapped task may have (the product of its expanded lists' lengths).

    A mapping over more fails the task without a try (``UnmappableOutputError``); the API
    server refuses to expand a placeholder into more, whoever asks. Both read this one setting,
    so set it alike where the runner and the API server run. 1024 is Airflow's default."""
    run_as_user: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    """The user each task process runs as; unset: the runner's own user.

    The supervisor, running as root, drops the task process to this user before it starts, so
    the task cannot read ``$TASKSTATE_HOME`` (the database, the key files) nor the memory of
    taskstate's processes. Refused when taskstate does not run as root."""
    encryption_keys: KeyEntries = Field(default_factory=list)
    """Keys of client-side encryption, ``id:base64key`` each (or a table id -> key): values
    are encrypted in the task process with the first, and decrypted with any of them."""
    encryption_keys_file: Annotated[Path | None, BeforeValidator(_blank_is_none)] = None
    """A file of more keys, one ``id:base64key`` a line, readable by its owner alone."""

    def encryption_key_list(self) -> list[EncryptionKey]:
        """The configured keys, the one that encrypts first (reads the keys file)."""
        entries = [entry.get_secret_value() for entry in self.encryption_keys]
        keys_file = self.encryption_keys_file
        return load_encryption_keys(entries, None if keys_file is None else keys_file.expanduser())

    @model_validator(mode="after")
    def _encryption_keys_usable(self) -> WorkersSettings:
        """Bad keys are refused at start (InvalidEncryptionKeyError), not at the first value."""
        self.encryption_key_list()
        return self


class APISettings(_Section):
    """``[api]``: the API server and the credentials it accepts and issues."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    secret_key: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = None
    """Signs task-instance tokens (JWT)."""
    api_keys: SecretList = Field(default_factory=list)
    """Bearer keys accepted by the public API."""
    token_ttl_seconds: int = Field(default=600, ge=1, le=MAX_INTERVAL_SECONDS)
    """Lifetime of a task-instance token; at least 3 x ``[workers] heartbeat_interval``."""
    workers: int = Field(default=1, ge=1, le=256)
    """API server processes."""
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1)
    """Largest request body accepted, refused (413) before more of it is read; at least
    ``[state_store] max_value_bytes`` + 64 KiB, so that every storable value fits in a body."""
    client_retry_seconds: float = Field(default=60.0, ge=0, le=86_400, allow_inf_nan=False)
    """How long a client (supervisor, runner, CLI) retries a call that failed transiently
    (connection refused or reset, 503) before giving up; 0: no retries."""


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_LOG_LEVELS = get_args(LogLevel)


def _log_level(value: Any) -> Any:
    """A level name in any case, upper-cased; refused with the value as the user wrote it."""
    name = value.strip().upper() if isinstance(value, str) else None
    if name not in _LOG_LEVELS:
        raise PydanticCustomError(
            "log_level",
            "expected one of {levels} (in any case)",
            {"levels": ", ".join(_LOG_LEVELS)},
        )
    return name


class LoggingSettings(_Section):
    """``[logging]``: what a task's ``logging`` calls show in the terminal and its log files.

    Each try's lines are written to ``{home}/logs/dag_id=D/run_id=R/task_id=T[/map_index=N]/
    attempt=K.log`` on the machine that ran it; ``taskstate tasks logs`` prints one back.
    """

    level: Annotated[LogLevel, BeforeValidator(_log_level)] = "INFO"
    """Least severe level of the records a task's loggers pass on (any case is accepted).

    It applies to the root logger of the task process; a logger the task configures with a
    level of its own keeps it. A task's print() output is always shown."""


SECTIONS: Mapping[str, type[_Section]] = MappingProxyType(
    {
        "database": DatabaseSettings,
        "state_store": StateStoreSettings,
        "workers": WorkersSettings,
        "api": APISettings,
        "logging": LoggingSettings,
    }
)
"""The sections of the TOML file, in the order they are shown."""


def expand_home(value: str | Path, *, user_home: str | None = None) -> Path:
    """``value`` as an absolute path, with a leading ``~`` replaced by ``user_home``.

    ``user_home`` (the ``HOME`` of the environment being loaded) defaults to the process's.
    """
    path = Path(value)
    if user_home and path.parts and path.parts[0] == "~":
        path = Path(user_home, *path.parts[1:])
    return path.expanduser().absolute()


def default_database_url(home: Path) -> str:
    """The SQLite database under ``home`` that is used when ``[database] url`` is not set."""
    return f"sqlite:///{home}/taskstate.db"


def _database_under(home: Path) -> DatabaseSettings:
    """``[database]`` when the section is absent altogether."""
    return DatabaseSettings(url=default_database_url(home))


def is_secret_setting(section: str, key: str) -> bool:
    """Whether ``[section] key`` holds a secret, whose value must never be shown."""
    field = SECTIONS[section].model_fields.get(key)
    return field is not None and _mentions_secret(field.annotation)


def _mentions_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_mentions_secret(arg) for arg in get_args(annotation))


class SettingInfo(NamedTuple):
    """One leaf setting as ``taskstate config show`` lists it."""

    key: str
    """``home`` or ``section.key``."""
    value: Any
    """The effective value; secrets stay ``SecretStr``."""
    display: str
    """The value as text, secrets masked."""
    source: str
    """``default``, ``env NAME`` or ``file PATH``."""


class Settings(BaseSettings):
    """Every setting of taskstate, as one immutable value.

    Build it with ``load_settings()``; pass it down to whatever needs a setting.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="TASKSTATE__",
        env_nested_delimiter="__",
        case_sensitive=False,
        # Tables and lists given as JSON text are decoded during validation (_from_json_text).
        enable_decoding=False,
    )

    home: Path = Field(default_factory=lambda: expand_home(DEFAULT_HOME))
    """Where taskstate keeps its files; from ``TASKSTATE_HOME``."""
    database: DatabaseSettings = Field(default_factory=lambda data: _database_under(data["home"]))
    """``url`` defaults to a SQLite file under ``home``."""
    state_store: StateStoreSettings = Field(default_factory=StateStoreSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    api: APISettings = Field(default_factory=APISettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    _config_file: Path | None = PrivateAttr(default=None)
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the keyword arguments: the loader, not the class, reads env and file."""
        return (init_settings,)

    @field_validator("database", mode="before")
    @classmethod
    def _database_url_under_home(cls, value: Any, info: ValidationInfo) -> Any:
        """A ``[database]`` table without ``url`` still gets the SQLite file under home."""
        if isinstance(value, dict) and "url" not in value and "home" in info.data:
            return {**value, "url": default_database_url(info.data["home"])}
        return value

    @field_validator("api")
    @classmethod
    def _body_holds_a_value(cls, value: APISettings, info: ValidationInfo) -> APISettings:
        store = info.data.get("state_store")
        if store is not None and value.max_body_bytes < store.max_value_bytes + BODY_OVERHEAD_BYTES:
            raise PydanticCustomError(
                "max_body_bytes",
                "max_body_bytes ({given}) must be at least [state_store] max_value_bytes "
                "({value_bytes}) + {overhead}",
                {
                    "given": value.max_body_bytes,
                    "value_bytes": store.max_value_bytes,
                    "overhead": BODY_OVERHEAD_BYTES,
                },
            )
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return expand_home(value)

    @model_validator(mode="after")
    def _token_outlives_heartbeats(self) -> Settings:
        """A token that expires between two heartbeats would fail every task that runs longer."""
        ttl, interval = self.api.token_ttl_seconds, self.workers.heartbeat_interval
        if ttl < TTL_HEARTBEATS * interval:
            raise PydanticCustomError(
                "token_ttl_below_heartbeats",
                "[api] token_ttl_seconds = {ttl} must be at least {count} x [workers] "
                "heartbeat_interval = {interval} s, i.e. {least} s: a token renewed by "
                "heartbeats would expire between two of them; raise the TTL or shorten the "
                "interval",
                {
                    "ttl": ttl,
                    "count": TTL_HEARTBEATS,
                    "interval": f"{interval:g}",
                    "least": f"{TTL_HEARTBEATS * interval:g}",
                    "keys": ["api.token_ttl_seconds", "workers.heartbeat_interval"],
                },
            )
        return self

    @property
    def logs_folder(self) -> Path:
        """Where the log files of the tries run on this machine are written: ``{home}/logs``."""
        return self.home / "logs"

    @property
    def config_file(self) -> Path | None:
        """The TOML file these settings were read from, if any."""
        return self._config_file

    @property
    def sources(self) -> Mapping[str, str]:
        """Where each leaf setting came from, by ``home`` or ``section.key``, in display order.

        ``"default"``, ``"env TASKSTATE__SECTION__KEY"``, ``"env TASKSTATE_HOME"`` or
        ``"file /path/taskstate.toml"``.
        """
        return MappingProxyType(
            {key: self._sources.get(key, DEFAULT_SOURCE) for key in self.setting_keys()}
        )

    @staticmethod
    def setting_keys() -> list[str]:
        """The name of every leaf setting, ``home`` first, then ``section.key`` in order."""
        return ["home"] + [
            f"{section}.{key}" for section, model in SECTIONS.items() for key in model.model_fields
        ]

    def value_of(self, key: str) -> Any:
        """The effective value of the leaf setting named ``key`` (``home`` or ``section.key``)."""
        if key == "home":
            return self.home
        section, _, name = key.partition(".")
        if section not in SECTIONS or name not in SECTIONS[section].model_fields:
            raise KeyError(key)
        return getattr(getattr(self, section), name)

    def describe(self) -> list[SettingInfo]:
        """Every leaf setting with its effective value, masked text and source."""
        return [
            SettingInfo(key, self.value_of(key), _display(key, self.value_of(key)), source)
            for key, source in self.sources.items()
        ]

    def _record_origin(self, config_file: Path | None, sources: Mapping[str, str]) -> None:
        """Set by the loader right after building, before anyone else sees the value."""
        self._config_file = config_file
        self._sources = dict(sources)


def _display(key: str, value: Any) -> str:
    if key == "database.url" and isinstance(value, str):
        return mask_url_password(value)
    return display_value(value)


def format_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """Rows of (``section.key``, value as text with secrets masked, source) for display."""
    return [(info.key, info.display, info.source) for info in settings.describe()]
