"""azure:// stores beyond the conformance suite: URLs, credentials (the connection string,
a saved connection's key in the secrets store and in a real keyring), errors in words,
``jacs-desktop-cli verify azure://…`` on the fixture store, and a missing azure extra.

Azurite runs once per session (``azurite_endpoint`` in backend_azure.py)."""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import FIXTURE, REPO
from s3servers import free_port

from jacs_desktop.storage.base import AccessDenied, NotFound, NotSupported, Refused, StorageError, Unreachable
from jacs_desktop.storage.urlparse import parse_url

from .backend_azure import AZURITE_ACCOUNT, AZURITE_KEY, connection_string

ENV = "AZURE_STORAGE_CONNECTION_STRING"


def _container() -> str:
    return f"jd-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def test_missing_azurite_fails_saying_what_to_run(monkeypatch, tmp_path):
    from . import backend_azure

    monkeypatch.setattr(backend_azure, "AZURITE_DIR", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"run packaging/install-system-deps\.sh"):
        backend_azure.azurite_command()


# -- URLs ------------------------------------------------------------------------------
def test_urls_parse():
    p = parse_url("azure://jacs/prod/docs?account=myacct&endpoint=http://127.0.0.1:10000/myacct")
    assert p.scheme == "azure" and p["container"] == "jacs" and p["prefix"] == "prod/docs"
    assert p["options"] == {"account": "myacct", "endpoint": "http://127.0.0.1:10000/myacct"}
    assert parse_url("az://jacs")["prefix"] == "" and parse_url("AZ://jacs").scheme == "azure"
    with pytest.raises(StorageError, match="needs a container"):
        parse_url("azure:///prefix")
    with pytest.raises(StorageError, match="Unknown Azure option 'region'"):
        parse_url("azure://jacs?region=x")
    for secret in ("account_key", "sas_token", "connection_string"):
        with pytest.raises(StorageError, match="keys do not go in the URL"):
            parse_url(f"azure://jacs?{secret}=abc")
    with pytest.raises(NotSupported):
        parse_url("abfss://c@acct.dfs.core.windows.net/x")


def test_bad_names_and_no_credentials(no_env):
    from jacs_desktop.storage.azure import AzureStore
    from jacs_desktop.storage.opener import open_objects

    with pytest.raises(StorageError, match="not an Azure container name"):
        AzureStore("Upper_Case", account="acct", account_key=AZURITE_KEY)
    with pytest.raises(StorageError, match="not an Azure storage account name"):
        AzureStore("jacs", account="No-Such", account_key=AZURITE_KEY)
    with pytest.raises(AccessDenied, match=f"No Azure credentials: set {ENV}"):
        open_objects("azure://jacs/prefix")
    with pytest.raises(AccessDenied, match=r"No key for the Azure storage account 'acct'.*OS keyring"):
        open_objects("azure://jacs/prefix?account=acct")
    with pytest.raises(StorageError, match="Cannot set up the Azure client: Connection string is either blank or"):
        AzureStore("jacs", connection_string="not a connection string")


# -- credentials ---------------------------------------------------------------------------
def test_connection_string_from_the_environment(azurite_endpoint, monkeypatch):
    from jacs_desktop.storage.opener import open_objects

    monkeypatch.setenv(ENV, connection_string(azurite_endpoint))
    c = _container()
    with open_objects(f"azure://{c}/some/prefix", create=True) as s:
        assert s.put_if_absent("documents/a:b.json", b"{}") is True
        assert s.put_if_absent("documents/a:b.json", b"{ }") is False
        assert s.url == f"azure://{c}/some/prefix/"[:-1]  # reopens it, and holds no secret
        assert AZURITE_KEY not in s.url
    with open_objects(f"az://{c}/some") as s:  # the same blobs under a shorter prefix
        assert [o.key for o in s.list()] == ["prefix/documents/a:b.json"]
        assert s.get("prefix/documents/a:b.json") == b"{}"


def test_saved_connection_key_from_the_secrets_store(azurite_endpoint, tmp_path, no_env):
    """A saved connection holds the account name as its access key; the key is kept by the
    secrets wrapper (here its session backend) and handed to the backend by the opener."""
    from jacs_desktop.storage.connections import Connections
    from jacs_desktop.storage.opener import open_objects
    from jacs_desktop.storage.secrets import Secrets, SessionSecrets

    secrets = Secrets("session", session=SessionSecrets())
    conns = Connections(tmp_path / "connections.json", secrets=secrets)
    c = _container()
    url = f"azure://{c}/jacs?account={AZURITE_ACCOUNT}&endpoint={azurite_endpoint}"
    conns.add("azurite", url, access_key=AZURITE_ACCOUNT, secret_key=AZURITE_KEY)
    assert AZURITE_KEY not in (tmp_path / "connections.json").read_text()
    assert secrets.get("connection:azurite:secret_key") == AZURITE_KEY
    with open_objects("profile:azurite", create=True, connections=conns) as s:
        s.put("x.json", b"1")
        assert s.get("x.json") == b"1" and s.stat("x.json").size == 1
        assert AZURITE_KEY not in s.url and f"account={AZURITE_ACCOUNT}" in s.url
    # the URL may leave the account out: the saved connection's access key names it
    conns.add("short", f"azure://{c}/jacs?endpoint={azurite_endpoint}", access_key=AZURITE_ACCOUNT,
              secret_key=AZURITE_KEY)
    with open_objects("profile:short", connections=conns) as s:
        assert s.get("x.json") == b"1"
    conns.add("other", f"azure://{c}/jacs?account=someoneelse&endpoint={azurite_endpoint}",
              access_key=AZURITE_ACCOUNT, secret_key=AZURITE_KEY)
    with pytest.raises(StorageError, match="names the Azure account 'someoneelse' but the saved connection"):
        open_objects("profile:other", connections=conns)


# -- errors in words ---------------------------------------------------------------------
def test_wrong_key_is_access_denied(azurite_endpoint, no_env):
    import base64

    from jacs_desktop.storage.azure import AzureStore

    wrong = base64.b64encode(b"not the key" * 6).decode()
    s = AzureStore(_container(), account=AZURITE_ACCOUNT, account_key=wrong, endpoint=azurite_endpoint)
    for op in (s.check, lambda: s.get("x"), lambda: list(s.list()), lambda: s.put("x", b"1")):
        with pytest.raises(AccessDenied, match=r"Azure refused access to .*Check the account name and key"):
            op()
    bad = AzureStore(_container(), account=AZURITE_ACCOUNT, account_key="not base64!", endpoint=azurite_endpoint)
    with pytest.raises(AccessDenied):
        bad.get("x")


def test_unreachable_endpoint(no_env):
    from jacs_desktop.storage.azure import AzureStore

    endpoint = f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}"  # nothing listens there
    s = AzureStore("jacs", account=AZURITE_ACCOUNT, account_key=AZURITE_KEY, endpoint=endpoint, max_attempts=2,
                   connect_timeout=2)
    with pytest.raises(Unreachable, match=f"Cannot reach the Azure Blob endpoint {endpoint}"):
        s.get("x")
    with pytest.raises(Unreachable):
        list(s.list())


def test_missing_container(azurite_endpoint):
    from jacs_desktop.storage.azure import AzureStore
    from jacs_desktop.storage.store import Store

    c = _container()
    s = AzureStore(c, connection_string=connection_string(azurite_endpoint))
    msg = f"The Azure container '{c}' does not exist"
    for op in (s.check, lambda: list(s.list()), lambda: s.get("x"), lambda: s.stat("x"), lambda: s.put("x", b"1"),
               lambda: s.delete("x")):
        with pytest.raises(NotFound, match=msg):
            op()
    with pytest.raises(NotFound, match=msg):
        Store(s).refs()
    s.ensure_container()
    s.ensure_container()  # already there: fine
    assert s.stat("x") is None
    s.delete("x")  # absent is fine
    with pytest.raises(NotFound, match=r"^x not found$"):
        s.get("x")


def test_get_limited_refuses_before_reading(azurite_endpoint):
    from jacs_desktop.storage.azure import AzureStore

    s = AzureStore(_container(), connection_string=connection_string(azurite_endpoint), create_container=True)
    s.put("big.bin", b"x" * 5000)
    s.put("empty.bin", b"")
    with pytest.raises(Refused, match=re.escape("big.bin is 4.9 KiB, over the 1000 bytes limit")):
        s.get_limited("big.bin", 1000)
    assert s.get_limited("big.bin", 5000) == b"x" * 5000
    assert s.get_limited("empty.bin", 10) == b""
    with pytest.raises(NotFound):
        s.get_limited("absent.bin", 10)


def test_create_whose_answer_was_lost_is_still_ours(azurite_endpoint, monkeypatch):
    """The first conditional PUT creates the blob but its answer is lost; the retry meets
    409 BlobAlreadyExists, and the store sees the blob holds its bytes: created, True."""
    import http.client

    from jacs_desktop.storage.azure import AzureStore

    s = AzureStore(_container(), connection_string=connection_string(azurite_endpoint), create_container=True)
    real = http.client.HTTPConnection.getresponse
    lost: list = []

    def lose_first_put_answer(conn):
        resp = real(conn)
        if conn._method == "PUT" and not lost:
            lost.append(resp.status)
            conn.close()
            raise ConnectionResetError("the answer was lost")
        return resp

    monkeypatch.setattr(http.client.HTTPConnection, "getresponse", lose_first_put_answer)
    assert s.put_if_absent("documents/lost:v1.json", b"mine") is True
    assert lost == [201]
    monkeypatch.undo()
    assert s.get("documents/lost:v1.json") == b"mine"
    assert s.put_if_absent("documents/lost:v1.json", b"other") is False  # no retry: plainly not ours


def test_written_md5_and_replace_if_match(azurite_endpoint):
    import hashlib

    from jacs_desktop.storage.azure import AzureStore

    s = AzureStore(_container(), connection_string=connection_string(azurite_endpoint), create_container=True)
    assert s.put_if_absent("documents/a:v.json", b"") is True  # an empty upload: damage to repair
    assert s.written_etag("documents/a:v.json") == hashlib.md5(b"").hexdigest()
    s.put("documents/b:v.json", b"{}")
    assert s.written_etag("documents/b:v.json") == hashlib.md5(b"{}").hexdigest()
    etag = s.stat("documents/a:v.json").etag
    s.put("documents/a:v.json", b"x")  # changed meanwhile: the judged ETag no longer holds
    assert s.replace_if_match("documents/a:v.json", b'{"ok": 1}', etag) is False
    assert s.get("documents/a:v.json") == b"x"
    assert s.replace_if_match("documents/a:v.json", b'{"ok": 1}', s.stat("documents/a:v.json").etag) is True
    assert s.get("documents/a:v.json") == b'{"ok": 1}'
    assert s.written_etag("documents/a:v.json") == hashlib.md5(b'{"ok": 1}').hexdigest()
    assert s.replace_if_match("documents/gone:v.json", b"{}", etag) is False  # went away: not created


# -- the CLI ----------------------------------------------------------------------------
def _cli_exe() -> list[str]:
    exe = Path(sys.executable).with_name("jacs-desktop-cli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jacs_desktop.cli"]


def _cli(*args, env_extra=None, home=None, prefix=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JACS_", "AZURE_"))}
    env.update(env_extra or {})
    return subprocess.run([*prefix, *_cli_exe(), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=REPO, stdin=subprocess.DEVNULL, timeout=300)


def _upload_fixture(endpoint: str) -> str:
    from jacs_desktop.storage.azure import AzureStore

    c = _container()
    with AzureStore(c, "stores/fixture", connection_string=connection_string(endpoint), create_container=True) as s:
        for p in sorted(FIXTURE.rglob("*")):
            if p.is_file():
                s.put(p.relative_to(FIXTURE).as_posix(), p.read_bytes())
    return c


def test_cli_verify_azure_store(azurite_endpoint, tmp_path):
    c = _upload_fixture(azurite_endpoint)
    local = _cli("verify", FIXTURE, "--json", env_extra={"JACS_DESKTOP_CONFIG_DIR": str(tmp_path)})
    assert local.returncode == 0, local.stderr
    p = _cli("verify", f"azure://{c}/stores/fixture", "--json",
             env_extra={ENV: connection_string(azurite_endpoint), "JACS_DESKTOP_CONFIG_DIR": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    got, want = json.loads(p.stdout), json.loads(local.stdout)
    got["summary"].pop("seconds", None), want["summary"].pop("seconds", None)
    assert got["summary"] == want["summary"] and got["summary"]["valid"] == got["summary"]["total"] == 17
    assert sorted((r["kind"], r["id"], r["version"], r["status"]) for r in got["results"]) == sorted(
        (r["kind"], r["id"], r["version"], r["status"]) for r in want["results"])
    # without credentials: one sentence, no traceback
    p = _cli("verify", f"azure://{c}/stores/fixture", env_extra={"JACS_DESKTOP_CONFIG_DIR": str(tmp_path)})
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert f"No Azure credentials: set {ENV}" in p.stderr


def test_cli_migrate_to_azure_and_verify(azurite_endpoint, tmp_path):
    c = _container()
    env = {ENV: connection_string(azurite_endpoint), "JACS_DESKTOP_CONFIG_DIR": str(tmp_path)}
    p = _cli("migrate", FIXTURE, f"azure://{c}/migrated", env_extra=env)  # creates the container
    assert p.returncode == 0, p.stdout + p.stderr
    p = _cli("verify", f"azure://{c}/migrated", "--json", env_extra=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["summary"]["valid"] == 17


def test_cli_saved_connection_with_the_key_in_a_real_keyring(azurite_endpoint, tmp_path):
    """``connections add … --access-key ACCOUNT --secret-key-stdin`` puts the account key in a real
    Secret Service (gnome-keyring); ``verify profile:NAME`` reads it back from there."""
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run packaging/install-system-deps.sh (gnome-keyring dbus-x11)")
    c = _upload_fixture(azurite_endpoint)
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "session.sh"
    script.write_text(
        "set -e\n"
        'eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets | sed \'s/^/export /\')"\n'
        'printf \'%s\\n\' "$AZ_KEY" | "$@" connections add azurite "$AZ_URL" --access-key "$AZ_ACCOUNT" '
        "--secret-key-stdin\n"
        '"$@" verify profile:azurite --json\n')
    env = {"HOME": str(home), "JACS_DESKTOP_CONFIG_DIR": str(tmp_path / "config"), "JACS_DESKTOP_SECRETS": "keyring",
           "AZ_KEY": AZURITE_KEY, "AZ_ACCOUNT": AZURITE_ACCOUNT,
           "AZ_URL": f"azure://{c}/stores/fixture?account={AZURITE_ACCOUNT}&endpoint={azurite_endpoint}"}
    full = {k: v for k, v in os.environ.items() if not k.startswith(("JACS_", "AZURE_", "DBUS_", "GNOME_KEYRING"))}
    full.update(env)
    p = subprocess.run(["dbus-run-session", "--", "bash", str(script), *_cli_exe()], capture_output=True, text=True,
                       env=full, cwd=REPO, stdin=subprocess.DEVNULL, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout[p.stdout.index("{"):])
    assert report["summary"]["valid"] == report["summary"]["total"] == 17
    assert AZURITE_KEY not in (tmp_path / "config" / "connections.json").read_text()


# -- the azure extra missing ---------------------------------------------------------------
def test_missing_extra_is_a_sentence(monkeypatch):
    from jacs_desktop.storage.opener import open_objects

    for mod in ("azure", "azure.core", "azure.core.exceptions", "azure.storage", "azure.storage.blob"):
        monkeypatch.setitem(sys.modules, mod, None)  # import of it raises ImportError
    with pytest.raises(NotSupported, match=r"need the azure extra: pip install 'jacs-desktop\[azure\]'"):
        open_objects("azure://jacs/prefix?account=acct")


def test_cli_missing_extra(tmp_path):
    shim = tmp_path / "shim" / "azure"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("azure is not installed (test shim)")\n')
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "verify", "azure://jacs/prefix"],
                       capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL, timeout=120,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("JACS_")},
                            "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(REPO)]),
                            "JACS_DESKTOP_CONFIG_DIR": str(tmp_path)})
    assert p.returncode != 0
    assert "Traceback" not in p.stderr and "ImportError" not in p.stderr
    assert "Azure Blob stores need the azure extra: pip install 'jacs-desktop[azure]'" in p.stderr
