"""The jsonl:// store beyond the conformance suite: the line format, a torn last line,
two processes writing at once, the CLI migrating the fixture in and out, jq."""

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import FIXTURE

from jacs_desktop import cli
from jacs_desktop.storage.base import NotFound, StorageError
from jacs_desktop.storage.jsonl import WRAPPER_MEMBER, JsonlStore
from jacs_desktop.storage.opener import open_objects
from jacs_desktop.storage.urlparse import parse_url


def _lines(path):
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n")
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


def _doc(jid, ver="v1", **extra):
    return {"jacsId": jid, "jacsVersion": ver, "jacsType": "header", **extra}


ODD_PAYLOADS = {
    "files/empty.bin": b"",
    "files/newline.txt": b"\n",
    "files/braces.json": b"{}",
    "files/tab.json": b'{\t"a": 1}',
    "files/crlf.json": b'{\r\n  "a": 1\r\n}\r\n',
    "files/bom.json": b'\xef\xbb\xbf{"a": 1}',
    "files/nan.json": b'{"a": NaN}',
    "files/latin1.txt": "caf\xe9".encode("latin-1"),
    "files/array.json": b'[1, 2,\n 3]\n',
    "files/unicode.json": '{"s": "é✓\u2028"}'.encode(),
    "documents/archive/d1:v1.json": json.dumps(_doc("d1"), indent=2).encode(),
    "documents/d2:v1.json": json.dumps(_doc("d2", note="compact"), separators=(",", ":")).encode(),
    "documents/d3:v1.json": json.dumps(_doc("d3"), indent=2).encode() + b"\n",
    "documents/other:v1.json": json.dumps(_doc("not-other")).encode(),  # a name its content does not give
    "documents/d4:v1.json": json.dumps({**_doc("d4"), WRAPPER_MEMBER: "x"}).encode(),
    "jacs_data/agent/a1:v1.json": json.dumps({**_doc("a1"), "jacsType": "agent"}, indent=4).encode(),
}


def test_line_format_and_byte_for_byte_round_trips(tmp_path):
    path = tmp_path / "s.jsonl"
    with JsonlStore(path) as s:
        for k, v in ODD_PAYLOADS.items():
            assert s.put_if_absent(k, v) is True
        assert s.put_if_absent("documents/d2:v1.json", b"{}") is False  # versions are immutable
    with JsonlStore(path, create=False) as s:  # a fresh index, from the file alone
        assert {i.key: i.size for i in s.list()} == {k: len(v) for k, v in ODD_PAYLOADS.items()}
        for k, v in ODD_PAYLOADS.items():
            assert s.get(k) == v, k
    lines = _lines(path)
    assert len(lines) == len(ODD_PAYLOADS)
    bare = [o for o in lines if WRAPPER_MEMBER not in o]
    # JACS documents and agents under the names their content gives are the signed objects themselves
    assert sorted(o["jacsId"] for o in bare) == ["a1", "d2", "d3"]
    by_key = {o[WRAPPER_MEMBER]: o for o in lines if WRAPPER_MEMBER in o}
    assert by_key["documents/archive/d1:v1.json"]["json"] == _doc("d1")  # other JSON: wrapped, still JSON
    assert by_key["files/array.json"]["json"] == [1, 2, 3]
    for k in ("files/empty.bin", "files/tab.json", "files/crlf.json", "files/bom.json", "files/nan.json",
              "files/latin1.txt"):
        assert "base64" in by_key[k], k
    assert b"\r" not in path.read_bytes()


def test_lines_written_by_other_tools_and_garbage(tmp_path, caplog):
    path = tmp_path / "s.jsonl"
    doc = json.dumps(_doc("x1"), separators=(",", ":")).encode()
    path.write_bytes(doc + b"\n"
                     + b"this is not json\n"
                     + b'{ "$jacsDesktopObject" : "files/a.txt", "base64" : "aGVsbG8=" }\n'
                     + b'{"$jacsDesktopObject": "files/b.json", "json": {"k": [1, 2]}}\n'
                     + b'{"just": "an object"}\n'
                     + b"\n"
                     + doc + b"\n")  # the same key again: the first one is kept
    with caplog.at_level(logging.WARNING, "jacs_desktop.storage.jsonl"):
        s = JsonlStore(path, create=False)
    assert [i.key for i in s.list()] == ["documents/x1:v1.json", "files/a.txt", "files/b.json"]
    assert s.get("files/a.txt") == b"hello" and s.get("files/b.json") == b'{"k":[1,2]}'
    assert s.get("documents/x1:v1.json") == doc
    assert s.skipped_lines == 2 and "not a JACS object" in caplog.text and "appears again" in caplog.text
    s.delete("files/a.txt")  # a rewrite keeps the lines it cannot read, drops the removed key
    raw = path.read_bytes()
    assert b"this is not json\n" in raw and b'{"just": "an object"}\n' in raw and b"aGVsbG8=" not in raw
    assert raw.count(b'"x1"') == 2  # a duplicate of a key the rewrite did not touch is kept as it was ...
    assert s.get("documents/x1:v1.json") == doc and s.skipped_lines == 2  # ... and the first one still reads
    s.close()


_CRASH_MID_APPEND = textwrap.dedent("""
    import os, sys
    from jacs_desktop.storage import jsonl
    s = jsonl.JsonlStore(sys.argv[1], create=False)
    def half_then_die(fd, data):
        os.write(fd, data[: len(data) // 2])
        os._exit(9)  # killed in the middle of the append: no clean-up runs
    jsonl._write_all = half_then_die
    s.put_if_absent("documents/torn:v1.json", b'{"jacsId": "torn", "jacsVersion": "v1", "pad": "' + b"x" * 5000 + b'"}')
""")


def test_torn_last_line_is_ignored_then_repaired(tmp_path, caplog):
    path = tmp_path / "s.jsonl"
    with JsonlStore(path) as s:
        for i in range(3):
            s.put_if_absent(f"documents/d{i}:v1.json", json.dumps(_doc(f"d{i}"), indent=2).encode())
    before = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", _CRASH_MID_APPEND, str(path)], capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr.decode()
    torn = path.read_bytes()
    assert len(torn) > len(before) and not torn.endswith(b"\n")  # a partial line, for real
    with caplog.at_level(logging.WARNING, "jacs_desktop.storage.jsonl"):
        s = JsonlStore(path, create=False)
    assert "partial line" in caplog.text
    assert [i.key for i in s.list()] == [f"documents/d{i}:v1.json" for i in range(3)]
    assert s.stat("documents/torn:v1.json") is None
    assert json.loads(s.get("documents/d2:v1.json"))["jacsId"] == "d2"
    # the next write cuts the partial line off before it appends
    assert s.put_if_absent("documents/torn:v1.json", json.dumps(_doc("torn")).encode()) is True
    s.close()
    raw = path.read_bytes()
    assert raw.startswith(before) and raw.endswith(b"\n")
    assert [o["jacsId"] for o in _lines(path)] == ["d0", "d1", "d2", "torn"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "jacs_desktop.storage.jsonl"), JsonlStore(path, create=False) as s:
        assert len(list(s.list())) == 4
    assert caplog.text == ""


def test_a_whole_last_line_without_its_line_end_is_kept(tmp_path):
    path = tmp_path / "s.jsonl"
    doc = json.dumps(_doc("hand")).encode()
    path.write_bytes(doc)  # written by hand, no final LF
    with JsonlStore(path, create=False) as s:
        assert s.stat("documents/hand:v1.json") is None  # not taken until it is whole
        s.put("files/x", b"1")
        assert s.get("documents/hand:v1.json") == doc  # the write gave it its LF
    assert path.read_bytes().startswith(doc + b"\n")


_WRITER = textwrap.dedent("""
    import json, os, sys, time
    from jacs_desktop.storage.jsonl import JsonlStore
    path, who, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    s = JsonlStore(path, create=False)
    while not os.path.exists(go):
        time.sleep(0.001)
    wins = 0
    for i in range(n):
        if who == "deleter":
            s.delete(f"scratch/{i}")
            continue
        doc = {"jacsId": f"{who}-{i}", "jacsVersion": "v1", "jacsType": "header", "pad": "x" * (i * 7919 % 150000)}
        assert s.put_if_absent(f"documents/{who}-{i}:v1.json", json.dumps(doc, indent=2).encode())
        shared = {"jacsId": f"shared-{i}", "jacsVersion": "v1", "who": who}
        wins += s.put_if_absent(f"documents/shared-{i}:v1.json", json.dumps(shared).encode())
    print(wins)
""")


def test_two_processes_appending_while_a_third_rewrites(tmp_path):
    path = tmp_path / "s.jsonl"
    n = 60
    with JsonlStore(path) as s:
        for i in range(n):
            s.put(f"scratch/{i}", os.urandom(100))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), who, str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for who in ("alice", "bob", "deleter")]
    time.sleep(1.0)  # all three have the file open and indexed
    go.touch()
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
    wins = int(outs[0][0]) + int(outs[1][0])
    assert wins == n  # each shared version was created by exactly one of them
    lines = _lines(path)  # no line torn or interleaved: every one parses
    with JsonlStore(path, create=False) as s:
        keys = [i.key for i in s.list()]
        assert len(keys) == len(lines) == 3 * n and s.skipped_lines == 0
        assert list(s.list("scratch/")) == []  # every delete (a rewrite) held too
        for who in ("alice", "bob"):
            for i in range(n):
                doc = json.loads(s.get(f"documents/{who}-{i}:v1.json"))
                assert doc["jacsId"] == f"{who}-{i}" and len(doc["pad"]) == i * 7919 % 150000
        assert {json.loads(s.get(f"documents/shared-{i}:v1.json"))["who"] for i in range(n)} <= {"alice", "bob"}


def _fixture_files():
    return {p.relative_to(FIXTURE).as_posix(): p.read_bytes() for p in FIXTURE.rglob("*") if p.is_file()}


def _verdicts(capsys, target):
    assert cli.main(["verify", "--json", target]) in (0, 2)
    report = json.loads(capsys.readouterr().out)
    return sorted((json.dumps({k: v for k, v in r.items() if k != "path"}, sort_keys=True), r.get("path", "")[-60:])
                  for r in report["results"]), report["summary"]["total"]


def test_cli_migrate_in_verify_and_migrate_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "state"))
    url = f"jsonl://{(tmp_path / 'x.jsonl').as_posix()}"
    assert cli.main(["migrate", str(FIXTURE), url]) == 0
    capsys.readouterr()
    jsonl_verdicts, total = _verdicts(capsys, url)
    folder_verdicts, _ = _verdicts(capsys, str(FIXTURE))
    assert total > 0 and jsonl_verdicts == folder_verdicts  # the same verdicts as the folder
    # out again, to a folder: byte for byte what the fixture holds
    out = tmp_path / "out"
    assert cli.main(["migrate", url, str(out)]) == 0
    capsys.readouterr()
    copied = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with JsonlStore(tmp_path / "x.jsonl", create=False) as s:
        stored = [i.key for i in s.list()]
    assert sorted(copied) == stored and len(stored) > 15
    originals = _fixture_files()
    assert all(copied[k] == originals[k] for k in copied)


def test_fixture_lines_are_the_signed_documents(tmp_path):
    path = tmp_path / "x.jsonl"
    originals = _fixture_files()
    with JsonlStore(path) as s:
        for k, v in originals.items():
            if k.startswith(("documents/", "jacs_data/")):
                s.put_if_absent(k, v)
    lines = _lines(path)
    signed = [o for o in lines if WRAPPER_MEMBER not in o]
    want = [json.loads(v) for k, v in sorted(originals.items())
            if k.startswith(("documents/", "jacs_data/agent/")) and k.endswith(".json")]
    assert sorted(map(json.dumps, signed)) == sorted(map(json.dumps, want))
    assert all("jacsSignature" in o and "jacsSha256" in o for o in signed)
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    got = subprocess.run(["jq", "-r", f'select(has("{WRAPPER_MEMBER}") | not) | .jacsId + ":" + .jacsVersion',
                          str(path)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert sorted(got) == sorted(f"{d['jacsId']}:{d['jacsVersion']}" for d in want)
    # jq -c writes lines this store reads back as the same documents
    compact = subprocess.run(["jq", "-c", ".", str(path)], capture_output=True, timeout=60, check=True).stdout
    (tmp_path / "c.jsonl").write_bytes(compact)
    with JsonlStore(tmp_path / "c.jsonl", create=False) as c, JsonlStore(path, create=False) as s:
        assert [i.key for i in c.list()] == [i.key for i in s.list()]
        assert all(json.loads(c.get(i.key)) == json.loads(s.get(i.key)) for i in s.list() if i.key.endswith(".json"))


def test_url_and_opener(tmp_path):
    target = tmp_path / "sub" / "s.jsonl"
    url = f"jsonl://{target.as_posix()}"
    assert parse_url(url) == {"scheme": "jsonl", "path": target.as_posix()}
    with pytest.raises(StorageError):
        open_objects(url)
    s = open_objects(url, create=True)
    assert isinstance(s, JsonlStore) and s.url == url and target.is_file()
    s.put_if_absent("files/a", b"1")
    s.close()
    with open_objects(s.url) as again:
        assert again.get("files/a") == b"1"
        with pytest.raises(NotFound):
            again.get("files/b")
    with pytest.raises(StorageError):
        parse_url("jsonl://")
    with pytest.raises(StorageError):
        JsonlStore(tmp_path)  # a folder is not a JSONL file


def test_another_handle_sees_appends_and_rewrites(tmp_path):
    """Two opens of one file (as two processes would have): each sees what the other wrote,
    across a rewrite that replaced the file under the other's open handle."""
    path = tmp_path / "s.jsonl"
    with JsonlStore(path) as a, JsonlStore(path, create=False) as b:
        a.put_if_absent("files/1", b"one")
        assert b.get("files/1") == b"one"
        assert b.put_if_absent("files/1", b"other") is False
        b.put_if_absent("files/2", b"two")
        a.delete("files/1")  # a rewrite: a new file renamed over the one b has open
        with pytest.raises(NotFound):
            b.get("files/1")
        b.put_if_absent("files/3", b"three")  # appended to the new file, not the replaced one
        assert [i.key for i in a.list()] == ["files/2", "files/3"]
        b.move("files/2", "files/archive/2")
        assert a.get("files/archive/2") == b"two" and a.stat("files/2") is None
    assert len(_lines(path)) == 2


def test_wrapper_lines_with_more_members_are_read_whole(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"$jacsDesktopObject":"files/a.json","json":{"k":1},"note":"x"}\n'
                     b'{"$jacsDesktopObject":"files/b.bin","base64":"aGk=","note":"x"}\n')
    with JsonlStore(path, create=False) as s:
        assert s.get("files/a.json") == b'{"k":1}' and s.get("files/b.bin") == b"hi"
        assert [i.size for i in s.list()] == [7, 2]
