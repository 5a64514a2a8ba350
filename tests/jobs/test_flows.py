"""The wizards' page flows, driven with no window at all."""

import json

import pytest
from conftest import AGENT_PASSWORD, FIXTURE

from jacs_desktop.core.identity import create_agent
from jacs_desktop.jobs.flows import BackupFlow, FlowError, MigrateFlow, RestoreFlow, SignFlow, parse_content
from jacs_desktop.jobs.profiles import BackupProfiles
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store

PASSWORD = AGENT_PASSWORD  # the agent_dir fixture (conftest) has this password


@pytest.fixture
def session_secrets(monkeypatch):
    """Remembered secrets go to the real encrypted secrets file (no keyring needed)."""
    monkeypatch.setenv("JACS_DESKTOP_SECRETS", "file")
    monkeypatch.setenv("JACS_DESKTOP_MASTER_PASSWORD", "master pass for tests")


def test_content_validation():
    with pytest.raises(FlowError, match="not valid JSON"):
        parse_content({"content_text": "{oops"})
    with pytest.raises(FlowError, match="JSON object"):
        parse_content({"content_text": "[1, 2]"})
    with pytest.raises(FlowError, match="header field 'jacsId'"):
        parse_content({"content_text": '{"jacsId": "x"}'})
    with pytest.raises(FlowError, match="empty"):
        parse_content({"content_text": "  "})
    assert parse_content({"title": "Hi", "content_text": '{"a": 1}'}) == {"title": "Hi", "a": 1}
    form = {"form_mode": True, "form": [("n", "42"), ("ok", "true"), ("s", "hello"), ("", "ignored"),
                                        ("list", "[1, 2]"), ("neg", "-1.5"), ("word", "12 monkeys")]}
    assert parse_content(form) == {"n": 42, "ok": True, "s": "hello", "list": [1, 2], "neg": -1.5,
                                   "word": "12 monkeys"}
    with pytest.raises(FlowError, match="twice"):
        parse_content({"form_mode": True, "form": [("a", "1"), ("a", "2")]})


def test_sign_flow_pages_and_store(agent_dir, tmp_path):
    store = Store(MemoryStore())
    f = SignFlow(store=store)
    assert f.path() == ["content", "attachments", "signer", "review", "run"]
    with pytest.raises(FlowError):
        f.advance()  # empty document
    f.state.update(title="Report", content_text='{"body": {"x": 1}}')
    assert f.advance() == "attachments"
    big = tmp_path / "data.bin"
    big.write_bytes(bytes(range(256)) * 40)
    note = tmp_path / "note.txt"
    note.write_text("hello\n")
    f.state["attachments"] = [{"path": str(note), "embed": True}, {"path": str(big), "embed": False},
                              {"path": str(tmp_path / "missing.txt"), "embed": True}]
    assert any("missing.txt" in e for e in f.errors())
    f.state["attachments"].pop()
    assert f.advance() == "signer"
    assert f.errors() == ["Choose the agent's jacs.config.json"]
    f.state["config_path"] = str(agent_dir / "jacs.config.json")
    assert f.errors() == ["Enter the agent's password"]
    f.state["password"] = "wrong password!"
    # a wrong password is found on the signer page (the key is unlocked there), nothing is signed
    [problem] = f.errors()
    assert problem.startswith("The password does not unlock this agent's key")
    with pytest.raises(FlowError):
        f.advance()
    f.state["password"] = PASSWORD
    assert f.advance() == "review"
    assert f.errors() == ["The document has not been signed yet"]
    doc = f.prepare()
    assert f.signed_fields() == doc["jacsSignature"]["fields"] and "title" in f.signed_fields()
    assert f.advance() == "run" and f.is_last()
    out = f.commit()
    assert out["key"] in {r.key for r in store.refs()}
    ref = next(r for r in store.refs() if r.id == doc["jacsId"])
    v = store.verify(ref)
    assert v.status == "valid", v.reason
    files = {a["path"]: a for a in doc["jacsFiles"]}
    assert files["files/note.txt"]["embed"] and not files["files/data.bin"]["embed"]
    assert store.read_attachment("files/data.bin") == big.read_bytes()


def test_new_version_flow_and_wrong_signer(agent_dir, tmp_path):
    store = Store(MemoryStore())
    f = SignFlow(store=store, content_text='{"n": 1}', config_path=str(agent_dir / "jacs.config.json"),
                 password=PASSWORD)
    first = f.prepare()
    f.commit()
    v = SignFlow(store=store, previous=first)
    assert json.loads(v.state["content_text"]) == {"n": 1}  # the editable part only
    assert v.title == "New version"
    v.state.update(content_text='{"n": 2}', config_path=str(agent_dir / "jacs.config.json"), password=PASSWORD)
    assert v.errors("signer") == []
    second = v.prepare()
    v.commit()
    assert second["jacsPreviousVersion"] == first["jacsVersion"] and second["jacsId"] == first["jacsId"]
    assert second["n"] == 2
    refs = [r for r in store.refs() if r.id == first["jacsId"]]
    assert len(refs) == 2 and all(store.verify(r).status == "valid" for r in refs)
    # another agent may not make a new version
    other = tmp_path / "other"
    create_agent(other, "other", PASSWORD)
    w = SignFlow(store=store, previous=first, config_path=str(other / "jacs.config.json"), password=PASSWORD)
    assert any("Only the original signer" in e for e in w.errors("signer"))
    w.state["signer_mode"] = "create"
    assert any("original signer" in e for e in w.errors("signer"))


def test_sign_flow_creates_agent_and_remembers_password(tmp_path, session_secrets):
    store = Store(MemoryStore())
    f = SignFlow(store=store, content_text='{"a": 1}', signer_mode="create", agent_name="new one",
                 agent_dir=str(tmp_path / "newagent"), algorithm="ring-Ed25519", password="short",
                 password2="short")
    errs = f.errors("signer")
    assert errs and all("differ" not in e for e in errs)  # too weak
    f.state.update(password=PASSWORD, password2=PASSWORD + "x")
    assert "The two passwords differ" in f.errors("signer")
    f.state.update(password2=PASSWORD, remember=True)
    assert f.errors("signer") == []
    doc = f.prepare()
    f.commit()
    assert (tmp_path / "newagent" / "jacs.config.json").is_file()
    ref = next(r for r in store.refs() if r.id == doc["jacsId"])
    assert store.verify(ref).status == "valid"
    # the agent is in the store too, and the password was remembered for next time
    assert any(r.kind == "agent" for r in store.refs())
    g = SignFlow(store=store, config_path=str(tmp_path / "newagent" / "jacs.config.json"))
    assert g.remembered_password() == PASSWORD
    # the folder now holds an agent: a second "create" there is refused
    h = SignFlow(store=store, signer_mode="create", agent_name="x", agent_dir=str(tmp_path / "newagent"),
                 password=PASSWORD, password2=PASSWORD)
    assert any("already holds an agent" in e for e in h.errors("signer"))


def test_migrate_flow_branches_and_runs(tmp_path, agent_dir):
    f = MigrateFlow()
    assert f.path() == ["source", "target", "what", "mode", "review", "run"]
    assert f.errors() == ["Choose the source store"]
    f.state["source"] = "hdfs://bucket"
    assert "Unknown kind of store" in f.errors()[0]
    f.state["source"] = str(FIXTURE)
    f.advance()
    f.state["target"] = str(FIXTURE)
    assert f.errors() == ["The source and the target are the same store"]
    f.state["target"] = str(tmp_path / "copy")
    f.advance()
    f.state["only"] = "selected"
    assert "No documents are selected" in f.errors()[0]
    src = open_store(str(FIXTURE))
    one = next(r.id for r in src.refs() if r.kind == "document")
    f.state["selected"] = [one]
    f.advance()
    f.state["mode"] = "resign"
    assert f.path()[-3:] == ["identity", "review", "run"]
    assert "tick the box" in f.errors()[0]
    f.state["mode"] = "verbatim"
    assert f.advance() == "review"
    assert any("verbatim" in line for line in f.summary_lines())
    assert f.command_line().startswith("jacs-desktop-cli migrate ")
    report = f.run()
    assert report.ok and report.copied
    dst = open_store(str(tmp_path / "copy"))
    assert {r.id for r in dst.refs() if r.kind == "document"} == {one}
    assert all(dst.verify(r).status == "valid" for r in dst.refs() if r.kind == "document")


def test_backup_and_restore_flows(tmp_path, session_secrets):
    b = BackupFlow(source=str(FIXTURE))
    b.advance()
    b.state["archive"] = str(tmp_path / "nope" / "x.tar.gz")
    assert "does not exist" in b.errors()[0]
    b.state["archive"] = str(tmp_path / "x.zip")
    assert "must end with" in b.errors()[0]
    b.state["archive"] = str(tmp_path / "bk-{date}.tar.zst")
    b.advance()
    b.state.update(encrypt=True, passphrase="short", passphrase2="short")
    assert "at least 8" in b.errors()[0]
    b.state.update(passphrase="a good passphrase", passphrase2="a good passphrase", remember=True,
                   include_private_keys=True)
    assert "confirm the warning" in b.errors()[0]
    b.state.update(include_private_keys=False, profile_name="nightly")
    assert b.advance() == "review"
    assert b.command_line() == "jacs-desktop-cli backup --profile nightly"
    assert b.save_profile() == "jacs-desktop-cli backup --profile nightly"
    prof = BackupProfiles().get("nightly")
    assert prof.encrypt and BackupProfiles().passphrase(prof) == "a good passphrase"
    report = b.run()
    # encrypted: its own extension, after the one that says how it is compressed
    assert report.ok and report.path.endswith(".tar.zst.jdbackup") and "{date}" not in report.path

    r = RestoreFlow(archive=report.path)
    assert "encrypted" in r.errors()[0]
    r.state["passphrase"] = "wrong passphrase"
    r.advance()
    assert r.errors() == ["The archive has not been verified yet"]
    bad = r.verify()
    assert not bad.ok and "passphrase" in bad.problems[0]
    assert r.errors()[0].startswith("The archive did not verify")
    r.state["passphrase"] = "a good passphrase"
    assert r.verify().ok
    r.advance()
    r.state["target"] = "sqlite://" + str(tmp_path / "restored.sqlite3")
    r.advance()
    assert r.advance() == "run"
    rr = r.run()
    assert rr.ok and rr.restored
    restored = open_store("sqlite://" + str(tmp_path / "restored.sqlite3"))
    docs = [x for x in restored.refs() if x.kind == "document"]
    assert len(docs) == 13 and all(restored.verify(x).status == "valid" for x in docs)


def test_changed_source_is_opened_not_the_browsers_store(tmp_path):
    """The browser hands its open store to the wizard; if the user names another
    source on the first page, that one is copied."""
    browsers = Store(MemoryStore("browser-open"))  # empty
    f = MigrateFlow(source=browsers.url, source_store=browsers, target=str(tmp_path / "t1"))
    f.state["source"] = str(FIXTURE)
    report = f.run()
    assert report.copied  # the fixture was copied, not the empty open store
    g = MigrateFlow(source=browsers.url, source_store=browsers, target=str(tmp_path / "t2"))
    assert not g.run().copied  # unchanged: the open store (empty) is used


def test_restore_flow_invalid_versions_and_damaged_entries(tmp_path, fixture_copy):
    """Invalid versions do not block a restore (restored and reported, or left out on
    request); damaged entries block it until the user chooses to restore the rest."""
    from jacs_desktop.jobs.backup import backup

    from .test_backup import TAMPERED, _flip_entry, _tamper

    _tamper(fixture_copy)
    arc = tmp_path / "t.tar.gz"
    b = backup(open_store(str(fixture_copy)), arc)
    assert b.invalid.keys() == {TAMPERED} and b.warnings
    r = RestoreFlow(archive=str(arc), target=str(tmp_path / "valid-only"))
    r.advance()
    v = r.verify()
    assert v.exit_code == 2 and v.invalid.keys() == {TAMPERED}
    assert r.errors() == []  # an intact archive with an invalid version can be restored
    r.state["skip_invalid"] = True
    out = r.run()
    assert out.left_out == [TAMPERED] and out.exit_code == 2
    assert not (tmp_path / "valid-only" / TAMPERED).exists() and len(out.restored) == v.entries - 1

    bad = tmp_path / "damaged.tar.gz"
    flipped = _flip_entry(arc, bad, "jacs_data/")
    d = RestoreFlow(archive=str(bad), target=str(tmp_path / "partial"))
    d.advance()
    dv = d.verify()
    assert dv.damaged.keys() == {flipped} and dv.invalid.keys() == {TAMPERED}
    assert d.errors()[0].startswith("The archive did not verify: 1 entry is damaged")
    d.state["partial"] = True
    assert d.errors() == []
    assert d.advance() == "target" and d.advance() == "policy" and d.advance() == "run"
    out = d.run()
    assert out.exit_code == 1 and out.left_out == [flipped] and not (tmp_path / "partial" / flipped).exists()
    assert (tmp_path / "partial" / TAMPERED).exists()  # not asked to leave it out: restored, reported
