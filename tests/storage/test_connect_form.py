"""The Connect dialog's rules without Qt (storage/connect_form.py): fields → URL and secrets,
each problem under its field, the URL back into fields, saving as a named connection."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from jacs_desktop.storage import connect_form as cf
from jacs_desktop.storage.connections import Connections
from jacs_desktop.storage.secrets import Secrets, SessionSecrets
from jacs_desktop.storage.urlparse import parse_url

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture
def aws_config(tmp_path, monkeypatch):
    """A real AWS config file with two profiles, as boto3 reads it."""
    cfg = tmp_path / "aws-config"
    cfg.write_text("[default]\nregion = eu-west-1\n[profile sso-dev]\nsso_session = corp\nregion = us-east-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    return cfg


def test_s3_fields_make_the_url_and_keep_the_secret_out_of_it():
    spec = cf.build("s3", {"endpoint": "http://127.0.0.1:9000/", "bucket": "jacs", "prefix": "/prod/eu/",
                           "region": "auto", "access_key": "AKID", "secret_key": "s3cr3t&=?", "sse": "AES256",
                           "path_style": True})
    assert spec.url == "s3://jacs/prod/eu?endpoint_url=http://127.0.0.1:9000&region=auto&sse=AES256"
    assert "s3cr3t" not in spec.url and spec.secrets == {"access_key": "AKID", "secret_key": "s3cr3t&=?"}
    assert (spec.access_key, spec.secret_key, spec.not_savable) == ("AKID", "s3cr3t&=?", None)
    p = parse_url(spec.url)
    assert (p["bucket"], p["prefix"], p["options"]["endpoint_url"]) == ("jacs", "prod/eu", "http://127.0.0.1:9000")
    # a custom endpoint is path-style by default; unticked, the URL says virtual-hosted
    virtual = cf.build("s3", {"endpoint": "https://s3.example.com", "bucket": "jacs", "path_style": False})
    assert parse_url(virtual.url)["options"]["addressing_style"] == "virtual"
    assert "addressing_style" not in cf.build("s3", {"endpoint": "https://s3.example.com", "bucket": "jacs"}).url
    # AWS itself: no endpoint, nothing but the bucket; ticking path-style says so
    assert cf.build("s3", {"bucket": "jacs"}).url == "s3://jacs"
    assert cf.build("s3", {"bucket": "jacs", "path_style": True}).url == "s3://jacs?addressing_style=path"


def test_s3_profile_goes_to_boto3_through_the_url(aws_config):
    assert cf.aws_profiles() == ["default", "sso-dev"]
    spec = cf.build("s3", {"bucket": "jacs", "profile": "sso-dev"})
    assert parse_url(spec.url)["options"]["profile"] == "sso-dev" and spec.secrets == {}
    errors = cf.validate("s3", {"bucket": "jacs", "profile": "nope"})
    assert "no AWS profile named 'nope'" in errors["profile"]
    errors = cf.validate("s3", {"bucket": "jacs", "profile": "sso-dev", "access_key": "AK", "secret_key": "x"})
    assert "not both" in errors["access_key"]


def test_s3_problems_are_under_their_fields():
    errors = cf.validate("s3", {"bucket": "My_Bucket/sub", "endpoint": "127.0.0.1:9000", "region": "EU West",
                                "access_key": "AK", "prefix": "a/../b"})
    assert set(errors) == {"bucket", "endpoint", "region", "secret_key", "prefix"}
    assert "'/'" in errors["bucket"] and "http://" in errors["endpoint"] and "secret key" in errors["secret_key"]
    assert "'..'" in errors["prefix"]
    assert cf.validate("s3", {"bucket": "ab"})["bucket"].startswith("A bucket name is 3 to 63")
    assert cf.validate("s3", {"bucket": "Jacs"})["bucket"] == "S3 bucket names are lowercase"
    assert cf.validate("s3", {"bucket": "jacs", "secret_key": "x"})["access_key"] == \
        "The secret key needs its access key"
    assert cf.validate("s3", {"bucket": "jacs", "endpoint": "http://h:99999"})["endpoint"].startswith("The port")
    assert cf.validate("s3", {}) == {"bucket": "A bucket is needed"}
    with pytest.raises(cf.FormInvalid) as info:
        cf.build("s3", {"bucket": ""})
    assert info.value.errors == {"bucket": "A bucket is needed"}


def test_gcs_credentials_choices(tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "client_email": "x@y"}))
    spec = cf.build("gs", {"bucket": "jacs-eu", "prefix": "p", "project": "my-project-1",
                           "endpoint": "http://127.0.0.1:4443", "credentials": "key_file", "key_file": str(key)})
    q = parse_qs(urlsplit(spec.url).query)
    assert q == {"endpoint_url": ["http://127.0.0.1:4443"], "project": ["my-project-1"],
                 "credentials_file": [key.as_posix()]}
    assert parse_url(spec.url)["options"]["credentials_file"] == key.as_posix()
    assert cf.build("gs", {"bucket": "jacs", "credentials": "anonymous"}).url == "gs://jacs?anonymous=1"
    assert cf.build("gs", {"bucket": "jacs", "credentials": "adc"}).url == "gs://jacs"
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"type": "authorized_user"}))
    assert "not a service account key (its type is authorized_user)" in cf.validate(
        "gs", {"bucket": "jacs", "credentials": "key_file", "key_file": str(user)})["key_file"]
    assert "There is no file" in cf.validate(
        "gs", {"bucket": "jacs", "credentials": "key_file", "key_file": str(tmp_path / "gone.json")})["key_file"]
    assert cf.validate("gs", {"bucket": "jacs", "credentials": "key_file"})["key_file"].startswith("Choose")


def test_gcs_emulator_variable_is_told(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")
    assert "requests go to http://127.0.0.1:4443" in cf.notes("gs", {"bucket": "jacs"})["endpoint"]
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert "endpoint" not in cf.notes("gs", {"bucket": "jacs"})


def test_azure_key_connection_string_and_environment(monkeypatch):
    spec = cf.build("azure", {"container": "jacs", "prefix": "stores/a", "auth": "key", "account": "devstoreaccount1",
                              "account_key": KEY, "endpoint": "http://127.0.0.1:10000/devstoreaccount1"})
    assert spec.url == "azure://jacs/stores/a?account=devstoreaccount1&endpoint=http://127.0.0.1:10000/devstoreaccount1"
    assert spec.secrets == {"access_key": "devstoreaccount1", "secret_key": KEY} and KEY not in spec.url
    # a connection string with a key becomes the same account + key (so it can be saved, key to the keyring)
    cs = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};" \
         "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    from_cs = cf.build("azure", {"container": "jacs", "prefix": "stores/a", "auth": "connection_string",
                                 "connection_string": cs})
    assert (from_cs.url, from_cs.secrets) == (spec.url, spec.secrets)
    dev = cf.build("azure", {"container": "jacs", "auth": "connection_string",
                             "connection_string": "UseDevelopmentStorage=true"})
    assert dev.url == "azure://jacs?account=devstoreaccount1&endpoint=http://127.0.0.1:10000/devstoreaccount1"
    cloud = cf.build("azure", {"container": "jacs", "auth": "connection_string",
                               "connection_string": f"AccountName=prodacct;AccountKey={KEY};EndpointSuffix="
                                                    "core.windows.net"})
    assert cloud.url == "azure://jacs?account=prodacct"
    # a SAS connection string opens the store but cannot be saved (it has no key to keep apart)
    sas = cf.build("azure", {"container": "jacs", "auth": "connection_string",
                             "connection_string": "BlobEndpoint=https://a.blob.core.windows.net;"
                                                  "SharedAccessSignature=sv=2022&sig=abc"})
    assert sas.secrets["connection_string"].startswith("BlobEndpoint") and "sig=" not in sas.url
    assert "cannot be saved" in sas.not_savable
    errors = cf.validate("azure", {"container": "Jacs_1", "auth": "key", "account": "Bad-Name", "account_key": "!!"})
    assert set(errors) == {"container", "account", "account_key"}
    assert "base64" in errors["account_key"]
    assert "neither an AccountKey" in cf.validate("azure", {"container": "jacs", "auth": "connection_string",
                                                            "connection_string": "AccountName=x"})["connection_string"]
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    assert "not set" in cf.validate("azure", {"container": "jacs", "auth": "environment"})["auth"]
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", cs)
    assert cf.build("azure", {"container": "jacs", "auth": "environment"}).url == "azure://jacs"
    assert "(account devstoreaccount1)" in cf.notes("azure", {"container": "jacs", "auth": "environment"})["auth"]


def test_file_kinds(tmp_path):
    weird = tmp_path / "a dir %41 #x"
    weird.mkdir()
    f = weird / "store.jsonl"
    f.write_text("")
    spec = cf.build("jsonl", {"path": str(f)})
    assert spec.url.startswith("jsonl:///") and parse_url(spec.url)["path"] == f.as_posix()
    db = weird / "s.sqlite3"
    db.write_bytes(b"")
    assert parse_url(cf.build("sqlite", {"path": str(db)}).url)["path"] == db.as_posix()
    assert cf.build("folder", {"path": str(weird)}).url == weird.as_posix()
    assert parse_url(cf.build("folder", {"path": str(weird)}).url)["path"] == weird.as_posix()
    assert "is a folder, not a JSONL file" in cf.validate("jsonl", {"path": str(weird)})["path"]
    assert "There is no file" in cf.validate("sqlite", {"path": str(weird / "nope.db")})["path"]
    assert "is a file, not a folder" in cf.validate("folder", {"path": str(f)})["path"]
    assert cf.validate("folder", {"path": ""})["path"] == "Choose the folder"


@pytest.mark.parametrize("kind,fields", [
    ("s3", {"endpoint": "http://127.0.0.1:9000", "bucket": "jacs", "prefix": "a/b", "region": "auto",
            "profile": "", "access_key": "AK", "secret_key": "", "sse": "aws:kms", "path_style": False}),
    ("s3", {"endpoint": "", "bucket": "jacs", "prefix": "", "region": "", "profile": "", "access_key": "",
            "secret_key": "", "sse": "", "path_style": False}),
    ("gs", {"bucket": "jacs", "prefix": "x y", "project": "p-1", "endpoint": "http://127.0.0.1:4443",
            "credentials": "anonymous", "key_file": ""}),
    ("azure", {"container": "jacs", "prefix": "p", "auth": "key", "account": "devstoreaccount1", "account_key": "",
               "connection_string": "", "endpoint": "http://127.0.0.1:10000/devstoreaccount1"}),
])
def test_url_back_into_fields(kind, fields):
    """A saved connection fills the form it came from (its secret is asked again)."""
    filled = dict(fields, secret_key="s", account_key=KEY) if fields.get("access_key") or kind == "azure" else fields
    filled = {k: v for k, v in filled.items() if k in cf.FIELDS[kind]}
    spec = cf.build(kind, filled)
    got_kind, got = cf.fields_from_url(spec.url, spec.access_key)
    assert got_kind == kind and got == fields


def test_missing_extra_is_named(monkeypatch):
    import sys

    assert cf.missing_extra("gs") is None and cf.missing_extra("s3") is None
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)  # as if the gcs extra were not installed
    assert cf.missing_extra("gs") == ("Google Cloud Storage needs the gcs extra, which is not installed: "
                                      "pip install 'jacs-desktop[gcs]'")
    assert "pip install 'jacs-desktop[gcs]'" in cf.validate("gs", {"bucket": "jacs"})["kind"]


@pytest.mark.parametrize("kind", cf.KINDS)
def test_every_kind_saves_as_a_named_connection(kind, tmp_path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account"}))
    (tmp_path / "f.jsonl").write_text("")
    (tmp_path / "f.sqlite3").write_bytes(b"")
    fields = {"s3": {"bucket": "jacs", "endpoint": "http://127.0.0.1:9000", "access_key": "AK", "secret_key": "SK"},
              "gs": {"bucket": "jacs", "credentials": "key_file", "key_file": str(key)},
              "azure": {"container": "jacs", "auth": "key", "account": "acct1", "account_key": KEY},
              "jsonl": {"path": str(tmp_path / "f.jsonl")}, "sqlite": {"path": str(tmp_path / "f.sqlite3")},
              "folder": {"path": str(tmp_path)}}[kind]
    spec = cf.build(kind, fields)
    session = SessionSecrets()
    conns_file = tmp_path / "connections.json"
    cf.save_connection(spec, "mine", remember=False, connections=Connections(conns_file),
                       secrets=Secrets("session", session=session))
    again = Connections(conns_file, secrets=Secrets("session", session=session)).get("mine")
    assert again.url == spec.url and again.access_key == spec.access_key
    assert again.resolve_secrets() == spec.secrets
    text = conns_file.read_text()
    for secret in ("SK", KEY):
        assert secret not in text


def test_saved_secret_in_the_encrypted_file_and_replacing_forgets_the_old_one(tmp_path):
    """Remembered for real (the encrypted secrets file, a persistent backend), and a connection saved
    again without a key does not leave the old key behind."""
    store = Secrets("file", file_path=tmp_path / "secrets.enc.json", master_password="master pw 123")
    conns_file = tmp_path / "connections.json"
    spec = cf.build("s3", {"bucket": "jacs", "access_key": "AK", "secret_key": "the-secret"})
    cf.save_connection(spec, "prod", remember=True, connections=Connections(conns_file), secrets=store)
    reopened = Secrets("file", file_path=tmp_path / "secrets.enc.json", master_password="master pw 123")
    assert Connections(conns_file, secrets=reopened).get("prod").resolve_secrets()["secret_key"] == "the-secret"
    assert "the-secret" not in (tmp_path / "secrets.enc.json").read_text()
    cf.save_connection(cf.build("s3", {"bucket": "jacs"}), "prod", remember=True,
                       connections=Connections(conns_file), secrets=store)
    assert store.get("connection:prod:secret_key") is None
    with pytest.raises(Exception, match="cannot be saved"):
        cf.save_connection(cf.ConnectSpec("azure", "azure://x", not_savable="SAS cannot be saved"), "n",
                           remember=False, connections=Connections(conns_file), secrets=store)
