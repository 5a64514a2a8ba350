"""gs:// stores beyond the conformance suite: the CLI on a real server (fake-gcs-server),
the endpoint from STORAGE_EMULATOR_HOST or ?endpoint_url=, errors in words (a missing
bucket, an unreachable endpoint, no or bad credentials, a 5xx that is retried or never
goes away) and the missing gcs extra."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from conftest import FIXTURE, REPO
from s3servers import fault_proxy, free_port, put_all

from jacs_desktop.storage.base import AccessDenied, NotFound, StorageError, Unreachable
from jacs_desktop.storage.opener import open_objects
from jacs_desktop.storage.urlparse import parse_url

from .backend_gcs import gcs_store

pytest.importorskip("google.cloud.storage", reason="the gcs extra (google-cloud-storage) is not installed")


def _cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JACS_", "STORAGE_EMULATOR_HOST"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "jacs_desktop.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, stdin=subprocess.DEVNULL, timeout=300)


def _fixture_files():
    return {p.relative_to(FIXTURE).as_posix(): p.read_bytes() for p in sorted(FIXTURE.rglob("*"))
            if p.is_file() and "tampered" not in p.relative_to(FIXTURE).parts}


@pytest.fixture
def no_google_login(monkeypatch, tmp_path):
    """No Application Default Credentials anywhere, and no probing of a metadata server."""
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    # google-auth reads NO_GCE_CHECK and GCE_METADATA_HOST when first imported, GCE_METADATA_IP (where
    # it pings for a metadata server) on each look-up: it goes to a closed loopback port, never off this machine
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("GCE_METADATA_IP", f"127.0.0.1:{free_port()}")


def test_url_parsing():
    p = parse_url("gs://my-bucket/some/prefix/?endpoint_url=http://127.0.0.1:4443&project=p1")
    assert p.scheme == "gs" and p["bucket"] == "my-bucket" and p["prefix"] == "some/prefix"
    assert p["options"] == {"endpoint_url": "http://127.0.0.1:4443", "project": "p1"}
    assert parse_url("gcs://b").scheme == "gs"
    with pytest.raises(StorageError, match="needs a bucket"):
        parse_url("gs:///x")
    with pytest.raises(StorageError, match="Unknown Google Cloud Storage option 'region'"):
        parse_url("gs://b/x?region=eu")


def test_cli_verify_on_gs_url(gcs_endpoint, tmp_path):
    """jacs-desktop-cli verify gs://BUCKET/PREFIX gives the verdicts the same tree gives in a folder,
    with the endpoint from STORAGE_EMULATOR_HOST and from ?endpoint_url= alike."""
    files = _fixture_files()
    folder = tmp_path / "tree"
    for k, data in files.items():
        (folder / k).parent.mkdir(parents=True, exist_ok=True)
        (folder / k).write_bytes(data)
    store = gcs_store(gcs_endpoint, "team/jacs")
    put_all(store, files.items())
    bucket = store.bucket_name
    store.close()
    ref = _cli("verify", folder, "--json")
    assert ref.returncode == 0, ref.stderr
    runs = [_cli("verify", f"gs://{bucket}/team/jacs", "--json", env_extra={"STORAGE_EMULATOR_HOST": gcs_endpoint}),
            _cli("verify", f"gs://{bucket}/team/jacs?endpoint_url={gcs_endpoint}", "--json")]
    want = json.loads(ref.stdout)
    want["summary"].pop("seconds")
    for p in runs:
        assert p.returncode == 0, p.stdout + p.stderr
        got = json.loads(p.stdout)
        got["summary"].pop("seconds")
        assert got["summary"] == want["summary"] and got["summary"]["valid"] == got["summary"]["total"] > 10
        # (the CLI writes each result as it comes, in the order the backend lists: compare by path)
        assert sorted(got["results"], key=lambda r: r["path"]) == sorted(want["results"], key=lambda r: r["path"])
    text = _cli("verify", f"gs://{bucket}/team/jacs", env_extra={"STORAGE_EMULATOR_HOST": gcs_endpoint})
    assert text.returncode == 0 and text.stdout.splitlines()[-1] == ref_last_line(folder)


def ref_last_line(folder) -> str:
    return _cli("verify", folder).stdout.splitlines()[-1]


def test_open_through_the_opener_and_emulator_host(gcs_endpoint, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    bucket = f"jd-{uuid.uuid4().hex[:12]}"
    s = open_objects(f"gs://{bucket}/p", create=True)
    try:
        assert s.put_if_absent("documents/a:b.json", b"{}") is True
        assert s.put_if_absent("documents/a:b.json", b"[]") is False
        assert s.url == f"gs://{bucket}/p"
        s.check()
        info = s.stat("documents/a:b.json")
        assert info.size == 2 and info.mtime and info.etag == s.written_etag("documents/a:b.json")
        assert s.replace_if_match("documents/a:b.json", b"{ }", info.etag) is True
        assert s.replace_if_match("documents/a:b.json", b"{}", info.etag) is False  # it changed meanwhile
        assert s.get("documents/a:b.json") == b"{ }"
        s.client.bucket(bucket).blob("p/documents/").upload_from_string(b"")  # a console "folder"
        assert [o.key for o in s.list("")] == ["documents/a:b.json"]
        assert [o.key for o in s.list_children("documents/")] == ["documents/a:b.json"]
    finally:
        s.close()


def test_missing_bucket_is_a_sentence(gcs_endpoint):
    s = open_objects(f"gs://jd-missing-{uuid.uuid4().hex[:8]}/x?endpoint_url={gcs_endpoint}")
    with pytest.raises(NotFound, match=r"The bucket jd-missing-\w+ does not exist"):
        s.check()
    with pytest.raises(NotFound, match="does not exist"):
        list(s.list(""))
    assert s.stat("a.json") is None


def test_unreachable_endpoint_is_a_sentence():
    port = free_port()  # nothing listens there
    s = open_objects(f"gs://b/x?endpoint_url=http://127.0.0.1:{port}&retry_timeout=1&connect_timeout=1")
    for op in (lambda: s.get("a.json"), lambda: list(s.list("")), s.check, lambda: s.put("a", b"1")):
        with pytest.raises(Unreachable, match="Google Cloud Storage"):
            op()


def test_cli_unreachable_and_missing_bucket_exit_1_without_traceback(gcs_endpoint):
    port = free_port()
    p = _cli("verify", f"gs://b/x?endpoint_url=http://127.0.0.1:{port}&retry_timeout=1")
    assert p.returncode == 1 and "Google Cloud Storage" in p.stderr and "Traceback" not in p.stderr
    p = _cli("verify", f"gs://jd-missing-{uuid.uuid4().hex[:8]}/x?endpoint_url={gcs_endpoint}")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr


def test_no_credentials_is_a_sentence(no_google_login):
    with pytest.raises(AccessDenied, match=r"No Google Cloud credentials.*application-default login"):
        open_objects("gs://some-bucket/x")


def test_bad_credentials_file_is_a_sentence(no_google_login, tmp_path, monkeypatch):
    with pytest.raises(AccessDenied, match="does not exist"):
        open_objects(f"gs://b/x?credentials_file={tmp_path / 'nope.json'}")
    bad = tmp_path / "key.json"
    bad.write_text(json.dumps({"type": "service_account", "client_email": "x@y"}))
    with pytest.raises(AccessDenied, match="not a service account key"):
        open_objects(f"gs://b/x?credentials_file={bad}")
    # a key file in GOOGLE_APPLICATION_CREDENTIALS that is no key: the same kind of sentence
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bad))
    with pytest.raises(AccessDenied, match=r"The Google Cloud credentials cannot be used: .*key\.json"):
        open_objects("gs://b/x")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gone.json"))
    with pytest.raises(AccessDenied, match=r"cannot be used: .*gone\.json"):
        open_objects("gs://b/x")


@pytest.mark.parametrize("status, words", [(401, "needs credentials"), (403, "refused access")])
def test_refused_credentials_are_access_denied(gcs_endpoint, status, words):
    s = gcs_store(gcs_endpoint, "r")
    s.put("documents/d.json", b"{}")
    with fault_proxy(gcs_endpoint, [(status, "Refused")] * 5, match="documents", method="GET") as (ep, left):
        via = open_objects(f"gs://{s.bucket_name}/r?endpoint_url={ep}")
        with pytest.raises(AccessDenied, match=words):
            via.get("documents/d.json")
        assert len(left) == 4  # not retried
    s.close()


def test_a_503_is_retried_and_one_that_stays_is_unreachable(gcs_endpoint):
    s = gcs_store(gcs_endpoint, "r")
    s.put("documents/d.json", b"{}")
    with fault_proxy(gcs_endpoint, [(503, "ServiceUnavailable")] * 2, match="documents", method="GET") as (ep, left):
        via = open_objects(f"gs://{s.bucket_name}/r?endpoint_url={ep}&retry_timeout=20")
        assert via.get("documents/d.json") == b"{}"  # two 503s, then the real answer
        assert left == []
    with fault_proxy(gcs_endpoint, [(503, "ServiceUnavailable")] * 100, match="documents", method="GET") as (ep, left):
        via = open_objects(f"gs://{s.bucket_name}/r?endpoint_url={ep}&retry_timeout=2")
        with pytest.raises(Unreachable, match="Google Cloud Storage"):
            via.get("documents/d.json")
        assert len(left) < 99  # it was retried
    s.close()


def test_missing_extra_is_a_sentence(monkeypatch, capsys):
    """Without google-cloud-storage: a sentence naming the extra, never an ImportError."""
    import builtins

    real_import = builtins.__import__

    def no_google(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "google" or name.startswith("google.")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_google)  # as if google-cloud-storage were not installed
    with pytest.raises(StorageError) as info:
        open_objects("gs://bucket/prefix")
    assert str(info.value) == "Google Cloud Storage needs the gcs extra: pip install 'jacs-desktop[gcs]'"
    from jacs_desktop import cli

    assert cli.main(["verify", "gs://bucket/prefix"]) == 1
    err = capsys.readouterr().err  # (a fault proxy's thread from an earlier test may print here too)
    assert err.splitlines()[-1] == ("jacs-desktop-cli: error: Google Cloud Storage needs the gcs extra: "
                                    "pip install 'jacs-desktop[gcs]'")
    assert "ImportError" not in err and "ModuleNotFoundError" not in err


def test_backend_module_imports_without_the_extra():
    """The opener imports the gs backend at start-up: that must not need google-cloud-storage."""
    code = ("import sys; sys.modules['google'] = None; sys.modules['google.cloud'] = None; "
            "import jacs_desktop.storage.opener, jacs_desktop.storage.gcs; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
