"""The storage config modules without an import circle: URL -> profile -> secrets ->
backend in opener, the session secrets object, settings loading, the app folders."""

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from jacs_desktop import paths
from jacs_desktop.storage import connections, opener, secrets, settings, urls
from jacs_desktop.storage.base import StorageError
from jacs_desktop.storage.connections import Connections
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.secrets import SESSION, Secrets, SessionSecrets, default_secrets, set_master_password
from jacs_desktop.storage.sqlite import SqliteStore
from jacs_desktop.storage.store import Store

LINT = Path(sys.executable).parent / "lint-imports"


def test_urls_keeps_the_old_names():
    assert urls.open_store is opener.open_store and urls.open_objects is opener.open_objects
    assert urls.parse_url("memory://x").scheme == "memory"
    assert connections.config_dir is paths.config_dir


def test_a_profile_opens_through_injected_connections_and_secrets(tmp_path):
    session = SessionSecrets()
    sec = Secrets("session", session=session)
    conns = Connections(tmp_path / "connections.json", secrets=sec)
    conns.add("db", f"sqlite:///{tmp_path}/d.sqlite3")
    conns.add("s3", "s3://bucket/p?endpoint_url=http://127.0.0.1:9", access_key="AK", secret_key="SK")
    assert session.get("connection:s3:secret_key") == "SK" and SESSION.get("connection:s3:secret_key") is None
    objs = opener.open_objects("profile:db", create=True, connections=conns)
    assert isinstance(objs, SqliteStore)
    store = opener.open_store("profile:db", connections=conns)
    assert isinstance(store, Store)
    assert opener.resolve_profile("s3", connections=conns) == (
        "s3://bucket/p?endpoint_url=http://127.0.0.1:9", {"access_key": "AK", "secret_key": "SK"})
    # secrets given by the caller win, empty ones do not erase the saved ones
    assert opener.resolve_profile("s3", {"secret_key": "other", "access_key": ""}, connections=conns)[1] == {
        "access_key": "AK", "secret_key": "other"}
    with pytest.raises(StorageError, match="No saved connection"):
        opener.open_objects("profile:nope", connections=conns)


def test_a_profile_pointing_to_a_profile_is_refused(tmp_path):
    p = tmp_path / "connections.json"
    p.write_text('{"version": 1, "connections": [{"name": "loop", "url": "profile:loop"}]}')  # hand-edited
    with pytest.raises(StorageError, match="points to another profile"):
        opener.open_objects("profile:loop", connections=Connections(p, secrets=Secrets("session")))


def test_the_default_connections_are_in_the_config_folder(tmp_path):
    Connections(secrets=Secrets("session")).add("mem", "memory://opener-test")
    assert connections.connections_file() == paths.config_dir() / "connections.json"
    assert connections.connections_file().is_file()
    assert isinstance(opener.open_objects("profile:mem"), MemoryStore)


def test_session_secrets_are_shared_by_default_and_injectable():
    Secrets("session").set("a", "1")
    assert Secrets("session").get("a") == "1" and SESSION.get("a") == "1"  # asked once per run
    own = SessionSecrets()
    assert Secrets("session", session=own).get("a") is None
    Secrets("session", session=own).set("b", "2")
    assert SESSION.get("b") is None and own.get("b") == "2"
    Secrets("session").delete("a")
    assert SESSION.get("a") is None


def test_master_password_lives_in_the_session(monkeypatch):
    monkeypatch.delenv("JACS_DESKTOP_MASTER_PASSWORD", raising=False)
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "file")
    with pytest.raises(secrets.SecretsUnavailable, match="master password"):
        default_secrets()
    set_master_password("master-Passw0rd!")
    assert SESSION.master_password == "master-Passw0rd!"
    s = default_secrets()
    assert s.backend == "file"
    s.set("k", "v")
    assert secrets.secrets_file() == paths.config_dir() / "secrets.enc.json" and secrets.secrets_file().is_file()
    SESSION.set("x", "y")
    SESSION.clear()  # a new run: nothing remembered in memory
    assert SESSION.master_password is None and SESSION.get("x") is None
    with pytest.raises(secrets.SecretsUnavailable, match="master password"):
        default_secrets()
    own = SessionSecrets()
    set_master_password("master-Passw0rd!", own)
    assert default_secrets(own).get("k") == "v" and SESSION.master_password is None


def test_settings_or_defaults(caplog):
    assert settings.settings_file() == paths.config_dir() / "settings.json"
    assert settings.load_settings_or_defaults() == settings.Settings()
    settings.save_settings(settings.Settings(theme="dark"))
    assert settings.load_settings_or_defaults().theme == "dark"
    settings.settings_file().write_text('{"version": 99}')
    with caplog.at_level(logging.WARNING, logger="jacs_desktop.storage.settings"):
        assert settings.load_settings_or_defaults() == settings.Settings()
    assert "newer" in caplog.text
    assert settings.settings_file().read_text() == '{"version": 99}'  # left as it is


@pytest.mark.parametrize("module", ["urlparse", "settings", "secrets", "connections", "opener", "urls"])
def test_each_module_imports_first(module):
    """No import order is needed: each one imports on its own in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", f"import jacs_desktop.storage.{module}"], check=True, env=env, cwd=REPO)


def test_a_circle_in_a_function_breaks_the_acyclic_contract(tmp_path):
    """The same contract shape as pyproject.toml's, on a package whose circle hides in a function."""
    pkg = tmp_path / "circ" / "storage"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "urls.py").write_text("def open_objects():\n    from .connections import Connections\n")
    (pkg / "connections.py").write_text("from .urls import open_objects\n")
    cfg = tmp_path / "contract.toml"
    cfg.write_text(textwrap.dedent("""
        [tool.importlinter]
        root_package = "circ"

        [[tool.importlinter.contracts]]
        name = "storage has no import circles"
        type = "acyclic_siblings"
        ancestors = ["circ.storage"]
        """))
    proc = subprocess.run([str(LINT), "--no-cache", str(cfg)], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout + proc.stderr


def test_the_storage_contracts_are_kept():
    proc = subprocess.run([str(LINT), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # every contract kept
    out = " ".join(proc.stdout.split())
    for name in ("storage has no import circles KEPT",
                 "storage opens a URL one way down (opener > connections > secrets > settings) KEPT",
                 "app > ui | cli > jobs > storage > core KEPT"):
        assert name in out, proc.stdout
