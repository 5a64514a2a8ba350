"""One verification path: the same tree gives the same verdicts on every backend.

The tree is the real fixture plus tampered copies (some beside the originals in
``jacs_data/documents/``, some under names that do not match their content), an
archived document, a tampered config, a hidden junk file and the pq2025 agent's
public key only in its key directory (so the config's own key is what verifies
its documents). It is loaded into a folder, a ``file://`` URL, SQLite, memory
and S3 (moto); ``verify_store`` must give identical per-item verdicts (status
and check names), and the verdicts the manifest expects.

Read failures: a document that cannot be read (S3 503 after retries, time-out,
permission denied, vanished) is ``error`` with a "read" check, never ``invalid``;
the CLI exits 1 when something is ``error`` and nothing is invalid.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest
from conftest import FIXTURE, MANIFEST, REPO
from s3servers import S3_KEY, S3_SECRET, fault_proxy, moto_server, put_all

from jacs_desktop.jobs.verify_all import verify_store
from jacs_desktop.storage.base import AccessDenied, NotFound, ObjectStore, Unreachable
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store
from jacs_desktop.storage.urls import open_store

ED, PQ = MANIFEST["agents"]["ed25519"], MANIFEST["agents"]["pq2025"]
ARCHIVED = MANIFEST["documents"][7]["path"]  # a plain pq2025 message
FRESH = [f"00000000-0000-4000-8000-00000000000{i}:11111111-1111-4111-8111-11111111111{i}.json"
         for i in range(2)]


def _tree() -> tuple[dict[str, bytes], dict[str, str]]:
    """(key → bytes, key → expected status) for the parity tree."""
    files: dict[str, bytes] = {}
    for p in FIXTURE.rglob("*"):
        rel = p.relative_to(FIXTURE).as_posix()
        if not p.is_file() or rel.endswith(".pem.enc") or rel == "manifest.json" or rel.startswith("tampered/"):
            continue
        files[rel] = p.read_bytes()
    expected = {}
    for e in MANIFEST["documents"]:
        expected[e["path"]] = "valid" if e["should_verify"] else "invalid"
    for name in MANIFEST["agents"].values():
        expected[name["agent_document"]] = "valid"
        expected[name["config"]] = "valid"
    # an archived version
    archived = ARCHIVED.replace("documents/", "documents/archive/")
    files[archived] = files.pop(ARCHIVED)
    expected[archived] = expected.pop(ARCHIVED)
    # tampered copies: beside the originals under their own names, or under names that do not match
    fresh = iter(FRESH)
    for t in MANIFEST["tampered"]:
        data = (FIXTURE / t["path"]).read_bytes()
        doc = json.loads(data)
        key = f"jacs_data/documents/{doc['jacsId']}:{doc['jacsVersion']}.json"
        if key in files:
            key = f"documents/{next(fresh)}"
            expected[key] = "invalid"  # the name does not match the content
        else:
            expected[key] = "valid" if t["should_verify"] else "invalid"
        files[key] = data
    # a tampered config, a hidden junk file (not a version), the pq key only in the key directory
    cfg = json.loads(files[ED["config"]])
    cfg["jacs_default_storage"] = "memory"
    files["evil.config.json"] = json.dumps(cfg).encode()
    expected["evil.config.json"] = "invalid"
    files["documents/._abc:def.json"] = b"{}"
    for k in [k for k in files if k.startswith(f"jacs_data/public_keys/{PQ['public_key_hash']}")]:
        del files[k]
    return files, expected


TREE, EXPECTED = _tree()


def _verdicts(store) -> dict[str, tuple[str, tuple[str, ...]]]:
    report = verify_store(store)
    assert report.errors == []
    out = {}
    for v in report.results:
        assert v.path not in out, f"{v.path} verified twice"
        out[v.path] = (v.status, tuple(sorted(c.name for c in v.checks)))
    return out


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity") / "tree"
    for k, data in TREE.items():
        p = root.joinpath(*k.split("/"))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def _load(objects: ObjectStore) -> Store:
    put_all(objects, TREE.items())
    return Store(objects)


@pytest.fixture(scope="module")
def reference(folder):
    return _verdicts(open_store(str(folder)))


def test_reference_matches_the_manifest(reference):
    assert {k: s for k, (s, _) in reference.items()} == EXPECTED
    checks = {k: c for k, (_, c) in reference.items()}
    assert "archived" in checks[ARCHIVED.replace("documents/", "documents/archive/")]
    for name in FRESH:
        assert "file name" in checks[f"documents/{name}"]
    pq_doc = next(e["path"] for e in MANIFEST["documents"] if e["signer"] == "pq2025" and e["path"] != ARCHIVED)
    assert reference[pq_doc][0] == "valid"  # its key came from keys/pq2025/jacs.public.pem (via the config)


@pytest.mark.parametrize("backend", ["file-url", "memory", "sqlite", "s3-moto"])
def test_same_verdicts_on_every_backend(backend, folder, reference, tmp_path, request):
    if backend == "file-url":
        store = open_store(folder.as_uri())
    elif backend == "memory":
        store = _load(MemoryStore(uuid.uuid4().hex))
    elif backend == "sqlite":
        from jacs_desktop.storage.sqlite import SqliteStore

        store = _load(SqliteStore(tmp_path / "tree.sqlite3"))
    else:
        from jacs_desktop.storage.s3 import S3Store

        endpoint = request.getfixturevalue("moto_endpoint")
        store = _load(S3Store(f"jd-{uuid.uuid4().hex[:12]}", "some/prefix", endpoint_url=endpoint,
                              access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True))
    try:
        assert _verdicts(store) == reference
    finally:
        store.close()


def _cli(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACS_")}
    return subprocess.run([sys.executable, "-m", "jacs_desktop.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL)


def test_cli_path_and_file_url_agree(folder):
    runs = [_cli("verify", target, "--json") for target in (folder, folder.as_uri())]
    reports = [json.loads(p.stdout) for p in runs]
    assert [p.returncode for p in runs] == [2, 2]  # tampered copies are invalid
    for r in reports:
        r["summary"].pop("seconds")
    assert reports[0]["summary"] == reports[1]["summary"]
    assert reports[0]["summary"]["total"] == len(EXPECTED)
    assert reports[0]["results"] == reports[1]["results"]
    text = [_cli("verify", target).stdout.splitlines()[-1] for target in (folder, folder.as_uri())]
    assert text[0] == text[1] and text[0].startswith(f"{len(EXPECTED)} checked:")


# -- read failures -------------------------------------------------------------------


class Failing(ObjectStore):
    """An object store that fails to read some keys (with a storage-layer error)."""

    def __init__(self, inner: ObjectStore, fail: dict[str, Exception]):
        self.inner, self.fail = inner, fail
        self.url = inner.url

    def list(self, prefix="", **kw):
        return self.inner.list(prefix, **kw)

    def list_children(self, prefix=""):
        return self.inner.list_children(prefix)

    def get(self, key):
        if key in self.fail:
            raise self.fail[key]
        return self.inner.get(key)

    def put(self, key, data):
        self.inner.put(key, data)

    def put_if_absent(self, key, data):
        return self.inner.put_if_absent(key, data)

    def stat(self, key):
        return self.inner.stat(key)

    def delete(self, key):
        self.inner.delete(key)


def _fixture_objects() -> MemoryStore:
    """The plain fixture (everything valid) in memory."""
    mem = MemoryStore(uuid.uuid4().hex)
    for p in FIXTURE.rglob("*"):
        rel = p.relative_to(FIXTURE).as_posix()
        if p.is_file() and not rel.startswith("tampered/") and rel != "manifest.json":
            mem.put(rel, p.read_bytes())
    return mem


DOC = MANIFEST["documents"][0]["path"]
EXTERNAL = next(e for e in MANIFEST["documents"] if e.get("files") and not e["files"][0]["embed"])


@pytest.mark.parametrize("exc", [Unreachable("The S3 endpoint did not answer in time (GET)"),
                                 AccessDenied("Permission denied: x"), NotFound("gone since it was listed")],
                         ids=["unavailable", "denied", "vanished"])
def test_a_document_that_cannot_be_read_is_error(exc):
    store = Store(Failing(_fixture_objects(), {DOC: exc}))
    report = verify_store(store)
    bad = [v for v in report.results if v.status != "valid"]
    assert [(v.path, v.status) for v in bad] == [(DOC, "error")]
    assert [c.name for c in bad[0].checks] == ["read"]
    assert bad[0].checks[0].reason.startswith("not checked: ") and str(exc) in bad[0].checks[0].reason
    assert report.summary["error"] == 1 and report.summary["invalid"] == 0
    assert report.exit_code == 1


def test_a_key_or_attachment_that_cannot_be_read_is_error():
    pem = f"jacs_data/public_keys/{PQ['public_key_hash']}.pem"
    attachment = f"jacs_data/{EXTERNAL['files'][0]['path']}"
    store = Store(Failing(_fixture_objects(), {pem: Unreachable("S3 error on GET: 503 SlowDown"),
                                               attachment: Unreachable("S3 error on GET: 503 SlowDown")}))
    report = verify_store(store)
    by_path = {v.path: v for v in report.results}
    pq_docs = [e["path"] for e in MANIFEST["documents"] if e["signer"] == "pq2025"]
    for path in [*pq_docs, PQ["agent_document"], PQ["config"], EXTERNAL["path"]]:
        v = by_path[path]
        assert v.status == "error", (path, v.checks)
        assert any(c.name == "read" and c.reason.startswith("not checked: ") for c in v.checks)
    assert {v.status for p, v in by_path.items() if p not in [*pq_docs, PQ["agent_document"], PQ["config"],
                                                                    EXTERNAL["path"]]} == {"valid"}
    assert report.exit_code == 1


def test_cli_exit_1_when_something_is_error_and_nothing_invalid(monkeypatch, capsys):
    import jacs_desktop.storage.urls as urls
    from jacs_desktop import cli

    monkeypatch.setattr(urls, "open_store", lambda url, **kw: Store(Failing(_fixture_objects(), {
        DOC: Unreachable("The S3 endpoint did not answer in time (GET)")})))
    assert cli.main(["verify", "s3://bucket/x"]) == 1
    out = capsys.readouterr().out
    assert "error" in out and "not checked: " in out and "1 not checked" in out.splitlines()[-1]
    assert cli.main(["verify", "s3://bucket/x", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["error"] == 1 and report["summary"]["invalid"] == 0
    assert [r["status"] for r in report["results"] if r["path"] == DOC] == ["error"]


def test_cli_exit_2_when_anything_is_invalid_even_with_errors(monkeypatch, capsys):
    import jacs_desktop.storage.urls as urls
    from jacs_desktop import cli

    mem = _fixture_objects()
    mem.put("documents/" + FRESH[0], (FIXTURE / "tampered" / "content_changed_rehashed.json").read_bytes())
    monkeypatch.setattr(urls, "open_store", lambda url, **kw: Store(Failing(mem, {DOC: Unreachable("down")})))
    assert cli.main(["verify", "memory://x"]) == 2


def test_s3_503_after_retries_is_error(moto_endpoint):
    """A real S3 server behind a proxy that answers 503 for one document, every time."""
    from jacs_desktop.storage.s3 import S3Store

    bucket = f"jd-{uuid.uuid4().hex[:12]}"
    put_all(S3Store(bucket, endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                    create_bucket=True), TREE.items())
    version = DOC[: -len(".json")].split(":")[1]  # only this version's GETs fail
    with fault_proxy(moto_endpoint, [(503, "ServiceUnavailable")] * 50, match=version, method="GET") as (ep, left):
        store = Store(S3Store(bucket, endpoint_url=ep, access_key=S3_KEY, secret_key=S3_SECRET, max_attempts=2))
        report = verify_store(store)
    by_path = {v.path: v for v in report.results}
    assert by_path[DOC].status == "error" and by_path[DOC].checks[0].name == "read"
    assert "not checked: " in by_path[DOC].checks[0].reason
    assert len(left) < 50
    statuses = {p: v.status for p, v in by_path.items() if p != DOC}
    assert statuses == {k: s for k, s in EXPECTED.items() if k != DOC}


def _pq_statuses(store):
    by_path = {v.path: v for v in verify_store(store).results}
    return {by_path[e["path"]].status for e in MANIFEST["documents"] if e["signer"] == "pq2025"}


def test_the_agents_own_key_wins_over_a_wrong_cached_key():
    """SPEC 8: jacs tries the agent's own key first; a public_keys/ entry whose bytes
    do not hash to its name does not make the agent's documents invalid."""
    mem = _fixture_objects()
    mem.put(f"jacs_data/public_keys/{PQ['public_key_hash']}.pem", b"\x00" * 2592)
    assert _pq_statuses(Store(mem)) == {"valid"}


def test_the_agents_own_key_unreadable_is_error_not_unverifiable():
    mem = _fixture_objects()
    for ext in (".pem", ".enc_type"):
        mem.delete(f"jacs_data/public_keys/{PQ['public_key_hash']}{ext}")
    assert _pq_statuses(Store(mem)) == {"valid"}  # from keys/pq2025/jacs.public.pem
    own = f"{PQ['key_directory']}/jacs.public.pem"
    assert _pq_statuses(Store(Failing(mem, {own: AccessDenied("Permission denied: " + own)}))) == {"error"}
    mem.delete(own)
    assert _pq_statuses(Store(mem)) == {"unverifiable"}  # really absent
