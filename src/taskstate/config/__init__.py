"""The settings of taskstate: read once by ``load_settings`` into a frozen ``Settings`` value.

Sources, highest priority first: environment variables ``TASKSTATE__SECTION__KEY`` (tables and
lists as JSON text), the TOML file (``[database]``, ``[state_store]``, ``[workers]``, ``[api]``,
``[logging]``), the defaults. ``TASKSTATE_HOME`` names the home directory and
``TASKSTATE_CONFIG`` the file. Nothing here reads configuration at import time; pass the
``Settings`` value down.
"""

from taskstate.config.loader import load_settings
from taskstate.config.settings import (
    APISettings,
    DatabaseSettings,
    LoggingSettings,
    SettingInfo,
    Settings,
    StateStoreSettings,
    WorkersSettings,
    format_settings,
)

__all__ = [
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
