"""``verify`` on a folder loads only what a folder needs: no cloud, database or network backend, no
boto3, no pure-Python reference canonicalizer, no cryptography while every signature is a valid
Ed25519 one (libsodium checks those). Start-up is most of a small store's verify time."""

import json
import subprocess
import sys

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json

NOT_FOR_A_FOLDER = [
    "boto3", "botocore", "obstore", "google", "azure", "sqlite3", "PySide6", "jsonschema", "rfc8785", "cryptography",
    "multiprocessing",
    "jacs_desktop.storage.s3", "jacs_desktop.storage.gcs", "jacs_desktop.storage.azure", "jacs_desktop.storage.sqlite",
    "jacs_desktop.storage.jsonl", "jacs_desktop.storage.connections", "jacs_desktop.storage.secrets",
]

PROBE = r"""
import contextlib, io, json, sys
from jacs_desktop.cli.app import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["verify", "--json", sys.argv[1]])
report = json.loads(out.getvalue()) if out.getvalue() else {"summary": None}
print(json.dumps({"code": code, "summary": report["summary"], "loaded": sorted(set(sys.argv[2:]) & set(sys.modules))}))
"""


def test_verify_on_a_folder_imports_no_other_backend(tmp_path):
    ident = create_agent(tmp_path, "imports", "Import!Test#2026xyz")
    docs = tmp_path / "jacs_data" / "documents"
    docs.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        doc = ident.signer.new_document({"jacsDocument": {"n": i, "emoji 🚀": 1.0, "tiny": 1e-7}})
        (docs / f"{doc['jacsId']}:{doc['jacsVersion']}.json").write_bytes(pretty_json(doc))
    p = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), *NOT_FOR_A_FOLDER],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["code"] == 0 and got["summary"]["valid"] == got["summary"]["total"] == 3 + 2  # docs, agent, config
    assert got["loaded"] == []


def test_a_sqlite_url_loads_its_backend(tmp_path):
    """The same probe sees the SQLite backend when the URL names it (so the test above can fail)."""
    from jacs_desktop.storage.sqlite import SqliteStore

    SqliteStore(tmp_path / "s.db").close()
    p = subprocess.run([sys.executable, "-c", PROBE, f"sqlite://{tmp_path / 's.db'}", "jacs_desktop.storage.sqlite",
                        "boto3"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    got = json.loads(p.stdout)
    assert got["code"] == 1 and "no JACS data found" in p.stderr  # an empty store
    assert got["loaded"] == ["jacs_desktop.storage.sqlite"]


def test_the_command_table_names_every_command_of_the_parser():
    """main builds only the parser of the command given (app.COMMANDS): the table must name every
    command of the whole parser, each with the module that adds it."""
    import argparse

    from jacs_desktop.cli import app

    def choices(parser):
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices

    whole = choices(app.build_parser())
    assert list(whole) == list(app.COMMANDS)
    for command, module in app.COMMANDS.items():
        only = choices(app.build_parser(command))
        assert command in only and set(only) == {c for c, m in app.COMMANDS.items() if m == module}
