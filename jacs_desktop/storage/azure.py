"""``azure://CONTAINER/PREFIX`` — Azure Blob Storage (and Azurite, its emulator).

Through Microsoft's ``azure-storage-blob`` (the ``azure`` extra:
``pip install 'jacs-desktop[azure]'``), imported when an Azure store is first made:

* credentials and endpoint from ``AZURE_STORAGE_CONNECTION_STRING``, read as
  Azure's SDKs and CLI read it (``AccountName``/``AccountKey``/``BlobEndpoint``/
  ``SharedAccessSignature``/``EndpointSuffix``, ``UseDevelopmentStorage=true``);
* or ``?account=NAME`` (and ``&endpoint=URL`` for Azurite or a sovereign cloud)
  with the account key from a saved connection, whose key the secrets wrapper
  keeps (the OS keyring) exactly as for S3: the connection's access key is the
  account name, its secret key is the account key;
* conditional create with ``If-None-Match: *`` (``upload_blob(overwrite=False)``):
  Blob Storage answers 409 ``BlobAlreadyExists``, so versions stay immutable;
* a single ``Put Blob`` up to 64 MiB, blocks committed by one ``Put Block List``
  above: readers see the old or the new bytes, and a cut upload leaves nothing;
* exponential retries (4 attempts), connect and read timeouts;
* errors as the typed storage errors of :mod:`.base`, in sentences.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import random
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .base import (
    AccessDenied,
    NotFound,
    NotSupported,
    ObjectInfo,
    ObjectStore,
    Refused,
    StorageError,
    Unreachable,
    human_size,
    validate_key,
)

__all__ = ["AzureStore", "CONNECTION_STRING_ENV", "EXTRA_HINT"]

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
EXTRA_HINT = "Azure Blob stores need the azure extra: pip install 'jacs-desktop[azure]'"

#: Azure's rule for container names (``$root`` and ``$web`` are the special ones)
_CONTAINER_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}|\$root|\$web)$")
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_SINGLE_PUT = 64 << 20


if TYPE_CHECKING:
    from azure.core.pipeline.transport import RequestsTransport


def _import_sdk() -> tuple[Any, Any]:
    """azure.storage.blob and azure.core.exceptions (kept as Any: the client's calls are
    typed where their results come back), or NotSupported naming the extra."""
    try:
        from azure.core import exceptions as az_exc
        from azure.storage import blob as az_blob
    except ImportError:
        raise NotSupported(EXTRA_HINT) from None
    return az_blob, az_exc


def _conn_settings(conn_str: str) -> dict[str, str]:
    """The ``Key=Value;…`` pairs of a connection string, keys upper-cased (as the SDK reads them)."""
    out: dict[str, str] = {}
    for part in conn_str.strip().rstrip(";").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().upper()] = v.strip()
    return out


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class AzureStore(ObjectStore):
    """Options (all optional but the container): ``account``, ``endpoint``,
    ``account_key`` (or ``secret_key``, with ``access_key`` as the account name: what a
    saved connection hands over), ``connection_string`` (default: the
    ``AZURE_STORAGE_CONNECTION_STRING`` environment variable), ``create_container``,
    ``connect_timeout``, ``read_timeout``, ``max_attempts``."""

    def __init__(self, container: str, prefix: str = "", **options: Any):
        az_blob, self._exc = _import_sdk()
        if not container:
            raise StorageError("An Azure URL needs a container: azure://container/prefix")
        if not _CONTAINER_RE.match(container):
            raise StorageError(f"{container!r} is not an Azure container name: 3 to 63 lowercase letters, "
                               "digits and single hyphens, starting with a letter or digit")
        self.container = container
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        account = (options.get("account") or "").strip() or None
        given = (options.get("access_key") or "").strip() or None
        if account and given and given != account:
            raise StorageError(f"The URL names the Azure account {account!r} but the saved connection "
                               f"{given!r}; make them the same")
        account = account or given
        key = options.get("account_key") or options.get("secret_key") or None
        endpoint = (options.get("endpoint") or "").strip().rstrip("/") or None
        conn_str = options.get("connection_string") or os.environ.get(CONNECTION_STRING_ENV) or None
        if account and not _ACCOUNT_RE.match(account):
            raise StorageError(f"{account!r} is not an Azure storage account name: 3 to 24 lowercase "
                               "letters and digits")
        if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
            raise StorageError(f"The Azure endpoint {endpoint!r} is not an http:// or https:// URL")
        attempts = max(1, int(options.get("max_attempts", 4)))
        self._tls = threading.local()
        tls = self._tls

        from azure.storage.blob import ExponentialRetry  # there: _import_sdk found the SDK

        class _Retry(ExponentialRetry):
            # 0.25 s, 0.5 s, 1 s … (up to 8 s), with jitter; the SDK's default waits 15 s first
            def get_backoff_time(self, settings: dict[str, Any]) -> float:
                count: int = settings["count"]
                return min(8.0, 0.25 * 2.0 ** count) * random.uniform(0.5, 1.0)

            def increment(self, *args: Any, **kwargs: Any) -> bool:
                tls.retried = True  # requests run in the calling thread (max_concurrency=1)
                return bool(super().increment(*args, **kwargs))

        kwargs: dict[str, Any] = {
            "retry_policy": _Retry(retry_total=attempts - 1),
            "transport": self._transport(float(options.get("connect_timeout", 5)),
                                         float(options.get("read_timeout", 30))),
            "max_single_put_size": _SINGLE_PUT,
            "max_block_size": 8 << 20,
            "max_single_get_size": 32 << 20,
            "max_chunk_get_size": 8 << 20,
        }
        q: list[str] = []
        try:
            if account and key:
                account_url = endpoint or f"https://{account}.blob.core.windows.net"
                self.client = az_blob.ContainerClient(account_url, container, credential={
                    "account_name": account, "account_key": key}, **kwargs)
                self.account = account
                q.append(f"account={account}")
                if endpoint:
                    q.append(f"endpoint={quote(endpoint, safe=':/')}")
            elif conn_str:
                settings = _conn_settings(conn_str)
                named = settings.get("ACCOUNTNAME")
                if account and named and named != account and settings.get("USEDEVELOPMENTSTORAGE") != "true":
                    raise AccessDenied(f"No key for the Azure storage account {account!r}: "
                                       f"{CONNECTION_STRING_ENV} is for {named!r}. Save the key with the "
                                       "connection (it goes to the OS keyring) or set the right connection string")
                self.client = az_blob.ContainerClient.from_connection_string(conn_str, container, **kwargs)
                self.account = self.client.account_name or named or ""
                if account:
                    q.append(f"account={account}")
                if endpoint:  # a custom endpoint beside a connection string: the endpoint wins
                    self.client = az_blob.ContainerClient(endpoint, container, credential=self.client.credential,
                                                          **kwargs)
                    q.append(f"endpoint={quote(endpoint, safe=':/')}")
            elif account:
                raise AccessDenied(f"No key for the Azure storage account {account!r}: save it with the "
                                   f"connection (it goes to the OS keyring), or set {CONNECTION_STRING_ENV}")
            else:
                raise AccessDenied(f"No Azure credentials: set {CONNECTION_STRING_ENV}, or open "
                                   "azure://container/prefix?account=NAME through a saved connection that "
                                   "holds the account key")
        except StorageError:
            raise
        except ValueError as exc:  # a malformed connection string or account URL (never echoes the key)
            raise StorageError(f"Cannot set up the Azure client: {_first_line(exc)}") from None
        except Exception as exc:
            raise StorageError(f"Cannot set up the Azure client: {type(exc).__name__}: {_first_line(exc)}") from None
        self.endpoint = self.client.primary_endpoint.split("?", 1)[0].rsplit("/", 1)[0]
        self.url = f"azure://{container}/{self.prefix}".rstrip("/") + ("?" + "&".join(q) if q else "")
        if options.get("create_container") and str(options.get("create_container")).lower() not in ("0", "false"):
            self.ensure_container()

    @staticmethod
    def _transport(connect_timeout: float, read_timeout: float) -> RequestsTransport:
        """requests with a pool big enough for the parallel reads and writes a migration makes."""
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return RequestsTransport(session=session, session_owner=True, connection_timeout=connect_timeout,
                                 read_timeout=read_timeout)

    # -- errors ------------------------------------------------------------------
    def _describe(self, exc: BaseException, what: str) -> StorageError:
        e = self._exc
        if isinstance(exc, StorageError):
            return exc
        where = f"{self.endpoint} ({what})"
        if isinstance(exc, e.ClientAuthenticationError):
            return AccessDenied(f"Azure refused access to {where}: the account key or SAS was not accepted. "
                                "Check the account name and key (or the connection string).")
        if isinstance(exc, (e.ServiceRequestError, e.ServiceResponseError)) and not isinstance(
                exc, e.HttpResponseError):
            return Unreachable(f"Cannot reach the Azure Blob endpoint {where}: {_first_line(exc)}")
        if isinstance(exc, e.HttpResponseError):
            code = getattr(exc, "error_code", None) or ""
            code = str(getattr(code, "value", code))  # the SDK's StorageErrorCode enum, or text
            status = getattr(exc, "status_code", None)
            if code == "ContainerNotFound":
                return NotFound(f"The Azure container {self.container!r} does not exist at {self.endpoint}; "
                                "create it (or open the store with create)")
            if code == "BlobNotFound" or isinstance(exc, e.ResourceNotFoundError):
                return NotFound(f"{what} not found")
            if status == 403 or code.startswith(("Authorization", "Authentication", "InsufficientAccount")):
                # a wrong key is AuthenticationFailed on Azure, AuthorizationFailure on Azurite
                return AccessDenied(f"Azure refused access to {where} ({code or status}): the account key or SAS "
                                    "was not accepted, or does not allow this. Check the account name and key "
                                    "(or the connection string).")
            reason = _first_line(exc)
            return StorageError(f"Azure error on {what}: {status} {code} {reason}".replace("  ", " ").strip())
        if isinstance(exc, e.AzureError):
            return StorageError(f"Azure error on {what}: {_first_line(exc)}")
        if isinstance(exc, binascii.Error):
            return AccessDenied("The Azure account key is not valid (it should be the base64 text the portal "
                                "shows)")
        if isinstance(exc, OSError):
            return Unreachable(f"Cannot reach the Azure Blob endpoint {where}: {exc}")
        return StorageError(f"Azure error on {what}: {type(exc).__name__}: {_first_line(exc)}")

    def _k(self, key: str) -> str:
        validate_key(key)
        return self.prefix + key

    # -- container ---------------------------------------------------------------
    def ensure_container(self) -> None:
        """Create the container when it is missing (one made meanwhile by another run is fine)."""
        try:
            self.client.create_container()
        except self._exc.ResourceExistsError:
            return
        except Exception as exc:
            raise self._describe(exc, f"creating container {self.container}") from None

    def check(self) -> None:
        """Raise a clear error when the container cannot be used."""
        try:
            self.client.get_container_properties()
        except Exception as exc:
            raise self._describe(exc, f"container {self.container}") from None

    # -- interface ---------------------------------------------------------------
    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Paged List Blobs (5,000 at most a page); Blob Storage lists in key order."""
        full = self.prefix + prefix
        cut = len(self.prefix)
        try:
            pages = self.client.list_blobs(name_starts_with=full or None,
                                           results_per_page=max(1, min(int(page_size), 5000))).by_page()
            for page in pages:
                for b in page:
                    lm = b.last_modified
                    yield ObjectInfo(b.name[cut:], int(b.size or 0), lm.timestamp() if lm else None,
                                     (b.etag or "").strip('"') or None)
        except Exception as exc:
            raise self._describe(exc, f"listing azure://{self.container}/{full}") from None

    def get(self, key: str) -> bytes:
        full = self._k(key)
        try:
            data: bytes = self.client.download_blob(full, max_concurrency=1).readall()
            return data
        except Exception as exc:
            raise self._describe(exc, key) from None

    def get_limited(self, key: str, limit: int) -> bytes:
        """One ranged GET of at most limit + 1 bytes: a larger object is refused unread."""
        full = self._k(key)
        try:
            d = self.client.download_blob(full, offset=0, length=limit + 1, max_concurrency=1)
            total = str(getattr(d.properties, "content_range", None) or "").rpartition("/")[2]
            size = int(total) if total.isdigit() else int(d.size)
            if size > limit:
                raise Refused(f"{key} is {human_size(size)}, over the {human_size(limit)} limit")
            data: bytes = d.readall()
            return data
        except self._exc.HttpResponseError as exc:
            if getattr(exc, "status_code", None) != 416:
                raise self._describe(exc, key) from None
        except Exception as exc:
            raise self._describe(exc, key) from None
        # 416 InvalidRange: a range of an empty blob (Azurite; the SDK retries that only unranged)
        return super().get_limited(key, limit)

    def _upload(self, full: str, data: bytes, **kwargs: Any) -> dict[str, Any]:
        """One Put Blob (a Put Block List above 64 MiB); the upload's properties (ETag, Content-MD5)."""
        props: dict[str, Any] = self.client.get_blob_client(full).upload_blob(
            bytes(data), length=len(data), max_concurrency=1, **kwargs)
        return props

    def put(self, key: str, data: bytes) -> None:
        full = self._k(key)
        try:
            r = self._upload(full, data, overwrite=True)
        except Exception as exc:
            raise self._describe(exc, key) from None
        self._remember_md5(key, data, r)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        full = self._k(key)
        self._tls.retried = False
        try:
            r = self._upload(full, data, overwrite=False)
            self._remember_md5(key, data, r)
            return True
        except (self._exc.ResourceExistsError,  # 409 BlobAlreadyExists
                self._exc.ResourceModifiedError):  # 412 ConditionNotMet: created meanwhile
            if not self._tls.retried:
                return False
        except Exception as exc:
            raise self._describe(exc, key) from None
        # "exists" after a retry: the attempt whose answer was lost may have created it
        try:
            return bool(self.get(key) == data)
        except NotFound:
            return False

    def replace_if_match(self, key: str, data: bytes, etag: str | None) -> bool:
        """Overwrite *key* only while it still has *etag* (``If-Match``): False when it
        changed or went away meanwhile. Used to repair damaged objects (an empty or
        cut-short upload), never to replace a valid version."""
        if not etag:
            self.put(key, data)
            return True
        from azure.core import MatchConditions

        full = self._k(key)
        try:
            r = self._upload(full, data, overwrite=True, etag='"' + etag.strip('"') + '"',
                             match_condition=MatchConditions.IfNotModified)
        except (self._exc.ResourceModifiedError, self._exc.ResourceNotFoundError) as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise self._describe(exc, key) from None
            return False  # 412 ConditionNotMet, 404 BlobNotFound
        except Exception as exc:
            raise self._describe(exc, key) from None
        self._remember_md5(key, data, r)
        return True

    def _remember_md5(self, key: str, data: bytes, result: Any) -> None:
        """Keep the MD5 the server computed over the bytes it got (Put Blob's Content-MD5;
        a Put Block List's is of the block list, so large objects keep none)."""
        md5 = result.get("content_md5") if isinstance(result, dict) and len(data) <= _SINGLE_PUT else None
        md5s = getattr(self._tls, "md5s", None)
        if md5s is None or len(md5s) > 1000:
            md5s = self._tls.md5s = {}
        md5s[key] = bytes(md5).hex() if md5 else None

    def written_etag(self, key: str) -> str | None:
        """The MD5 (hex) of the bytes this thread last wrote to *key*, as the server computed
        it (what a migration compares instead of reading the object back); None unknown."""
        return getattr(self._tls, "md5s", {}).get(key)

    def stat(self, key: str) -> ObjectInfo | None:
        full = self._k(key)
        try:
            p = self.client.get_blob_client(full).get_blob_properties()
        except Exception as exc:
            err = self._describe(exc, key)
            if isinstance(err, NotFound) and getattr(exc, "error_code", None) != "ContainerNotFound":
                return None
            raise err from None
        lm = p.last_modified
        return ObjectInfo(key, int(p.size or 0), lm.timestamp() if lm else None, (p.etag or "").strip('"') or None)

    def delete(self, key: str) -> None:
        full = self._k(key)
        try:
            self.client.delete_blob(full)
        except Exception as exc:
            err = self._describe(exc, key)
            if not isinstance(err, NotFound) or getattr(exc, "error_code", None) == "ContainerNotFound":
                raise err from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
