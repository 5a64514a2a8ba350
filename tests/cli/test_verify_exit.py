"""How ``jacs-desktop-cli verify`` ends as a program: at once once the report is written (no
interpreter teardown), with the whole report flushed and the right exit code; and quietly when
the reader of its output goes away (``| head``)."""

import json
import subprocess
import sys

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json

RUN = "import sys; from jacs_desktop.cli import main; sys.exit(main())"


def _store(tmp_path, n: int, tampered: bool = False):
    ident = create_agent(tmp_path, "exit", "Exit!Test#2026xyz")
    docs = tmp_path / "jacs_data" / "documents"
    docs.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        doc = ident.signer.new_document({"jacsDocument": {"n": i, "text": "x" * 2000}})
        if tampered and i == 0:
            doc["jacsDocument"]["n"] = -1
        (docs / f"{doc['jacsId']}:{doc['jacsVersion']}.json").write_bytes(pretty_json(doc))
    return tmp_path


def test_the_report_is_whole_and_the_code_right_when_the_program_ends_at_once(tmp_path):
    store = _store(tmp_path, 30, tampered=True)
    p = subprocess.run([sys.executable, "-c", RUN, "verify", "--json", str(store)], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    report = json.loads(p.stdout)  # (flushed before the exit: a cut report would not parse)
    assert p.returncode == 2 and report["summary"]["total"] == 32 and report["summary"]["invalid"] == 1
    assert len(report["results"]) == 32 and p.stderr == b""
    p = subprocess.run([sys.executable, "-c", RUN, "verify", str(store)], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 2 and p.stdout.decode().rstrip().endswith("1 invalid, 0 unverifiable, 0 legacy")


def test_a_reader_that_goes_away_ends_it_quietly(tmp_path):
    store = _store(tmp_path, 500)  # (a pool, and more output than a pipe holds)
    for extra in ([], ["--json"]):
        p = subprocess.Popen([sys.executable, "-c", RUN, "verify", *extra, str(store)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        first = p.stdout.read(100)
        p.stdout.close()  # (as `| head -c 100` does)
        err = p.stderr.read()
        assert p.wait(timeout=120) == 1 and first
        assert b"Traceback" not in err and b"BrokenPipe" not in err, err[-2000:]
