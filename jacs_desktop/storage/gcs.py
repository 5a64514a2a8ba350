"""Google Cloud Storage: ``gs://bucket/prefix`` through Google's own client
(``google-cloud-storage``, the ``gcs`` extra).

* the endpoint: ``STORAGE_EMULATOR_HOST`` when set (every Google client reads it),
  else ``?endpoint_url=``, else Google's;
* credentials: Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
  ``gcloud auth application-default login``, the metadata server), or a key file
  given as ``credentials_file``; an emulator (``STORAGE_EMULATOR_HOST`` or an
  ``endpoint_url`` on loopback) gets anonymous credentials and a placeholder project;
* create-if-absent with ``ifGenerationMatch=0``; a repair overwrites only the
  generation that was judged (``ifGenerationMatch=<generation>``);
* retries are the client's own (429, 5xx, dropped connections), bounded by
  ``retry_timeout`` seconds, on every call: each one is idempotent here (a create is
  conditional, an overwrite writes the same bytes again, a delete of nothing is fine);
* errors are the typed storage errors of :mod:`.base`, in words.

The client is imported when a store is first made, so a missing extra is a sentence
naming it, never an ImportError.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .base import (
    AccessDenied,
    NotFound,
    ObjectInfo,
    ObjectStore,
    Refused,
    StorageError,
    Unreachable,
    human_size,
    validate_key,
)

if TYPE_CHECKING:
    from google.resumable_media import InvalidResponse

__all__ = ["GCSStore", "GCS_EXTRA_MISSING"]

GCS_EXTRA_MISSING = "Google Cloud Storage needs the gcs extra: pip install 'jacs-desktop[gcs]'"


def _import_gcs() -> Any:
    """google.cloud.storage, or a StorageError naming the extra (any part of it missing)."""
    try:
        import google.api_core.client_options
        import google.cloud.storage.retry  # noqa: F401 - imported here so that a missing part is found here
        from google.cloud import storage
    except ImportError:
        raise StorageError(GCS_EXTRA_MISSING) from None
    return storage


def _loopback(endpoint: str) -> bool:
    host = (urlsplit(endpoint if "://" in endpoint else "http://" + endpoint).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _hex_md5(b64: str | None) -> str | None:
    if not b64:
        return None
    try:
        return base64.b64decode(b64).hex()
    except (ValueError, TypeError):
        return None


def _why_unreachable(exc: BaseException) -> str:
    """The root of a connection failure, in a few words."""
    text = str(exc)
    for needle, words in (("Connection refused", "connection refused"),
                          ("Name or service not known", "unknown host name"),
                          ("nodename nor servname", "unknown host name"),
                          ("getaddrinfo failed", "unknown host name"),
                          ("Temporary failure in name resolution", "the host name cannot be looked up"),
                          ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
                          ("Connection reset", "the connection was reset"),
                          ("timed out", "timed out"),
                          ("RemoteDisconnected", "the server closed the connection")):
        if needle in text:
            return words
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _describe(exc: BaseException, what: str, bucket: str, endpoint: str = "") -> StorageError:
    """A Google client or transport exception, as a typed storage error in words."""
    if isinstance(exc, StorageError):
        return exc
    import requests
    from google.api_core import exceptions as gx
    from google.auth import exceptions as ax

    if isinstance(exc, gx.RetryError):
        cause = exc.cause or exc.__cause__
        inner = _describe(cause, what, bucket, endpoint) if cause is not None else None
        if isinstance(inner, (NotFound, AccessDenied)):
            return inner
        if inner is not None:
            return Unreachable(f"{inner} (retried until the retry time ran out)")
        return Unreachable(f"Google Cloud Storage kept failing on {what}, retried until the retry time ran out")
    if isinstance(exc, ax.InvalidOperation) and "anonymous" in str(exc).lower():
        # a 401 to a client without credentials (an emulator, or anonymous=1): the auth layer
        # tries to refresh nothing
        return AccessDenied(f"Google Cloud Storage needs credentials for {what}: the request went without any. "
                            "Set up Application Default Credentials ('gcloud auth application-default login').")
    if isinstance(exc, ax.DefaultCredentialsError):
        text = "; ".join(str(a) for a in exc.args) if exc.args else str(exc)
        if "default credentials were not found" not in text.lower():
            # GOOGLE_APPLICATION_CREDENTIALS names a file that is missing or holds no usable key
            return AccessDenied(f"The Google Cloud credentials cannot be used: {text.splitlines()[0]}")
        return AccessDenied("No Google Cloud credentials: run 'gcloud auth application-default login', or set "
                            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file")
    if isinstance(exc, (ax.RefreshError,)):
        return AccessDenied(f"The Google Cloud credentials were refused ({what}): {exc}. "
                            "Log in again with 'gcloud auth application-default login' or check the key file.")
    if isinstance(exc, ax.TransportError):
        return Unreachable(f"Cannot reach Google's sign-in service ({what}): {exc}")
    if isinstance(exc, gx.GoogleAPICallError):
        code = exc.code
        msg = getattr(exc, "message", "") or str(exc)
        if isinstance(exc, gx.NotFound) or code == 404:
            if "bucket" in msg.lower() and "object" not in msg.lower():
                return NotFound(f"The bucket {bucket} does not exist ({what})")
            return NotFound(f"{what} not found")
        if code == 401:
            return AccessDenied(f"Google Cloud Storage needs credentials for {what}: {msg}. Set up Application "
                                "Default Credentials ('gcloud auth application-default login').")
        if code == 403:
            return AccessDenied(f"Google Cloud Storage refused access ({what}): {msg}. Check that the account "
                                f"may use the bucket {bucket}.")
        if code is not None and code >= 500:
            return Unreachable(f"Google Cloud Storage failed on {what}: {code} {msg}")
        return StorageError(f"Google Cloud Storage error on {what}: {msg}")
    where = f" at {endpoint}" if endpoint else ""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Unreachable(f"Cannot reach Google Cloud Storage{where} ({what}): the connection timed out")
    if isinstance(exc, requests.exceptions.Timeout):
        return Unreachable(f"Google Cloud Storage{where} did not answer in time ({what})")
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError)):
        return Unreachable(f"Cannot reach Google Cloud Storage{where} ({what}): {_why_unreachable(exc)}")
    invalid_response = _invalid_response()
    if invalid_response is not None and isinstance(exc, invalid_response):
        status = getattr(exc.response, "status_code", None)
        if status == 404:
            return NotFound(f"{what} not found")
        if status in (401, 403):
            return AccessDenied(f"Google Cloud Storage refused access ({what}): {status}")
        return StorageError(f"Google Cloud Storage error on {what}: {status} {exc}")
    return StorageError(f"Google Cloud Storage error on {what}: {type(exc).__name__}: {exc}")


def _invalid_response() -> type[InvalidResponse] | None:
    """The resumable upload/download layer's own error type (None without it)."""
    try:
        from google.resumable_media import InvalidResponse
    except ImportError:  # pragma: no cover - always there with the client
        return None
    return InvalidResponse


class GCSStore(ObjectStore):
    """Options (all optional): endpoint_url, project, credentials_file, anonymous,
    connect_timeout, read_timeout, retry_timeout, create_bucket."""

    def __init__(self, bucket: str, prefix: str = "", **options: Any) -> None:
        import os

        storage = _import_gcs()
        from google.api_core.client_options import ClientOptions
        from google.cloud.storage.retry import DEFAULT_RETRY

        if not bucket:
            raise StorageError("A Google Cloud Storage URL needs a bucket: gs://bucket/prefix")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.options = dict(options)
        emulator = os.environ.get("STORAGE_EMULATOR_HOST") or None
        endpoint = options.get("endpoint_url") or None
        self._timeout = (float(options.get("connect_timeout", 5)), float(options.get("read_timeout", 60)))
        self._retry = DEFAULT_RETRY.with_timeout(float(options.get("retry_timeout", 30)))
        anonymous = str(options.get("anonymous", "")).lower() in ("1", "true", "yes")
        kwargs: dict[str, Any] = {}
        if options.get("project"):
            kwargs["project"] = options["project"]
        creds: Any = None
        if options.get("credentials_file"):
            try:
                from google.oauth2 import service_account

                # google-auth annotates this module but not this constructor
                creds = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    os.path.expanduser(str(options["credentials_file"])),
                    scopes=["https://www.googleapis.com/auth/devstorage.read_write"])
            except FileNotFoundError:
                raise AccessDenied(f"The credentials file {options['credentials_file']} does not exist") from None
            except (ValueError, KeyError) as exc:
                raise AccessDenied(f"The credentials file {options['credentials_file']} is not a service "
                                   f"account key: {exc}") from None
        if anonymous and creds is None:
            from google.auth.credentials import AnonymousCredentials

            creds = AnonymousCredentials()  # type: ignore[no-untyped-call]  # (not annotated in google-auth)
            kwargs.setdefault("project", "<none>")
        if creds is not None:
            kwargs["credentials"] = creds
        if endpoint and not emulator:
            kwargs["client_options"] = ClientOptions(api_endpoint=endpoint.rstrip("/"))
            if _loopback(endpoint) and creds is None:
                kwargs["use_auth_w_custom_endpoint"] = False
        self._client_kwargs = kwargs
        #: where requests go (shown in errors); empty for Google's own endpoint
        self.endpoint = (emulator or endpoint or "").rstrip("/")
        self._tls = threading.local()
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()  # a dead thread's client goes with it
        self._clients_lock = threading.Lock()
        self.client = self._make_client(storage)  # the first one: credentials problems surface here
        # the other threads' clients share its login (and project): no second credentials look-up
        kwargs["credentials"] = self.client._credentials
        kwargs["project"] = self.client.project
        q: list[str] = []
        if endpoint:
            q.append(f"endpoint_url={endpoint}")
        if options.get("project"):
            q.append(f"project={options['project']}")
        self.url = f"gs://{bucket}/{self.prefix}".rstrip("/") + ("?" + "&".join(q) if q else "")
        if str(options.get("create_bucket", "")).lower() in ("1", "true", "yes"):
            self.ensure_bucket()

    def _make_client(self, storage: Any = None) -> Any:
        storage = storage or _import_gcs()
        try:
            client = storage.Client(**self._client_kwargs)
        except Exception as exc:  # no credentials, a bad key file, an unusable endpoint …
            raise _describe(exc, "setting up the client", self.bucket_name, self.endpoint) from None
        with self._clients_lock:
            self._clients.add(client)
        self._tls.bucket = client.bucket(self.bucket_name)
        return client

    def _bucket(self) -> Any:
        """This thread's bucket handle: a client per thread (requests sessions are
        not documented as thread-safe); the credentials are shared."""
        b = getattr(self._tls, "bucket", None)
        if b is None:
            self._make_client()
            b = self._tls.bucket
        return b

    def _k(self, key: str) -> str:
        validate_key(key)
        return self.prefix + key

    def _err(self, exc: BaseException, what: str) -> StorageError:
        return _describe(exc, what, self.bucket_name, self.endpoint)

    # -- bucket -----------------------------------------------------------------
    def check(self) -> None:
        """Raise a clear error when the bucket cannot be used."""
        try:
            self._bucket().reload(timeout=self._timeout, retry=self._retry)
        except Exception as exc:
            err = self._err(exc, f"bucket {self.bucket_name}")
            if isinstance(err, NotFound):
                raise NotFound(f"The bucket {self.bucket_name} does not exist") from None
            raise err from None

    def ensure_bucket(self) -> None:
        from google.api_core import exceptions as gx

        try:
            self.check()
            return
        except NotFound:
            pass
        try:
            self._bucket().client.create_bucket(self.bucket_name, timeout=self._timeout, retry=self._retry)
        except gx.Conflict:
            self.check()  # created meanwhile: usable if we may read it
        except Exception as exc:
            raise self._err(exc, f"creating bucket {self.bucket_name}") from None

    # -- interface --------------------------------------------------------------
    def _info(self, blob: Any) -> ObjectInfo:
        updated = blob.updated
        return ObjectInfo(blob.name[len(self.prefix):], int(blob.size or 0),
                          updated.timestamp() if updated is not None else None,
                          _hex_md5(blob.md5_hash) or blob.etag or None)

    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Paged objects.list (Google returns names in UTF-8 byte order, which is
        code point order, so the listing is already in key order)."""
        full = self.prefix + prefix
        b = self._bucket()
        fields = None if details else "items(name),nextPageToken"
        try:
            it = b.client.list_blobs(b, prefix=full, page_size=max(1, min(page_size, 1000)), fields=fields,
                                     timeout=self._timeout, retry=self._retry)
            for blob in it:
                # a name ending in '/' is a console "folder" placeholder, never a JACS object
                if not blob.name.startswith(self.prefix) or blob.name.endswith("/"):
                    continue
                yield self._info(blob)
        except StorageError:
            raise
        except Exception as exc:
            err = self._err(exc, f"listing gs://{self.bucket_name}/{full}")
            if isinstance(err, NotFound):
                raise NotFound(f"The bucket {self.bucket_name} does not exist") from None
            raise err from None

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = self.prefix + prefix
        b = self._bucket()
        try:
            for blob in b.client.list_blobs(b, prefix=full, delimiter="/", timeout=self._timeout, retry=self._retry):
                if not blob.name.endswith("/"):
                    yield self._info(blob)
        except Exception as exc:
            raise self._err(exc, f"listing gs://{self.bucket_name}/{full}") from None

    def get(self, key: str) -> bytes:
        name = self._k(key)
        try:
            data: bytes = self._bucket().blob(name).download_as_bytes(timeout=self._timeout, retry=self._retry)
            return data
        except Exception as exc:
            raise self._err(exc, key) from None

    def get_limited(self, key: str, limit: int) -> bytes:
        info = self.stat(key)
        if info is None:
            raise NotFound(f"{key} not found")
        if info.size > limit:
            raise Refused(f"{key} is {human_size(info.size)}, over the {human_size(limit)} limit")
        data = self.get(key)
        if len(data) > limit:  # replaced by a larger one in between
            raise Refused(f"{key} is {human_size(len(data))}, over the {human_size(limit)} limit")
        return data

    def _upload(self, key: str, data: bytes, generation: int | None) -> None:
        blob = self._bucket().blob(self._k(key))
        blob.upload_from_string(bytes(data), content_type="application/octet-stream",
                                if_generation_match=generation, timeout=self._timeout, retry=self._retry)
        self._remember_etag(key, _hex_md5(blob.md5_hash))

    def put(self, key: str, data: bytes) -> None:
        try:
            self._upload(key, data, None)
        except Exception as exc:
            raise self._err(exc, key) from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from google.api_core import exceptions as gx

        try:
            self._upload(key, data, 0)
            return True
        except gx.PreconditionFailed:
            return False
        except Exception as exc:
            if _precondition_failed(exc):
                return False
            raise self._err(exc, key) from None

    def replace_if_match(self, key: str, data: bytes, etag: str | None) -> bool:
        """Overwrite *key* only while its bytes still have the MD5 *etag* (the
        generation read is the one overwritten): False when it changed or went away
        meanwhile. Used to repair damaged objects, never to replace a valid version."""
        from google.api_core import exceptions as gx

        if not etag:
            self.put(key, data)
            return True
        try:
            blob = self._bucket().get_blob(self._k(key), timeout=self._timeout, retry=self._retry)
            if blob is None or (_hex_md5(blob.md5_hash) or blob.etag) != etag:
                return False
            self._upload(key, data, int(blob.generation))
            return True
        except gx.PreconditionFailed:
            return False
        except Exception as exc:
            if _precondition_failed(exc):
                return False
            raise self._err(exc, key) from None

    def _remember_etag(self, key: str, etag: str | None) -> None:
        etags = getattr(self._tls, "etags", None)
        if etags is None or len(etags) > 1000:
            etags = self._tls.etags = {}
        etags[key] = etag

    def written_etag(self, key: str) -> str | None:
        """The MD5 (hex) of the bytes this thread last wrote to *key*, as the server computed it."""
        etags: dict[str, str | None] = getattr(self._tls, "etags", {})
        return etags.get(key)

    def stat(self, key: str) -> ObjectInfo | None:
        name = self._k(key)
        try:
            blob = self._bucket().get_blob(name, timeout=self._timeout, retry=self._retry)
        except Exception as exc:
            err = self._err(exc, key)
            if isinstance(err, NotFound):
                return None
            raise err from None
        return None if blob is None else self._info(blob)

    def delete(self, key: str) -> None:
        name = self._k(key)
        try:
            self._bucket().blob(name).delete(timeout=self._timeout, retry=self._retry)
        except Exception as exc:
            err = self._err(exc, key)
            if not isinstance(err, NotFound):
                raise err from None

    def move(self, src: str, dst: str) -> None:
        """Server-side copy (only if *dst* is absent), check, then delete."""
        from google.api_core import exceptions as gx

        s, d = self._k(src), self._k(dst)
        b = self._bucket()
        if self.stat(src) is None:
            raise NotFound(f"{src} not found")
        # the stat first too: fake-gcs-server ignores ifGenerationMatch on a copy
        if self.stat(dst) is None:
            try:
                b.copy_blob(b.blob(s), b, d, if_generation_match=0, timeout=self._timeout, retry=self._retry)
            except gx.PreconditionFailed:
                pass  # dst appeared meanwhile: compared below
            except Exception as exc:
                if not _precondition_failed(exc):
                    raise self._err(exc, dst) from None
        if self.get(dst) != self.get(src):
            raise StorageError(f"Cannot move {src}: {dst} already exists with other content")
        self.delete(src)

    def close(self) -> None:
        with self._clients_lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(Exception):
                c.close()


def _precondition_failed(exc: BaseException) -> bool:
    """A 412 seen through the upload layer or a retry wrapper."""
    from google.api_core import exceptions as gx

    if isinstance(exc, gx.PreconditionFailed):
        return True
    if isinstance(exc, gx.RetryError) and exc.cause is not None:
        return _precondition_failed(exc.cause)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status == 412
