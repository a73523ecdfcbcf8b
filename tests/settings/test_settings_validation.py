"""Every way a file can be wrong ends in a ConfigError naming the dotted key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from exsync.settings import ConfigError

CASES = [
    pytest.param(
        "[defaults.calendar]\nintervall = '5m'\n",
        "defaults.calendar.intervall", ["unknown key", "did you mean `interval`"],
        id="unknown-key-suggests-closest",
    ),
    pytest.param(
        "[mailbx]\n", "mailbx", ["unknown key", "did you mean `mailbox`"], id="unknown-table",
    ),
    pytest.param(
        "[profiles.JD.calendar]\ndirektion = 'both'\n",
        "profiles.JD.calendar.direktion", ["did you mean `direction`"], id="unknown-key-in-profile",
    ),
    pytest.param(
        "[defaults.mail]\nconflict = 'record-only'\n",
        "defaults.mail.conflict", ["does not apply to mail", "remove it"], id="key-of-another-part",
    ),
    pytest.param(
        "[defaults.contacts.guard]\nmax_deletes = 'many'\n",
        "defaults.contacts.guard.max_deletes", ["wrong type", "whole number"], id="wrong-type-int",
    ),
    pytest.param(
        "[defaults.calendar]\ntypes = 'Meeting'\n",
        "defaults.calendar.types", ["wrong type", "a list"], id="wrong-type-list",
    ),
    pytest.param(
        "[defaults.calendar]\nsend_invitations = 'yes please'\n",
        "defaults.calendar.send_invitations", ["true or false"], id="wrong-type-bool",
    ),
    pytest.param(
        "[defaults.calendar]\ninterval = '30s'\n",
        "defaults.calendar.interval", ["under 1 minute", '"1m"'], id="interval-under-a-minute",
    ),
    pytest.param(
        "[profiles.JD.tasks]\ninterval = 59\n",
        "profiles.JD.tasks.interval", ["under 1 minute"], id="interval-seconds-under-a-minute",
    ),
    pytest.param(
        "[defaults.contacts]\ninterval = 'soon'\n",
        "defaults.contacts.interval", ["not a duration", '"15m"'], id="interval-unreadable",
    ),
    pytest.param(
        "[defaults.mail]\ndirection = 'both'\n",
        "defaults.mail.direction", ["not a direction mail can have", "'to-business' or 'off'"],
        id="mail-cannot-go-both-ways",
    ),
    pytest.param(
        "[profiles.JD.mail]\ndirection = 'to-mailbox'\n",
        "profiles.JD.mail.direction", ["not a direction mail can have"], id="mail-cannot-go-to-mailbox",
    ),
    pytest.param(
        "[defaults.calendar]\ndirection = 'sideways'\n",
        "defaults.calendar.direction", ["'both', 'to-mailbox', 'to-business' or 'off'"],
        id="unknown-direction",
    ),
    pytest.param(
        "[defaults.calendar]\nconflict = 'newest-wins'\n",
        "defaults.calendar.conflict", ["'business-wins', 'mailbox-wins' or 'record-only'"],
        id="unknown-conflict-policy",
    ),
    pytest.param(
        "[defaults.tasks]\nflavour = 'mirror'\n",
        "defaults.tasks.flavour", ["'merge' or 'replicate'"], id="unknown-flavour",
    ),
    pytest.param(
        "[defaults.contacts.guard]\nmax_delete_share = 1.5\n",
        "defaults.contacts.guard.max_delete_share", ["less than or equal to 1"], id="share-above-one",
    ),
    pytest.param(
        "[defaults.calendar.window]\npast_days = -1\n",
        "defaults.calendar.window.past_days", ["greater than or equal to 0"], id="negative-window",
    ),
    pytest.param(
        "[profiles.JD]\ntime_zone = 'Europe/Lndon'\n",
        "profiles.JD.time_zone", ["not a time zone", "IANA"], id="unknown-time-zone",
    ),
    pytest.param(
        "[defaults.mail]\nsince = 'yesterday'\n",
        "defaults.mail.since", ["date such as"], id="since-not-a-date",
    ),
    pytest.param(
        "[policy]\nusers_may_change = ['calendar.directon']\n",
        "policy.users_may_change", ["'calendar.directon' is not a profile setting",
                                    'did you mean "calendar.direction"'],
        id="users-may-change-unknown-key",
    ),
    pytest.param(
        "[policy]\nprovision = 'everyone'\n",
        "policy.provision", ["'auto' or 'listed'"], id="unknown-provision",
    ),
    pytest.param(
        "[defaults.mail]\nvia = 'imap'\n",
        "defaults.mail.via", ['needs an [imap] table', 'via = "graph"'], id="imap-without-imap-table",
    ),
    pytest.param(
        "[imap]\nhost = 'imap.firm.example'\nsecurity = 'none'\npassword = { env = 'P' }\n",
        "imap.security", ["only for loopback", '"tls"'], id="imap-cleartext-off-loopback",
    ),
    pytest.param(
        "[imap]\nhost = 'imap.firm.example'\n",
        "imap.passwords", ['auth = "password"', "passwords = { file"], id="imap-without-passwords",
    ),
    pytest.param(
        "[imap]\nhost = 'imap.firm.example'\nlogin = '{user}'\npassword = { env = 'P' }\n",
        "imap.login", ["unknown placeholder {user}", "{email}"], id="imap-login-template",
    ),
    pytest.param(
        "[imap]\nport = 993\n", "imap.host", ["required but missing", "add host"], id="imap-host-missing",
    ),
]


@pytest.mark.parametrize(("extra", "key", "fragments"), CASES)
def test_file_errors_name_the_key_and_the_fix(
    write_config, extra: str, key: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(extra)
    message = str(caught.value)
    assert caught.value.key == key
    assert f"{key}:" in message
    assert "Fix:" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_required_keys_are_named(write_config) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(text="[business]\nmapping = 'reference'\n")
    message = str(caught.value)
    assert "business.url: required but missing. Fix: add url = … under [business]" in message
    assert "mailbox: required but missing. Fix: add a [mailbox] table" in message


@pytest.mark.parametrize(
    ("mailbox", "key", "fragment"),
    [
        ('tenant = "t"\nclient_secret = { env = "S" }', "mailbox.client_id", "add client_id"),
        ('client_id = "c"\nclient_secret = { env = "S" }', "mailbox.tenant", "add tenant"),
        ('tenant = "t"\nclient_id = "c"', "mailbox.client_secret", "certificate = { path"),
        ('kind = "memory"', "mailbox.data", 'add data = "mailbox.json"'),
        ('tenant = "t"\nclient_id = "c"\nclient_secret = { env = "S", file = "s.txt" }',
         "mailbox.client_secret", "exactly one source"),
        ('kind = "exchange"', "mailbox.kind", "'graph', 'sandbox' or 'memory'"),
        ('kind = "sandbox"\ngraph_url = "graph.local"', "mailbox.graph_url", "not an http(s) URL"),
    ],
)
def test_mailbox_connection_errors(
    write_config, tmp_path: Path, mailbox: str, key: str, fragment: str
) -> None:
    (tmp_path / "s.txt").write_text("secret\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        write_config(text=f'[business]\nurl = "memory:firm"\n[mailbox]\n{mailbox}\n')
    assert caught.value.key == key
    assert f"{key}:" in str(caught.value)
    assert fragment in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_toml_syntax_error_gives_line_and_column(write_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(text='[business]\nurl = "sqlite:///firm.db"\nmapping = \n')
    message = str(caught.value)
    assert "not valid TOML" in message
    assert "line 3" in message and "column" in message
    assert str(tmp_path / "exsync.toml") in message


def test_missing_config_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    from exsync.settings import load_config

    with pytest.raises(ConfigError, match="--config FILE"):
        load_config(tmp_path / "nope.toml")


def test_all_problems_are_listed_at_once(write_config) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config("[defaults.calendar]\ninterval = '10s'\n[defaults.mail]\ndirection = 'both'\n")
    message = str(caught.value)
    assert "defaults.calendar.interval" in message and "defaults.mail.direction" in message


def test_valid_forms_are_accepted(write_config) -> None:
    from datetime import date, timedelta

    from exsync.settings import effective

    config = write_config(
        """
        [defaults.calendar]
        interval = "1h30m"
        [defaults.tasks]
        interval = 120
        [defaults.mail]
        since = 2025-01-31
        direction = "off"
        """
    )
    settings = effective(config)
    assert settings.calendar.interval == timedelta(hours=1, minutes=30)
    assert settings.tasks.interval == timedelta(minutes=2)
    assert settings.mail.since == date(2025, 1, 31)
    assert settings.mail.direction == "off"
