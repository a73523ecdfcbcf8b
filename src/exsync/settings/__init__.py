"""Settings: the configuration file, layered per-profile settings and where each value came from.

``load_config`` reads and checks the file; ``effective``/``origins`` resolve one profile's settings
over the layers (built-in < file defaults < stored defaults < file profile < stored profile);
``change_setting`` records a CLI or web change in the state store; ``provision`` turns the staff
list into profiles.
"""

from exsync.settings.changes import (
    SettingsStore,
    change_setting,
    check_value,
    clear_setting,
    parse_value,
)
from exsync.settings.durations import format_duration, parse_duration
from exsync.settings.errors import ConfigError, LockedSetting
from exsync.settings.layers import Origin, Resolved, effective, origins, resolve
from exsync.settings.load import config_from_dict, load_config
from exsync.settings.overrides import Overrides
from exsync.settings.parts import (
    PART_MODELS,
    CalendarSettings,
    ContactsSettings,
    Guard,
    MailSettings,
    PartSettings,
    ProfileSettings,
    SyncedPartSettings,
    TasksSettings,
    Window,
    fingerprint,
)
from exsync.settings.provision import ProvisionResult, provision
from exsync.settings.schema import (
    BusinessSection,
    Certificate,
    Config,
    ImapSection,
    MailboxSection,
    PolicySection,
    StateSection,
    setting_keys,
)
from exsync.settings.secrets import PasswordBook, Secret

__all__ = [
    "PART_MODELS", "BusinessSection", "CalendarSettings", "Certificate", "Config", "ConfigError",
    "ContactsSettings", "Guard", "ImapSection", "LockedSetting", "MailSettings", "MailboxSection",
    "Origin", "Overrides", "PartSettings", "PasswordBook", "PolicySection", "ProfileSettings",
    "ProvisionResult", "Resolved", "Secret", "SettingsStore", "StateSection", "SyncedPartSettings",
    "TasksSettings", "Window", "change_setting", "check_value", "clear_setting", "config_from_dict",
    "effective", "fingerprint", "format_duration", "load_config", "origins", "parse_duration",
    "parse_value", "provision", "resolve", "setting_keys",
]
