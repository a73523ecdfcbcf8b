"""Every built-in default DESIGN.md shows, and the DESIGN.md example file itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from exsync.settings import (
    PART_MODELS,
    CalendarSettings,
    ContactsSettings,
    MailSettings,
    SyncedPartSettings,
    TasksSettings,
    effective,
    origins,
    setting_keys,
)
from exsync.settings.overrides import partial_model

DESIGN_EXAMPLE = """
[business]
url = "sqlite:///firm.db"          # any SQLAlchemy URL
mapping = "reference"              # built-in mapping of the reference schema, or a mapping file path

[mailbox]
kind = "graph"
tenant = "contoso.onmicrosoft.com"
client_id = "…"
client_secret = { env = "EXSYNC_CLIENT_SECRET" }
graph_url = "https://graph.microsoft.com/v1.0"
login_url = "https://login.microsoftonline.com"

[state]
url = "sqlite:///exsync-state.db"

[defaults]
time_zone = "UTC"

[defaults.contacts]
direction = "to-mailbox"
interval = "15m"
folder = "Firm Contacts"
category = "Firm"
delete_in_mailbox = true
delete_in_business = false
guard = { max_deletes = 25, max_delete_share = 0.1 }

[defaults.calendar]
direction = "both"
interval = "5m"
types = ["Meeting", "Hearing", "Appointment"]
series = []
new_item_type = "Appointment"
window = { past_days = 90, future_days = 730 }
conflict = "business-wins"
send_invitations = false
copy_to_staff_attendees = true

[defaults.tasks]
direction = "both"
interval = "15m"
types = ["To-do", "Deadline"]
new_item_type = "To-do"
list = "Firm Tasks"

[defaults.mail]
direction = "to-business"
interval = "10m"
folders = ["inbox", "sentitems"]
via = "graph"
since = ""

[imap]
host = "imap.example.com"
port = 993
security = "tls"
login = "{email}"
auth = "password"
passwords = { file = "imap-passwords.toml" }

[policy]
provision = "auto"
users_may_change = []

[profiles.JD]
calendar = { direction = "to-mailbox" }
"""


def test_minimal_file_has_every_design_default(write_config, tmp_path: Path) -> None:
    config = write_config()
    assert config.business.mapping == "reference"
    assert config.mailbox.kind == "graph"
    assert config.mailbox.graph_url == "https://graph.microsoft.com/v1.0"
    assert config.mailbox.login_url == "https://login.microsoftonline.com"
    assert config.mailbox.ca_bundle is None
    assert config.state.url == f"sqlite:///{tmp_path}/exsync-state.db"
    assert config.imap is None
    assert config.policy.provision == "auto"
    assert config.policy.users_may_change == ()
    assert config.profiles == {}

    s = effective(config)
    assert s.time_zone == "UTC"

    c = s.contacts
    assert (c.direction, c.interval, c.folder, c.category) == (
        "to-mailbox", timedelta(minutes=15), "Firm Contacts", "Firm",
    )
    assert (c.delete_in_mailbox, c.delete_in_business) == (True, False)
    assert (c.guard.max_deletes, c.guard.max_delete_share) == (25, 0.1)

    cal = s.calendar
    assert cal.direction == "both"
    assert cal.interval == timedelta(minutes=5)
    assert cal.types == ("Meeting", "Hearing", "Appointment")
    assert cal.series == ()
    assert cal.new_item_type == "Appointment"
    assert (cal.window.past_days, cal.window.future_days) == (90, 730)
    assert cal.conflict == "business-wins"
    assert cal.send_invitations is False
    assert cal.copy_to_staff_attendees is True

    t = s.tasks
    assert (t.direction, t.interval) == ("both", timedelta(minutes=15))
    assert t.types == ("To-do", "Deadline")
    assert t.series == ()
    assert (t.new_item_type, t.list) == ("To-do", "Firm Tasks")

    m = s.mail
    assert (m.direction, m.interval) == ("to-business", timedelta(minutes=10))
    assert m.folders == ("inbox", "sentitems")
    assert m.via == "graph"
    assert m.since is None  # "" in the file: everything already there
    assert m.filter == ""

    assert set(origins(config).values()) == {"built-in"}


def test_synced_parts_share_flavour_conflict_deletes_guard_and_mail_has_none() -> None:
    for model in (ContactsSettings, CalendarSettings, TasksSettings):
        settings = model()
        assert isinstance(settings, SyncedPartSettings)
        assert settings.flavour == "merge"
        assert settings.conflict == "business-wins"
        assert settings.delete_in_mailbox is True
        assert settings.delete_in_business is False
        assert (settings.guard.max_deletes, settings.guard.max_delete_share) == (25, 0.1)
        assert settings.filter == ""
    for key in ("flavour", "conflict", "delete_in_mailbox", "delete_in_business", "guard"):
        assert key not in MailSettings.model_fields


def test_override_tables_are_derived_from_the_full_models() -> None:
    for model in PART_MODELS.values():
        assert list(partial_model(model).model_fields) == list(model.model_fields)
    assert "calendar.window.past_days" in setting_keys()
    assert "contacts.guard.max_delete_share" in setting_keys()
    assert "time_zone" in setting_keys()


def test_the_design_example_file_loads_and_matches_the_built_ins(write_config, tmp_path: Path) -> None:
    (tmp_path / "imap-passwords.toml").write_text('"jd@firm.example" = "pw"\n', encoding="utf-8")
    config = write_config(text=DESIGN_EXAMPLE)
    assert config.imap is not None
    assert (config.imap.port, config.imap.security, config.imap.login, config.imap.auth) == (
        993, "tls", "{email}", "password",
    )
    assert config.imap.password_for("jd@firm.example") == "pw"
    # The example spells out the defaults: resolving it gives the built-in values...
    from_file = effective(config)
    assert from_file == effective(write_config())
    # ...each now coming from the file, and JD's override on top.
    assert origins(config)["calendar.window.past_days"] == "file:defaults"
    assert effective(config, [], "JD").calendar.direction == "to-mailbox"
    assert origins(config, [], "JD")["calendar.direction"] == "file:profile"
