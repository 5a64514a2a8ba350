"""jacs-desktop-cli verify / sign, as a user runs them (a real subprocess)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import MANIFEST, REPO


def cli(*args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACS_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "jacs_desktop.cli", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd or REPO, stdin=subprocess.DEVNULL,
    )


def test_verify_fixture_store_json(fixture_dir):
    p = cli("verify", fixture_dir, "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["summary"]["total"] == 17 and report["summary"]["valid"] == 17
    kinds = {r["kind"] for r in report["results"]}
    assert kinds == {"agent", "document", "config"}
    r = next(r for r in report["results"] if r["kind"] == "document")
    assert set(r) >= {"kind", "id", "version", "status", "checks", "signer", "algorithm", "path"}
    assert all({"name", "status", "reason"} <= set(c) for c in r["checks"])


def test_verify_data_directory_and_documents_under_it(fixture_copy):
    # documents may also live under the data directory (the intended layout)
    src = fixture_copy / MANIFEST["documents"][0]["path"]
    (fixture_copy / "jacs_data" / "documents").mkdir()
    src.rename(fixture_copy / "jacs_data" / "documents" / src.name)
    p = cli("verify", fixture_copy, "--json")
    assert p.returncode == 0
    paths = [r["path"] for r in json.loads(p.stdout)["results"]]
    assert any("jacs_data/documents/" in x for x in paths) and len(paths) == 17
    # the data directory alone: agents only + its documents/
    p = cli("verify", fixture_copy / "jacs_data", "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["summary"]["total"] == 3


def test_verify_tampered_file_exit_2(fixture_dir):
    p = cli("verify", fixture_dir / "tampered" / "content_changed_rehashed.json", "--keys", fixture_dir / "jacs_data")
    assert p.returncode == 2
    assert "invalid" in p.stdout and "Ed25519 signature does not match" in p.stdout


def test_verify_single_document_in_store_finds_keys(fixture_dir):
    p = cli("verify", fixture_dir / MANIFEST["documents"][5]["path"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 valid" in p.stdout


def test_verify_single_without_keys_is_unverifiable(tmp_path, fixture_dir):
    doc = tmp_path / "doc.json"
    doc.write_bytes((fixture_dir / MANIFEST["documents"][0]["path"]).read_bytes())
    p = cli("verify", doc, "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["results"][0]["status"] == "unverifiable"


def test_verify_errors_exit_1(tmp_path):
    assert cli("verify", tmp_path / "missing").returncode == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    p = cli("verify", empty)
    assert p.returncode == 1 and "no JACS data" in p.stderr
    p = cli("verify", tmp_path / "x.json", "--keys", tmp_path / "nokeys")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr


def test_verify_malformed_file_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = cli("verify", bad)
    assert p.returncode == 2 and "not valid JSON" in p.stdout


def test_sign_stores_where_jacs_would(fixture_copy, tmp_path):
    agent = MANIFEST["agents"]["ed25519"]
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"jacsDocument": {"type": "message", "content": {"hello": "world"}}}))
    att = tmp_path / "notes.txt"
    att.write_text("some notes\n")
    env = {"JACS_PRIVATE_KEY_PASSWORD": agent["password"]}
    p = cli("sign", "--config", fixture_copy / agent["config"], "--json-file", body, "--attach", att, env_extra=env)
    assert p.returncode == 0, p.stderr
    ident = p.stdout.strip()
    jid, ver = ident.split(":")
    stored = fixture_copy / "documents" / f"{jid}:{ver}.json"
    assert stored.is_file() and stored.stat().st_mode & 0o077 == 0
    assert (fixture_copy / "jacs_data" / "files" / "notes.txt").read_text() == "some notes\n"
    doc = json.loads(stored.read_bytes())
    assert doc["jacsFiles"][0]["path"] == "files/notes.txt" and doc["jacsFiles"][0]["embed"] is False
    p = cli("verify", fixture_copy, "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["summary"]["valid"] == 18
    # embedded, and a non-object body is signed as a message
    body.write_text('"just a string"')
    p = cli("sign", "--config", fixture_copy / agent["config"], "--json-file", body, "--attach", att, "--embed",
            env_extra=env)
    assert p.returncode == 0, p.stderr
    doc = json.loads((fixture_copy / "documents" / (p.stdout.strip() + ".json")).read_bytes())
    assert doc["jacsDocument"] == {"type": "message", "content": "just a string"}
    assert doc["jacsFiles"][0]["embed"] is True


def test_sign_errors_are_clear(fixture_copy, tmp_path):
    agent = MANIFEST["agents"]["pq2025"]
    body = tmp_path / "body.json"
    body.write_text("{}")
    cfg = fixture_copy / agent["config"]
    p = cli("sign", "--config", cfg, "--json-file", body)
    assert p.returncode == 1 and "JACS_PRIVATE_KEY_PASSWORD" in p.stderr
    p = cli("sign", "--config", cfg, "--json-file", body, env_extra={"JACS_PRIVATE_KEY_PASSWORD": "Wrong-Passw0rd!"})
    assert p.returncode == 1 and "incorrect password" in p.stderr
    body.write_text("{broken")
    p = cli("sign", "--config", cfg, "--json-file", body, env_extra={"JACS_PRIVATE_KEY_PASSWORD": agent["password"]})
    assert p.returncode == 1 and "not valid JSON" in p.stderr
    p = cli("sign", "--config", tmp_path / "nope.json", "--json-file", body)
    assert p.returncode == 1 and "not found" in p.stderr
    for proc in (p,):
        assert "Traceback" not in proc.stderr
    assert not list((fixture_copy / "documents").glob(".*.tmp"))


def test_verify_file_url_of_a_folder_and_of_one_file(fixture_dir):
    a = json.loads(cli("verify", fixture_dir, "--json").stdout)
    b = json.loads(cli("verify", fixture_dir.as_uri(), "--json").stdout)
    for r in (a, b):
        r["summary"].pop("seconds")
    assert a == b and a["summary"]["total"] == 17
    p = cli("verify", (fixture_dir / MANIFEST["documents"][5]["path"]).as_uri())
    assert p.returncode == 0 and "1 valid" in p.stdout


def test_verify_summary_line(fixture_dir):
    p = cli("verify", fixture_dir)
    assert p.stdout.splitlines()[-1] == "17 checked: 17 valid, 0 invalid, 0 unverifiable, 0 legacy"


def test_text_report_on_a_non_utf8_terminal(fixture_copy):
    """✗ and ✓ in the report: escapes, never a UnicodeEncodeError traceback."""
    import os
    import subprocess
    import sys

    doc = next(fixture_copy.glob("documents/*.json"))
    doc.write_text(doc.read_text().replace('"jacsLevel"', '"jacsTampered": 1, "jacsLevel"', 1))
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "verify", str(fixture_copy)],
                       env=dict(os.environ, PYTHONIOENCODING="ascii"), capture_output=True, text=True,
                       encoding="ascii", errors="strict", timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "invalid" in p.stdout


# -- the parser: every command's --help, python -m, the console script ---------------------------

HELP_COMMANDS = [(), ("verify",), ("sign",), ("doctor",), ("migrate",), ("backup",), ("backup", "verify"),
                 ("backup", "profiles"), ("restore",), ("connections",)]


@pytest.mark.parametrize("words", HELP_COMMANDS, ids=lambda w: " ".join(w) or "top")
def test_help_of_every_command_exits_0(words, capsys):
    from jacs_desktop.cli import main

    with pytest.raises(SystemExit) as exc:
        main([*words, "--help"])
    assert exc.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith("usage: jacs-desktop-cli " + " ".join(words)) and "--help" in out


def test_backup_help_names_its_sub_commands(capsys):
    from jacs_desktop.cli import main

    with pytest.raises(SystemExit):
        main(["backup", "--help"])
    out = capsys.readouterr().out
    assert "backup verify --help" in out and "backup profiles --help" in out and "--save-profile" in out
    with pytest.raises(SystemExit):
        main(["backup", "verify", "-h"])
    out = capsys.readouterr().out
    assert "ARCHIVE" in out and "--save-profile" not in out


def test_python_m_and_the_console_script():
    p = cli("--help")
    assert p.returncode == 0 and "backup" in p.stdout and "connections" in p.stdout
    p = cli("backup", "verify", "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: jacs-desktop-cli backup verify")
    # the entry point pyproject.toml names, and the installed script when there is one
    text = (REPO / "pyproject.toml").read_text()
    assert 'jacs-desktop-cli = "jacs_desktop.cli:main"' in text
    exe = os.path.join(os.path.dirname(sys.executable), "jacs-desktop-cli")
    if os.path.exists(exe):
        p = subprocess.run([exe, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert p.returncode == 0 and "backup" in p.stdout


def test_backup_usage_errors_keep_their_words_and_exit_1(capsys):
    """``backup``'s forms are parsed in two stages; a wrong count of words is still exit 1 with
    the usage line it always printed, and the options may come before the sub-command."""
    from jacs_desktop.cli import main

    cases = [(["backup", "verify"], "usage: backup verify ARCHIVE"),
             (["backup", "verify", "a.tar.gz", "b.tar.gz"], "usage: backup verify ARCHIVE"),
             (["backup", "profiles", "bogus"], "usage: backup profiles [remove NAME]"),
             (["backup", "only-src"], "usage: backup SRC DEST"),
             (["backup", "--profile", "p", "verify", "a.tar.gz"], "usage: backup --profile NAME"),
             (["backup", "--json", "verify"], "usage: backup verify ARCHIVE")]
    for argv, words in cases:
        assert main(argv) == 1, argv
        assert f"jacs-desktop-cli: error: {words}" in capsys.readouterr().err, argv
    with pytest.raises(SystemExit) as exc:  # argparse's own refusal, as before
        main(["backup", "a", "b", "--no-such-option"])
    assert exc.value.code == 2
