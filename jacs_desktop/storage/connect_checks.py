"""Checks of single fields of the *Connect…* dialog's forms (see :mod:`.connect_form`): each
returns what is wrong with a value, in a sentence, or None; and the reading of an Azure
connection string. No I/O but looking at the files a path field names."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from .base import UnsafeName, validate_key

__all__ = ["check_endpoint", "check_prefix", "check_s3_bucket", "check_gs_bucket", "check_file", "check_key_file",
           "check_azure_key", "conn_settings", "from_connection_string", "CONTROL", "S3_BUCKET", "GS_BUCKET",
           "AZ_CONTAINER", "AZ_ACCOUNT", "REGION", "PROJECT", "AZURITE_ACCOUNT", "AZURITE_KEY"]

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
GS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
AZ_CONTAINER = re.compile(r"^(?:[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}|\$root|\$web)$")
AZ_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,62}$")
AZURE_DEFAULT_SUFFIX = "core.windows.net"

#: Azurite's well-known development account (public, the same in every Azurite)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def check_endpoint(value: str, what: str) -> str | None:
    if not value:
        return None
    if any(ch.isspace() for ch in value) or CONTROL.search(value):
        return f"The {what} cannot contain spaces"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return f"The {what} must start with http:// or https:// (e.g. http://127.0.0.1:9000)"
    if not parts.hostname:
        return f"The {what} needs a host name (e.g. http://127.0.0.1:9000)"
    if parts.query or parts.fragment:
        return f"The {what} cannot have a ? or # part"
    try:
        _ = parts.port
    except ValueError:
        return f"The port of the {what} is not a number from 1 to 65535"
    return None


def check_prefix(value: str) -> str | None:
    value = value.strip("/")
    if not value:
        return None
    try:
        validate_key(value)
    except UnsafeName as exc:
        return str(exc).replace("object name", "prefix")
    return None


def check_s3_bucket(value: str) -> str | None:
    if not value:
        return "A bucket is needed"
    if "/" in value:
        return "A bucket name has no '/': put what follows it under Prefix"
    if value != value.lower():
        return "S3 bucket names are lowercase"
    if not S3_BUCKET.match(value):
        return "A bucket name is 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending " \
               "with a letter or digit"
    return None


def check_gs_bucket(value: str) -> str | None:
    if not value:
        return "A bucket is needed"
    if "/" in value:
        return "A bucket name has no '/': put what follows it under Prefix"
    if value != value.lower():
        return "Google Cloud Storage bucket names are lowercase"
    if not GS_BUCKET.match(value) or ("." not in value and len(value) > 63):
        return "A bucket name is 3 to 63 lowercase letters, digits, hyphens, underscores or dots, starting " \
               "and ending with a letter or digit"
    return None


def check_file(value: str, kind: str) -> str | None:
    what = {"jsonl": "JSONL file", "sqlite": "SQLite file", "folder": "folder"}[kind]
    if not value:
        return f"Choose the {what}"
    if CONTROL.search(value):
        return "The path contains control characters"
    p = Path(os.path.expanduser(value))
    if kind == "folder":
        if p.is_file():
            return f"{p} is a file, not a folder"
        if not p.is_dir():
            return f"There is no folder {p}"
        return None
    if p.is_dir():
        return f"{p} is a folder, not a {what}"
    if not p.exists():
        return f"There is no file {p}"
    return None


def conn_settings(conn_str: str) -> dict[str, str]:
    """The ``Key=Value;…`` pairs of an Azure connection string, keys upper-cased (as the SDK reads them)."""
    out: dict[str, str] = {}
    for part in conn_str.strip().rstrip(";").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().upper()] = v.strip()
    return out


def check_azure_key(value: str) -> str | None:
    try:
        if not base64.b64decode(value, validate=True):
            raise ValueError
    except (binascii.Error, ValueError):
        return "An account key is the base64 text the Azure portal shows (Access keys)"
    return None


def from_connection_string(conn_str: str) -> tuple[dict[str, str], str | None]:
    """(account, key, endpoint) read from a connection string, and the problem with it (or None).
    Without an account key (a SAS) the dict holds only what is there."""
    s = conn_settings(conn_str)
    if not s:
        return {}, "This is not a connection string (it is Key=Value pairs separated by ';')"
    if s.get("USEDEVELOPMENTSTORAGE", "").lower() == "true":
        proxy = s.get("DEVELOPMENTSTORAGEPROXYURI", "http://127.0.0.1").rstrip("/")
        return {"account": AZURITE_ACCOUNT, "key": AZURITE_KEY,
                "endpoint": f"{proxy}:10000/{AZURITE_ACCOUNT}"}, None
    account = s.get("ACCOUNTNAME", "")
    key = s.get("ACCOUNTKEY", "")
    endpoint = s.get("BLOBENDPOINT", "").rstrip("/")
    if not endpoint and account:
        suffix = s.get("ENDPOINTSUFFIX", AZURE_DEFAULT_SUFFIX)
        if suffix != AZURE_DEFAULT_SUFFIX or s.get("DEFAULTENDPOINTSPROTOCOL", "https").lower() != "https":
            endpoint = f"{s.get('DEFAULTENDPOINTSPROTOCOL', 'https').lower()}://{account}.blob.{suffix}"
    out = {k: v for k, v in (("account", account), ("key", key), ("endpoint", endpoint)) if v}
    if key:
        if not account:
            return out, "The connection string has an AccountKey but no AccountName"
        if not AZ_ACCOUNT.match(account):
            return out, f"{account!r} in the connection string is not an Azure storage account name"
        return out, check_azure_key(key)
    if "SHAREDACCESSSIGNATURE" in s:
        if not endpoint:
            return out, "A connection string with a SharedAccessSignature needs a BlobEndpoint"
        return out, None
    return out, "The connection string has neither an AccountKey nor a SharedAccessSignature"


def check_key_file(value: str) -> str | None:
    if not value:
        return "Choose the service account key file (JSON)"
    p = Path(os.path.expanduser(value))
    if not p.is_file():
        return f"There is no file {p}"
    try:
        doc = json.loads(p.read_bytes()[: 1 << 20])
    except (OSError, ValueError):
        return f"{p.name} is not a JSON key file"
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind != "service_account":
        return f"{p.name} is not a service account key (its type is {kind or 'missing'})"
    return None
