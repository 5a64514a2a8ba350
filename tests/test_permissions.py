"""Files and folders the app creates are 0600 / 0700 under umask 022 too (issue 11).

Each test sets umask 022 (the usual default, which would give 0644 / 0755) and lets
the real code path create the files: the index cache, a QSettings sync, the log
set-up the app runs, a migration and a restore into new folders, ``sign --attach``.
"""

import json
import logging
import logging.handlers
import os
import shutil
import stat
import subprocess
import sys

import pytest
from conftest import FIXTURE, MANIFEST, REPO

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes")


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def assert_private_tree(root):
    """Every folder under *root* (and *root*) 0700, every file 0600."""
    bad = []
    for d, _dirs, files in os.walk(root):
        if mode(d) != 0o700:
            bad.append((d, oct(mode(d))))
        for f in files:
            p = os.path.join(d, f)
            if mode(p) != 0o600:
                bad.append((p, oct(mode(p))))
    assert not bad, bad


def test_private_dir_makes_every_new_level_0700(tmp_path, umask022):
    from jacs_desktop.paths import private_dir, private_file

    existing = tmp_path / "there"
    existing.mkdir(mode=0o755)
    made = private_dir(existing / "a" / "b" / "c")
    assert made.is_dir()
    assert [mode(existing / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert mode(existing) == 0o755  # a folder that was there is the user's business
    assert private_dir(made) == made  # already there: no error
    f = private_file(existing / "x" / "f.txt")
    assert mode(f) == 0o600 and mode(existing / "x") == 0o700
    f.chmod(0o644)
    private_file(f)  # an existing file is tightened, its content kept
    assert mode(f) == 0o600


def test_index_cache_is_private(tmp_path, umask022, monkeypatch):
    from jacs_desktop.storage.index import IndexCache
    from jacs_desktop.storage.layout import Ref

    cache = tmp_path / "new" / "cache"
    monkeypatch.setenv("JACS_DESKTOP_CACHE_DIR", str(cache))
    ic = IndexCache("file:///some/store")
    ref = Ref("documents/x:y.json", "document", "x", "y", 10, 1.0)
    ic.put(ref, {"title": "Salary review for Alice"})
    assert ic.get(ref)["title"] == "Salary review for Alice"
    assert ic.path.parent == cache
    names = sorted(p.name for p in cache.iterdir())
    assert any(n.endswith("-wal") for n in names)  # WAL mode: its side files too
    assert_private_tree(tmp_path / "new")
    # a cache an older version left 0644 is tightened when it is opened
    ic.close()  # writes the open batch, then closes
    for p in cache.iterdir():
        p.chmod(0o644)
    again = IndexCache("file:///some/store")
    assert again.get(ref)["title"] == "Salary review for Alice"
    assert_private_tree(cache)
    again.close()


def test_qsettings_file_is_private(qapp, tmp_path, umask022):
    from PySide6.QtCore import QSettings

    from jacs_desktop.app import private_settings

    path = tmp_path / "new" / "JACS Desktop" / "JACS Desktop.conf"
    s = private_settings(QSettings(str(path), QSettings.Format.IniFormat))
    s.setValue("recent", ["/home/alice/secret-store"])
    s.sync()
    assert s.status() == QSettings.Status.NoError and path.is_file()
    assert_private_tree(tmp_path / "new")
    s.setValue("last", "/home/alice/other")  # rewritten through a temporary file
    s.sync()
    assert mode(path) == 0o600
    assert "other" in path.read_text()


def _drop_handler(path):
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "baseFilename", None) == str(path):
            h.flush()
            root.removeHandler(h)
            h.close()


def test_log_file_and_its_rollovers_are_private(tmp_path, umask022, monkeypatch):
    from jacs_desktop.app import setup_private_logging
    from jacs_desktop.logs import log_file

    monkeypatch.setenv("JACS_DESKTOP_LOG_DIR", str(tmp_path / "new" / "log"))
    path = log_file()
    try:
        assert setup_private_logging() == path
        logging.getLogger("jacs_desktop").warning("opened /home/alice/secret-store")
        handler = next(h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(path))
        handler.flush()
        assert "secret-store" in path.read_text()
        assert_private_tree(tmp_path / "new")
        handler.doRollover()  # what a full file does
        logging.getLogger("jacs_desktop").warning("after the rollover")
        handler.flush()
        assert "after the rollover" in path.read_text()
        assert "secret-store" in (path.parent / (path.name + ".1")).read_text()
        assert_private_tree(tmp_path / "new")
    finally:
        _drop_handler(path)


def test_migration_into_a_new_folder_is_private(tmp_path, umask022):
    from jacs_desktop.jobs.migrate import MigrateOptions, migrate
    from jacs_desktop.storage.urls import open_store

    target = tmp_path / "target"
    dst = open_store(str(target), create=True)
    r = migrate(open_store(str(FIXTURE)), dst, MigrateOptions(journal=False))
    assert r.ok and r.copied
    assert (target / "jacs_data").is_dir()
    assert_private_tree(target)


def test_migration_journal_is_private(tmp_path, umask022, monkeypatch):
    from jacs_desktop.jobs.migrate import migrate
    from jacs_desktop.storage.urls import open_store

    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "new" / "state"))
    r = migrate(open_store(str(FIXTURE)), open_store(str(tmp_path / "target"), create=True))
    assert r.ok and r.journal
    assert_private_tree(tmp_path / "new")


def test_restore_into_a_new_folder_is_private(tmp_path, umask022):
    from jacs_desktop.jobs.backup import backup, restore
    from jacs_desktop.storage.urls import open_store

    archive = tmp_path / "b.tar.gz"
    backup(open_store(str(FIXTURE)), archive)
    target = tmp_path / "restored"
    rr = restore(archive, open_store(str(target), create=True))
    assert rr.ok and rr.restored
    assert (target / "jacs_data").is_dir()
    assert_private_tree(target)


def test_sign_attach_copies_are_private(fixture_copy, tmp_path, umask022):
    agent = MANIFEST["agents"]["ed25519"]
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"jacsDocument": {"type": "message", "content": {"hello": "world"}}}))
    att = tmp_path / "payslip.txt"
    att.write_text("salary\n")
    att.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACS_")}
    env["JACS_PRIVATE_KEY_PASSWORD"] = agent["password"]
    files = fixture_copy / "jacs_data" / "files"
    shutil.rmtree(files, ignore_errors=True)  # made anew by the copy
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "sign", "--config",
                        str(fixture_copy / agent["config"]), "--json-file", str(body), "--attach", str(att)],
                       capture_output=True, text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert (files / "payslip.txt").read_text() == "salary\n"
    assert_private_tree(files)
