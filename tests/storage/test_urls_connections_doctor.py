"""Store URLs, saved connections, doctor and their CLI commands."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from conftest import FIXTURE, REPO
from s3servers import S3_KEY, S3_SECRET

from jacs_desktop.jobs.doctor import BROKEN, HEALTHY, PARTIAL, doctor
from jacs_desktop.storage.base import NotSupported, StorageError
from jacs_desktop.storage.connections import Connections
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.secrets import Secrets
from jacs_desktop.storage.urls import open_objects, open_store, parse_url


@pytest.mark.parametrize(
    "url, scheme",
    [("/data/store", "file"), ("file:///data/store", "file"), ("~/x", "file"), ("memory://scratch", "memory"),
     ("sqlite:///tmp/x.sqlite3", "sqlite"), ("s3://bucket/pre?endpoint_url=http://127.0.0.1:9000&region=eu-west-1", "s3"),
     ("profile:work", "profile"), ("relative/folder", "file")],
)
def test_parse_urls(url, scheme):
    assert parse_url(url).scheme == scheme


def test_s3_url_details():
    p = parse_url("s3://bucket/a/b?endpoint_url=http://h:1&region=r&sse=AES256")
    assert p["bucket"] == "bucket" and p["prefix"] == "a/b"
    assert p["options"] == {"endpoint_url": "http://h:1", "region": "r", "sse": "AES256"}


@pytest.mark.parametrize("url, message", [
    ("hdfs://bucket", "Unknown kind of store"), ("gs://", "bucket"), ("azure://", "container"),
    ("ftp://host/x", "Unknown kind of store"), ("s3://", "needs a bucket"), ("sqlite://", "needs a file"),
    ("s3://b?color=red", "Unknown S3 option"), ("", "No store"), ("a\x00b", "NUL"),
])
def test_bad_urls(url, message):
    with pytest.raises((StorageError, NotSupported), match=message):
        parse_url(url)


def test_open_fixture_by_url_and_memory_by_name():
    store = open_store(FIXTURE.as_uri())
    assert store.layout_name == "jacs" and len(store.documents()) == 7
    a = open_objects("memory://shared-name")
    a.put("k", b"v")
    assert open_objects("memory://shared-name").get("k") == b"v"
    with pytest.raises(StorageError, match="does not exist"):
        open_objects("sqlite:///nonexistent/dir/x.sqlite3")


def test_new_store_layouts(tmp_path):
    from jacs_desktop.storage.layout import DocsLayout, JacsLayout, detect_layout

    fs = FsStore(tmp_path / "new", create=True)
    assert isinstance(detect_layout(fs), JacsLayout)
    fs.colon_ok = False  # what a Windows folder reports
    assert isinstance(detect_layout(fs), DocsLayout)
    docs = MemoryStore()
    docs.put("agents/a1/v1.json", b"{}")
    assert isinstance(detect_layout(docs), DocsLayout)


def test_docs_layout_store_round_trip(fixture_dir):
    """The storage-docs layout: agents/{id}/{v}.json, documents/{id}/{v}.json, files/{hash}."""
    from jacs_desktop.storage.layout import DocsLayout
    from jacs_desktop.storage.store import Store

    src = open_store(str(fixture_dir))
    dst = Store(MemoryStore(), DocsLayout())
    for ref in src.refs():
        doc = src.read_json(ref.key)
        (dst.put_agent if ref.kind == "agent" else dst.put_document)(doc, src.read(ref.key))
    for h in src.public_key_hashes():
        pem, alg = src.layout.public_key_keys(h)
        dst.put_public_key(src.objects.get(pem), src.objects.get(alg).decode())
    dst.put_attachment("files/data.csv", (fixture_dir / "jacs_data/files/data.csv").read_bytes())
    reopened = Store(dst.objects)
    assert reopened.layout_name == "docs"
    assert sorted(reopened.documents()) == sorted(src.documents())
    assert all(reopened.verify(r).status == "valid" for r in reopened.refs())
    assert any(k.key.startswith("documents/52e07b44-6d02-4085-8401-6c5efce90602/") for k in dst.objects.list("documents/"))


def test_connections_file_is_versioned_and_secret_free(tmp_path):
    secrets = Secrets("file", file_path=tmp_path / "s.json", master_password="master-Passw0rd!")
    conns = Connections(tmp_path / "connections.json", secrets=secrets)
    conns.add("work", "s3://bucket/p?endpoint_url=http://127.0.0.1:9", access_key="AK", secret_key="SECRET-123")
    raw = (tmp_path / "connections.json").read_text()
    assert "SECRET-123" not in raw and json.loads(raw)["version"] == 1
    again = Connections(tmp_path / "connections.json", secrets=secrets)
    c = again.get("work")
    assert c.resolve_secrets() == {"access_key": "AK", "secret_key": "SECRET-123"}
    with pytest.raises(StorageError, match="already exists"):
        again.add("work", "/x")
    again.remove("work")
    assert secrets.get("connection:work:secret_key") is None
    with pytest.raises(StorageError, match="No saved connection"):
        Connections(tmp_path / "connections.json", secrets=secrets).get("work")


def test_connections_migration_and_newer_file(tmp_path):
    p = tmp_path / "connections.json"
    p.write_text(json.dumps({"connections": [{"name": "old", "url": "/tmp/x"}]}))  # version 0
    assert Connections(p).get("old").url == "/tmp/x"
    p.write_text(json.dumps({"version": 99, "connections": []}))
    with pytest.raises(StorageError, match="newer"):
        Connections(p)


def test_doctor_healthy_on_backends(tmp_path, moto_endpoint):
    for opener in (lambda: FsStore(tmp_path / "d", create=True), lambda: MemoryStore(),
                   lambda: open_objects(f"sqlite://{tmp_path}/d.sqlite3", create=True),
                   lambda: open_objects(f"s3://jd-{uuid.uuid4().hex[:8]}/doc?endpoint_url={moto_endpoint}",
                                        create=True, secrets={"access_key": S3_KEY, "secret_key": S3_SECRET})):
        r = doctor(opener)
        assert r.code == HEALTHY, r.failures
        assert set(r.latency_ms) == {"write", "read", "list", "delete"}
    assert [p for p in (tmp_path / "d").rglob("*") if p.is_file()] == []  # cleaned up


def test_doctor_partial_and_broken(tmp_path):
    class Overwrites(MemoryStore):
        def put_if_absent(self, key, data):
            self.put(key, data)
            return True

    r = doctor(lambda: Overwrites())
    assert r.code == PARTIAL and any("overwritten" in f for f in r.failures)
    r = doctor(lambda: open_objects("s3://b?endpoint_url=http://127.0.0.1:1&max_attempts=1&connect_timeout=1",
                                    secrets={"access_key": "a", "secret_key": "b"}))
    assert r.code == BROKEN and "Cannot reach" in r.failures[0]


def _cli(*args, env_extra=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACS_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "jacs_desktop.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, input=stdin)


def test_cli_connections_and_doctor(tmp_path, moto_endpoint):
    env = {"JACS_DESKTOP_CONFIG_DIR": str(tmp_path / "cfg"), "JACS_DESKTOP_SECRETS": "file",
           "JACS_DESKTOP_MASTER_PASSWORD": "master-Passw0rd!"}
    bucket = f"jd-{uuid.uuid4().hex[:8]}"
    url = f"s3://{bucket}/store?endpoint_url={moto_endpoint}"
    p = _cli("connections", "list", env_extra=env)
    assert p.returncode == 0 and "No saved connections" in p.stdout
    p = _cli("connections", "add", "moto", url, "--access-key", S3_KEY, "--secret-key-stdin",
             env_extra=env, stdin=S3_SECRET + "\n")
    assert p.returncode == 0, p.stderr
    assert S3_SECRET not in (tmp_path / "cfg" / "connections.json").read_text()
    p = _cli("connections", "list", "--json", env_extra=env)
    assert json.loads(p.stdout)[0]["name"] == "moto"
    from jacs_desktop.storage.s3 import S3Store

    S3Store(bucket, endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
    p = _cli("connections", "test", "moto", env_extra=env)
    assert p.returncode == 0 and "healthy" in p.stdout, p.stdout + p.stderr
    p = _cli("doctor", "profile:moto", "--json", env_extra=env)
    assert p.returncode == 0 and json.loads(p.stdout)["status"] == "healthy"
    # verify a whole store by URL: copy the fixture into the bucket first
    s = S3Store(bucket, "store", endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
    for f in FIXTURE.rglob("*"):
        if f.is_file() and "tampered" not in f.parts:
            s.put(f.relative_to(FIXTURE).as_posix(), f.read_bytes())
    p = _cli("verify", "profile:moto", "--json", env_extra=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["summary"]["valid"] == 17  # the 2 configs are verified on S3 as on a folder
    p = _cli("connections", "remove", "moto", env_extra=env)
    assert p.returncode == 0
    p = _cli("doctor", "profile:moto", env_extra=env)
    assert p.returncode == 2 and "No saved connection" in p.stdout
    p = _cli("doctor", "hdfs://bucket")
    assert p.returncode == 2 and "Unknown kind of store" in p.stdout
