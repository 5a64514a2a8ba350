"""Secrets: the real Secret Service (gnome-keyring in dbus-run-session), the
no-keyring case, plaintext backends refused, the encrypted file."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import REPO

from jacs_desktop.storage.secrets import Secrets, SecretsUnavailable, keyring_status


def test_real_secret_service():
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run packaging/install-system-deps.sh (gnome-keyring dbus-x11)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING", "GNOME_KEYRING"))}
    env["PYTHONPATH"] = str(REPO)
    env["HOME"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / f"jd-keyring-home-{os.getpid()}")
    Path(env["HOME"]).mkdir(exist_ok=True)
    proc = subprocess.run(
        ["dbus-run-session", "--", sys.executable, str(Path(__file__).with_name("keyring_session.py"))],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"]["secure"] is True, out
    assert "SecretService" in out["keyring_backend"] or "secretservice" in out["keyring_backend"].lower()
    assert out["backend"] == "keyring"
    assert out["get"] == "s3cr3t-ünïcode" and out["get_again"] == "s3cr3t-ünïcode"
    assert out["after_delete"] is None


@pytest.fixture
def no_keyring(monkeypatch):
    import keyring
    from keyring.backends import fail

    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(old)


def test_no_keyring_is_said_plainly(no_keyring):
    st = keyring_status()
    assert st.secure is False and "fail" in st.reason
    with pytest.raises(SecretsUnavailable) as exc:
        Secrets("keyring")
    assert "encrypted file" in str(exc.value) and "do not remember" in str(exc.value)
    s = Secrets("auto")
    assert s.backend == "session" and not s.persistent
    assert "will not be remembered" in s.warning
    s.set("a", "b")
    assert s.get("a") == "b"  # for this session only
    # shared by the whole process (asked once per run), and gone with it
    assert Secrets("session").get("a") == "b"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "from jacs_desktop.storage.secrets import Secrets;"
                          "print(Secrets('session').get('a'))"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_plaintext_backend_is_refused(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):
        priority = 0.5
        store: ClassVar[dict] = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    old = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        st = keyring_status()
        assert st.secure is False and "plain text" in st.reason
        s = Secrets("auto")
        s.set("x", "secret")
        assert PlaintextKeyring.store == {}  # never silently written in plain text
    finally:
        keyring.set_keyring(old)


def test_encrypted_file(tmp_path):
    path = tmp_path / "secrets.enc.json"
    s = Secrets("file", file_path=path, master_password="master-Passw0rd!")
    s.set("connection:x:secret_key", "abc123")
    raw = path.read_bytes()
    assert b"abc123" not in raw and path.stat().st_mode & 0o077 == 0
    again = Secrets("file", file_path=path, master_password="master-Passw0rd!")
    assert again.get("connection:x:secret_key") == "abc123"
    with pytest.raises(SecretsUnavailable, match="Wrong master password"):
        Secrets("file", file_path=path, master_password="nope")
    again.delete("connection:x:secret_key")
    assert Secrets("file", file_path=path, master_password="master-Passw0rd!").get("connection:x:secret_key") is None
    path.write_text("{broken")
    with pytest.raises(SecretsUnavailable, match="damaged"):
        Secrets("file", file_path=path, master_password="master-Passw0rd!")


def test_remember_status_names_where_a_secret_goes_or_why_not(monkeypatch, tmp_path):
    from jacs_desktop.storage.secrets import remember_status

    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "session")
    where, why = remember_status()
    assert where == "" and "session" in why
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "file")
    monkeypatch.setenv("JACS_DESKTOP_MASTER_PASSWORD", "a master password for tests")
    assert remember_status() == ("file", "")
