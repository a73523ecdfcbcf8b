"""Relative paths resolve against the config file's folder; secrets never show their value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exsync.settings import ConfigError, Secret, load_config
from exsync.settings.paths import resolve_database_url

MAILBOX = """
[mailbox]
tenant = "t"
client_id = "c"
client_secret = { env = "EXSYNC_TEST_CLIENT_SECRET" }
"""


def test_relative_sqlite_urls_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    (folder / "data").mkdir(parents=True)
    path = folder / "exsync.toml"
    path.write_text(
        '[business]\nurl = "sqlite:///data/firm.db"\n' + MAILBOX + '[state]\nurl = "sqlite:///state.db"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder: resolution must not depend on the cwd
    config = load_config("conf/exsync.toml")
    assert config.path == path
    assert config.folder == folder
    assert config.business.url == f"sqlite:///{folder}/data/firm.db"
    assert config.state.url == f"sqlite:///{folder}/state.db"
    assert not (folder / "data" / "firm.db").exists()  # the file may be created later


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://exsync@db.internal/exsync",
        "mariadb+pymysql://root@127.0.0.1/test",
        "memory:firm",
    ],
)
def test_non_file_urls_are_untouched(url: str, tmp_path: Path) -> None:
    assert resolve_database_url(url, tmp_path) == url


def test_absolute_sqlite_url_is_untouched_and_query_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/firm.db"
    assert resolve_database_url(url, Path("/elsewhere")) == url
    assert resolve_database_url("sqlite+pysqlite:///x.db?timeout=5", tmp_path) == (
        f"sqlite+pysqlite:///{tmp_path}/x.db?timeout=5"
    )


def test_sqlite_database_in_a_missing_folder_is_refused(write_config, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(text='[business]\nurl = "sqlite:///nowhere/firm.db"\n' + MAILBOX)
    message = str(caught.value)
    assert caught.value.key == "business.url"
    assert f"{tmp_path}/nowhere" in message
    assert "Fix: create it" in message


def test_state_url_folder_is_checked_too(write_config) -> None:
    with pytest.raises(ConfigError, match=r"state\.url: the folder .*missing"):
        write_config('[state]\nurl = "sqlite:///missing/state.db"\n')


def test_relative_files_resolve_and_missing_ones_are_refused(write_config, tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    text = '[business]\nurl = "memory:x"\n[mailbox]\nkind = "sandbox"\nca_bundle = "tls/ca.pem"\n'
    config = write_config(text=text)
    assert config.mailbox.ca_bundle == tmp_path / "tls" / "ca.pem"
    assert config.mailbox.data == tmp_path / "sandbox"  # the demo sandbox's data, next to the file

    with pytest.raises(ConfigError) as caught:
        write_config(text=text.replace("tls/ca.pem", "tls/other.pem"))
    message = str(caught.value)
    assert caught.value.key == "mailbox.ca_bundle"
    assert f"{tmp_path}/tls/other.pem does not exist" in message
    assert "relative paths are read from the config file's folder" in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    ("mailbox", "key"),
    [
        ('client_secret = { file = "secret.txt" }', "mailbox.client_secret.file"),
        ('certificate = { path = "app.pem" }', "mailbox.certificate.path"),
    ],
)
def test_missing_secret_and_certificate_files_are_refused(write_config, mailbox: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(
            text=f'[business]\nurl = "memory:x"\n[mailbox]\ntenant = "t"\nclient_id = "c"\n{mailbox}\n'
        )
    assert caught.value.key == key
    assert "does not exist" in str(caught.value)


def test_missing_passwords_file_and_mapping_file_are_refused(write_config) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config('[imap]\nhost = "imap.firm.example"\npasswords = { file = "imap-passwords.toml" }\n')
    assert caught.value.key == "imap.passwords.file"
    with pytest.raises(ConfigError) as caught:
        write_config(text=MAPPED)
    assert caught.value.key == "business.mapping"
    assert 'write "reference"' in str(caught.value)


MAPPED = '[business]\nurl = "memory:x"\nmapping = "ours.toml"\n[mailbox]\nkind = "sandbox"\n'


def test_mapping_file_resolves(write_config, tmp_path: Path) -> None:
    (tmp_path / "ours.toml").write_text("", encoding="utf-8")
    config = write_config(text=MAPPED)
    assert config.business.mapping == tmp_path / "ours.toml"


def test_memory_mailbox_and_business(write_config, tmp_path: Path) -> None:
    config = write_config(
        text='[business]\nurl = "memory:firm"\n[mailbox]\nkind = "memory"\ndata = "m.json"\n'
    )
    assert config.business.url == "memory:firm"
    assert config.mailbox.kind == "memory"
    assert config.mailbox.data == tmp_path / "m.json"


SECRET = "s3cr3t-VALUE-9f8e"


def test_env_secret_is_read_lazily_and_never_shown(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXSYNC_TEST_CLIENT_SECRET", raising=False)
    config = write_config()  # loading does not need the value yet
    secret = config.mailbox.client_secret
    assert secret is not None
    monkeypatch.setenv("EXSYNC_TEST_CLIENT_SECRET", SECRET)
    assert secret.reveal() == SECRET
    for shown in (repr(secret), str(secret), repr(config), str(config), config.model_dump_json(),
                  str(config.model_dump())):
        assert SECRET not in shown
    assert "EXSYNC_TEST_CLIENT_SECRET" in repr(secret)  # where it lives is fine to show


def test_missing_env_var_names_the_key(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXSYNC_TEST_CLIENT_SECRET", raising=False)
    config = write_config()
    assert config.mailbox.client_secret is not None
    with pytest.raises(ConfigError) as caught:
        config.mailbox.client_secret.reveal()
    assert caught.value.key == "mailbox.client_secret"
    assert "EXSYNC_TEST_CLIENT_SECRET is not set" in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_file_secrets_certificate_password_and_imap_passwords(write_config, tmp_path: Path) -> None:
    (tmp_path / "app.pem").write_text("PEM", encoding="utf-8")
    (tmp_path / "cert-pass.txt").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "imap.toml").write_text(f'"jd@firm.example" = "{SECRET}"\n', encoding="utf-8")
    config = write_config(
        text="""
        [business]
        url = "memory:x"
        [mailbox]
        tenant = "t"
        client_id = "c"
        certificate = { path = "app.pem", password = { file = "cert-pass.txt" } }
        [imap]
        host = "127.0.0.1"
        security = "none"
        passwords = { file = "imap.toml" }
        """
    )
    certificate = config.mailbox.certificate
    assert certificate is not None and certificate.password is not None
    assert certificate.path == tmp_path / "app.pem"
    assert certificate.password.reveal() == SECRET  # the trailing newline is not part of it
    assert config.imap is not None
    login = config.imap.login_for(email="jd@firm.example", code="JD")
    assert config.imap.password_for(login) == SECRET
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert SECRET not in shown
    with pytest.raises(ConfigError) as caught:
        config.imap.password_for("ab@firm.example")
    assert caught.value.key == "imap.passwords"
    assert "no password for 'ab@firm.example'" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_secret_written_in_clear_is_refused_without_echoing_it(write_config) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(text=f'[business]\nurl = "memory:x"\n[mailbox]\ntenant = "t"\nclient_id = "c"\n'
                          f'client_secret = "{SECRET}"\n')
    assert caught.value.key == "mailbox.client_secret"
    assert SECRET not in str(caught.value)
    assert '{ env = "VARIABLE" }' in str(caught.value)


def test_empty_file_secret_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    secret = Secret.model_validate({"file": "empty.txt"}, context={"folder": tmp_path})
    with pytest.raises(ConfigError, match="is empty"):
        secret.reveal()
    assert os.fspath(tmp_path / "empty.txt") in repr(secret)
