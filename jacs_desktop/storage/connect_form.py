"""The *Connect…* dialog's fields, without Qt: check them, build a store URL and its
secrets from them, read them back from a saved connection's URL, save them as one.

Every kind of store has its own fields (:data:`FIELDS`); a form is a plain mapping
field name → text (or a bool for check boxes, a choice name for choosers).

* :func:`validate` — the problems, each under the field it belongs to (field → sentence);
* :func:`build` — a :class:`ConnectSpec` (the URL, which never holds a secret, and the
  secrets to open it with) or :class:`FormInvalid` carrying the same problems;
* :func:`notes` — what the user should know that is not wrong (where credentials come
  from, an environment variable that wins over a field);
* :func:`fields_from_url` — a saved connection back into fields (its secret is not read);
* :func:`save_connection` — a spec under a name in the saved connections, its secret
  in the OS keyring (or for this session only).

The checks of single values are in :mod:`.connect_checks`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from . import connect_checks as ck
from .base import StorageError
from .connect_checks import AZURITE_ACCOUNT, AZURITE_KEY
from .connections import Connection, Connections
from .secrets import Secrets, SecretStore
from .urlparse import parse_url

__all__ = ["KINDS", "KIND_LABELS", "FIELDS", "GCS_CREDENTIALS", "AZURE_AUTH", "SSE_CHOICES", "ConnectSpec",
           "FormInvalid", "validate", "build", "notes", "fields_from_url", "save_connection", "missing_extra",
           "aws_profiles", "kind_of_url", "AZURITE_ACCOUNT", "AZURITE_KEY"]

KINDS = ("s3", "gs", "azure", "jsonl", "sqlite", "folder")
KIND_LABELS = {"s3": "S3 / S3-compatible", "gs": "Google Cloud Storage", "azure": "Azure Blob Storage",
               "jsonl": "JSONL file", "sqlite": "SQLite file", "folder": "Folder"}
#: the fields of each kind (what :func:`build` reads; others are ignored)
FIELDS: dict[str, tuple[str, ...]] = {
    "s3": ("endpoint", "bucket", "prefix", "region", "profile", "access_key", "secret_key", "sse", "path_style"),
    "gs": ("bucket", "prefix", "project", "endpoint", "credentials", "key_file"),
    "azure": ("container", "prefix", "auth", "account", "account_key", "connection_string", "endpoint"),
    "jsonl": ("path",),
    "sqlite": ("path",),
    "folder": ("path",),
}
#: Google credentials: Application Default Credentials, a service account key file, none
GCS_CREDENTIALS = ("adc", "key_file", "anonymous")
#: Azure: account name and key, a connection string, AZURE_STORAGE_CONNECTION_STRING as set
AZURE_AUTH = ("key", "connection_string", "environment")
SSE_CHOICES = ("", "AES256", "aws:kms")

_EXTRAS = {"gs": ("google.cloud.storage", "gcs", "Google Cloud Storage"),
           "azure": ("azure.storage.blob", "azure", "Azure Blob Storage")}


@dataclass(frozen=True)
class ConnectSpec:
    """What a filled-in form opens: *url* (never a secret in it) with *secrets*."""

    kind: str
    url: str
    #: handed to the opener with the URL (``access_key``/``secret_key``, or ``connection_string``)
    secrets: dict[str, str] = field(default_factory=dict)
    #: what a saved connection keeps: the access key (S3 key id, Azure account name) in the
    #: connections file, the secret key in the secrets store
    access_key: str | None = None
    secret_key: str | None = None
    #: None when the form can be saved as a named connection, else why not
    not_savable: str | None = None

    @property
    def where(self) -> str:
        """The store in words for the user: the URL up to its options."""
        return self.url.split("?", 1)[0]


class FormInvalid(StorageError):
    """The form has problems: *errors* maps each field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()) or "The form is not complete")


def _text(fields: Mapping[str, object], name: str) -> str:
    v = fields.get(name)
    return v.strip() if isinstance(v, str) else ""


def _flag(fields: Mapping[str, object], name: str) -> bool:
    v = fields.get(name)
    return v if isinstance(v, bool) else str(v or "").strip().lower() in ("1", "true", "yes")


def missing_extra(kind: str) -> str | None:
    """A sentence naming the extra to install when *kind*'s client library is missing, else None."""
    if kind not in _EXTRAS:
        return None
    module, extra, name = _EXTRAS[kind]
    try:
        found = importlib.util.find_spec(module) is not None
    except Exception:  # a parent package missing or broken, the module blocked: it cannot be imported
        found = False
    if found:
        return None
    return f"{name} needs the {extra} extra, which is not installed: pip install 'jacs-desktop[{extra}]'"


def aws_profiles() -> list[str]:
    """The AWS profiles boto3 would find (``~/.aws/config`` and ``~/.aws/credentials``, or the files
    ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` name); empty when none or unreadable."""
    try:
        import botocore.session

        names = botocore.session.Session().available_profiles
    except Exception:  # a damaged config file: boto3 will say so when the store is opened
        return []
    return sorted(str(n) for n in names)


# -- the forms -----------------------------------------------------------------------
def validate(kind: str, fields: Mapping[str, object]) -> dict[str, str]:
    """What is wrong with the form, field by field (empty: it can be built)."""
    if kind not in KINDS:
        return {"kind": f"Unknown kind of store {kind!r}"}
    errors: dict[str, str] = {}

    def put(name: str, problem: str | None) -> None:
        if problem and name not in errors:
            errors[name] = problem

    extra = missing_extra(kind)
    if extra:
        put("kind", extra)
    if kind in ("jsonl", "sqlite", "folder"):
        put("path", ck.check_file(_text(fields, "path"), kind))
        return errors
    put("prefix", ck.check_prefix(_text(fields, "prefix")))
    if kind == "s3":
        put("bucket", ck.check_s3_bucket(_text(fields, "bucket")))
        put("endpoint", ck.check_endpoint(_text(fields, "endpoint"), "endpoint"))
        region = _text(fields, "region")
        if region and not ck.REGION.match(region):
            put("region", "A region is lowercase letters, digits and hyphens (e.g. eu-west-1, or auto for R2)")
        profile = _text(fields, "profile")
        access, secret = _text(fields, "access_key"), str(fields.get("secret_key") or "")
        if profile:
            if any(ch.isspace() for ch in profile) or ck.CONTROL.search(profile):
                put("profile", "A profile name has no spaces")
            elif profile not in aws_profiles():
                put("profile", f"There is no AWS profile named {profile!r} (in ~/.aws/config or "
                               "~/.aws/credentials)")
            if access:
                put("access_key", "Give an AWS profile or an access key, not both")
        if access and not secret:
            put("secret_key", "The access key needs its secret key")
        if secret and not access:
            put("access_key", "The secret key needs its access key")
        if access and (any(ch.isspace() for ch in access) or ck.CONTROL.search(access)):
            put("access_key", "An access key has no spaces")
        if str(fields.get("sse") or "") not in SSE_CHOICES:
            put("sse", "Choose AES256, aws:kms or none")
    elif kind == "gs":
        put("bucket", ck.check_gs_bucket(_text(fields, "bucket")))
        put("endpoint", ck.check_endpoint(_text(fields, "endpoint"), "endpoint"))
        project = _text(fields, "project")
        if project and not ck.PROJECT.match(project):
            put("project", "A project id is letters, digits and hyphens (e.g. my-project-123)")
        creds = _text(fields, "credentials") or "adc"
        if creds not in GCS_CREDENTIALS:
            put("credentials", "Choose Application Default Credentials, a key file or anonymous")
        if creds == "key_file":
            put("key_file", ck.check_key_file(_text(fields, "key_file")))
    elif kind == "azure":
        container = _text(fields, "container")
        if not container:
            put("container", "A container is needed")
        elif "/" in container:
            put("container", "A container name has no '/': put what follows it under Prefix")
        elif not ck.AZ_CONTAINER.match(container):
            put("container", "A container name is 3 to 63 lowercase letters, digits and single hyphens, "
                             "starting with a letter or digit")
        put("endpoint", ck.check_endpoint(_text(fields, "endpoint"), "endpoint"))
        auth = _text(fields, "auth") or "key"
        if auth not in AZURE_AUTH:
            put("auth", "Choose an account key, a connection string or the environment variable")
        elif auth == "key":
            account = _text(fields, "account")
            if not account:
                put("account", "The storage account name is needed")
            elif not ck.AZ_ACCOUNT.match(account):
                put("account", "An account name is 3 to 24 lowercase letters and digits")
            key = _text(fields, "account_key")
            put("account_key", "The account key is needed" if not key else ck.check_azure_key(key))
        elif auth == "connection_string":
            cs = _text(fields, "connection_string")
            put("connection_string", "Paste the connection string" if not cs else ck.from_connection_string(cs)[1])
        elif not os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
            put("auth", "AZURE_STORAGE_CONNECTION_STRING is not set in this program's environment")
    return errors


def _query(pairs: list[tuple[str, str]]) -> str:
    return ("?" + urlencode(pairs, quote_via=quote, safe=":/")) if pairs else ""


def _object_url(scheme: str, bucket: str, prefix: str, pairs: list[tuple[str, str]]) -> str:
    prefix = prefix.strip().strip("/")
    return f"{scheme}://{bucket}" + (("/" + quote(prefix, safe="/")) if prefix else "") + _query(pairs)


def build(kind: str, fields: Mapping[str, object]) -> ConnectSpec:
    """The store URL and secrets the form names; :class:`FormInvalid` when :func:`validate` finds problems."""
    errors = validate(kind, fields)
    if errors:
        raise FormInvalid(errors)
    if kind in ("jsonl", "sqlite", "folder"):
        path = Path(os.path.expanduser(_text(fields, "path"))).absolute().as_posix()
        url = path if kind == "folder" else f"{kind}://" + quote(path, safe="/:~")
        spec = ConnectSpec(kind, url)
    elif kind == "s3":
        endpoint = _text(fields, "endpoint").rstrip("/")
        pairs = [(k, v) for k, v in (("endpoint_url", endpoint), ("region", _text(fields, "region")),
                                     ("profile", _text(fields, "profile")), ("sse", str(fields.get("sse") or "")))
                 if v]
        # not given: the backend's default (path-style on a custom endpoint, AWS's own choice without)
        path_style = None if fields.get("path_style") is None else _flag(fields, "path_style")
        if endpoint and path_style is False:
            pairs.append(("addressing_style", "virtual"))
        elif path_style and not endpoint:
            pairs.append(("addressing_style", "path"))
        access, secret = _text(fields, "access_key"), str(fields.get("secret_key") or "")
        spec = ConnectSpec(kind, _object_url("s3", _text(fields, "bucket"), _text(fields, "prefix"), pairs),
                           {"access_key": access, "secret_key": secret} if access else {},
                           access or None, secret if access else None)
    elif kind == "gs":
        creds = _text(fields, "credentials") or "adc"
        pairs = [(k, v) for k, v in (("endpoint_url", _text(fields, "endpoint").rstrip("/")),
                                     ("project", _text(fields, "project"))) if v]
        if creds == "key_file":
            pairs.append(("credentials_file",
                          Path(os.path.expanduser(_text(fields, "key_file"))).absolute().as_posix()))
        elif creds == "anonymous":
            pairs.append(("anonymous", "1"))
        spec = ConnectSpec(kind, _object_url("gs", _text(fields, "bucket"), _text(fields, "prefix"), pairs))
    else:
        spec = _build_azure(fields)
    parse_url(spec.url)  # the URL parses back (a programming error otherwise)
    return spec


def _build_azure(fields: Mapping[str, object]) -> ConnectSpec:
    auth = _text(fields, "auth") or "key"
    endpoint = _text(fields, "endpoint").rstrip("/")
    container, prefix = _text(fields, "container"), _text(fields, "prefix")
    if auth == "environment":
        pairs = [("endpoint", endpoint)] if endpoint else []
        return ConnectSpec("azure", _object_url("azure", container, prefix, pairs))
    if auth == "key":
        account, key = _text(fields, "account"), _text(fields, "account_key")
    else:
        cs = _text(fields, "connection_string")
        got, _ = ck.from_connection_string(cs)
        if not got.get("key"):  # a SAS: opened with the connection string itself, not savable
            pairs = [("endpoint", endpoint)] if endpoint else []
            return ConnectSpec("azure", _object_url("azure", container, prefix, pairs), {"connection_string": cs},
                               not_savable="A connection string with a shared access signature (SAS) cannot be "
                                           "saved: set AZURE_STORAGE_CONNECTION_STRING instead, or use the "
                                           "account key")
        account, key = got["account"], got["key"]
        endpoint = endpoint or got.get("endpoint", "")
    pairs = [("account", account)] + ([("endpoint", endpoint)] if endpoint else [])
    return ConnectSpec("azure", _object_url("azure", container, prefix, pairs),
                       {"access_key": account, "secret_key": key}, account, key)


def notes(kind: str, fields: Mapping[str, object]) -> dict[str, str]:
    """What the user should know about the form that is not a problem, field by field."""
    out: dict[str, str] = {}
    if kind == "s3":
        if not _text(fields, "access_key") and not _text(fields, "profile"):
            out["access_key"] = ("Empty: the credentials come from the AWS chain (AWS_ACCESS_KEY_ID, the "
                                 "default profile, SSO, an instance role)")
        if _text(fields, "profile"):
            out["profile"] = "boto3 reads this profile from ~/.aws (keys, SSO, role or credential_process)"
    elif kind == "gs":
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            out["endpoint"] = f"STORAGE_EMULATOR_HOST is set: requests go to {emulator}"
        if (_text(fields, "credentials") or "adc") == "adc":
            out["credentials"] = ("From GOOGLE_APPLICATION_CREDENTIALS or 'gcloud auth application-default "
                                  "login'; an emulator on this computer needs none")
    elif kind == "azure":
        auth = _text(fields, "auth") or "key"
        if auth == "environment" and os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
            account = ck.conn_settings(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get("ACCOUNTNAME")
            out["auth"] = "AZURE_STORAGE_CONNECTION_STRING is set" + (f" (account {account})" if account else "")
        if auth == "connection_string":
            out["connection_string"] = ("The account key in it is kept in the keyring when saved, never in the "
                                        "settings file")
        if not _text(fields, "endpoint"):
            out["endpoint"] = "Empty for Azure itself; e.g. http://127.0.0.1:10000/devstoreaccount1 for Azurite"
    return out


def kind_of_url(url: str) -> str:
    """The form kind of a store URL (``file`` → ``folder``); StorageError for others."""
    scheme = parse_url(url).scheme
    kind = {"file": "folder"}.get(scheme, scheme)
    if kind not in KINDS:
        raise StorageError(f"{scheme} stores have no connection form")
    return kind


def fields_from_url(url: str, access_key: str | None = None) -> tuple[str, dict[str, object]]:
    """The kind and fields a store URL (a saved connection's, with its access key) fills in;
    the secret is never read here (the form asks for it again, or keeps the saved one)."""
    p = parse_url(url)
    kind = kind_of_url(url)
    if kind in ("jsonl", "sqlite", "folder"):
        return kind, {"path": p["path"]}
    o: dict[str, str] = p["options"]
    if kind == "s3":
        endpoint = o.get("endpoint_url", "")
        style = o.get("addressing_style", "")
        return kind, {"endpoint": endpoint, "bucket": p["bucket"], "prefix": p["prefix"],
                      "region": o.get("region", ""), "profile": o.get("profile", ""),
                      "access_key": access_key or "", "secret_key": "", "sse": o.get("sse", ""),
                      "path_style": style == "path" or (bool(endpoint) and style != "virtual")}
    if kind == "gs":
        creds = "key_file" if o.get("credentials_file") else (
            "anonymous" if str(o.get("anonymous", "")).lower() in ("1", "true", "yes") else "adc")
        return kind, {"bucket": p["bucket"], "prefix": p["prefix"], "project": o.get("project", ""),
                      "endpoint": o.get("endpoint_url", ""), "credentials": creds,
                      "key_file": o.get("credentials_file", "")}
    account = o.get("account", "") or access_key or ""
    return kind, {"container": p["container"], "prefix": p["prefix"], "auth": "key" if account else "environment",
                  "account": account, "account_key": "", "connection_string": "",
                  "endpoint": o.get("endpoint", "")}


def save_connection(spec: ConnectSpec, name: str, *, remember: bool, connections: Connections | None = None,
                    secrets: SecretStore | None = None) -> Connection:
    """Save *spec* as the connection *name* (replacing one of that name). Its secret key goes to the
    OS keyring when *remember* (refused with the reason when there is no secure one), else it is
    kept for this session only; *secrets* overrides that choice (tests)."""
    if spec.not_savable:
        raise StorageError(spec.not_savable)
    if not name.strip():
        raise StorageError("A connection needs a name")
    store: SecretStore = secrets if secrets is not None else Secrets("keyring" if remember else "session")
    conns = connections if connections is not None else Connections(secrets=store)
    if conns.secrets is None:
        conns.secrets = store
    old: Connection | None = None
    with contextlib.suppress(StorageError):
        old = conns.get(name.strip())
    saved = conns.add(name.strip(), spec.url, access_key=spec.access_key, secret_key=spec.secret_key, replace=True)
    if old is not None and old.access_key and not spec.secret_key:  # the old secret would outlive its connection
        with contextlib.suppress(StorageError):
            store.delete(old.secret_name())
    return saved
