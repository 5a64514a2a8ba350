"""Changing the key password (as jacs's reencrypt_key): the library loads the agent with the new
password and signs; the old password no longer opens the key; bad input changes nothing."""

import json

import pytest

jacs = pytest.importorskip("jacs", reason="the jacs test extra is not installed")
from jacs.client import JacsClient  # noqa: E402
from jacs.types import JacsError as LibraryError  # noqa: E402

from jacs_desktop.cli.app import main as cli  # noqa: E402
from jacs_desktop.core.errors import JacsError, KeyDecryptionError  # noqa: E402
from jacs_desktop.core.identity import Identity  # noqa: E402
from jacs_desktop.jobs.keymgmt import change_key_password  # noqa: E402

from ._library import create_jacs_agent_here, env, library  # noqa: E402

pytestmark = pytest.mark.interop
OLD, NEW = "Old!Password#2026ab", "New!Password#2027cd"


@pytest.mark.parametrize("algorithm", ["ring-Ed25519", "pq2025"])
def test_new_password_works_in_jacs(tmp_path, algorithm):
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, OLD):
        cfg = create_jacs_agent_here(tmp_path, "kim", algorithm, OLD)
    ident = Identity.load(cfg)
    key = ident.config.private_key_file
    before = key.read_bytes()
    with pytest.raises(KeyDecryptionError):
        change_key_password(ident, "Wrong!Password#1234", NEW)
    with pytest.raises(JacsError):
        change_key_password(ident, OLD, "short")
    assert key.read_bytes() == before  # nothing changed
    change_key_password(ident, OLD, NEW)
    assert key.read_bytes() != before and oct(key.stat().st_mode & 0o777) == "0o600"
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, NEW):
        client = JacsClient(str(cfg))
        doc = client.sign_message({"after": "password change"})
        assert client.verify(doc.raw_json).valid
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, OLD), pytest.raises(LibraryError, match=r"(?i)decrypt|password"):
        JacsClient(str(cfg)).sign_message({"x": 1})
    assert Identity.load(cfg).unlock(NEW).new_document({"ok": True})["jacsId"]
    # and back, from the command line
    with env(JACS_PRIVATE_KEY_PASSWORD=NEW, JACS_NEW_PRIVATE_KEY_PASSWORD=OLD):
        assert cli(["identity", "change-password", "--config", str(cfg)]) == 0
    with env(JACS_TRUST_STORE_DIR=str(tmp_path / "trust")), library(tmp_path, OLD):
        assert json.loads(JacsClient(str(cfg)).sign_message({"n": 2}).raw_json)["jacsSignature"]
