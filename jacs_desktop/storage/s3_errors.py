"""What an S3 request's failure means, in words: obstore's and botocore's errors turned into
the storage errors of :mod:`.base` (NotFound, AccessDenied, Unreachable, StorageError), and
which failures are worth another attempt.

obstore (Rust ``object_store``) raises a few typed exceptions (``FileNotFoundError``,
``AlreadyExistsError``, ``PreconditionError``, ``PermissionDeniedError``,
``UnauthenticatedError``) and a ``GenericError`` for everything else, whose text carries the
HTTP status, the S3 error document and, for a failed connection, the kind of HTTP error; this
module reads those. botocore's errors come from the calls boto3 still makes (bucket check and
creation, the listing of names obstore's paths refuse).
"""

from __future__ import annotations

import re
from typing import Any

from .base import AccessDenied, NotFound, StorageError, Unreachable

__all__ = ["Failure", "describe", "describe_boto", "NO_CREDENTIALS"]

_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]*)</Code>")
_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_REGION = re.compile(r"<Region>([^<]*)</Region>")

#: S3 error codes that mean the credentials are wrong, missing or expired
AUTH_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                        "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity", "TokenRefreshRequired"})
#: answers another attempt may get past (S3's own advice for each)
TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
                             "RequestTimeTooSkewed"})


class Failure:
    """One failed obstore call, read: HTTP status, S3 code and message, HTTP error kind."""

    __slots__ = ("code", "kind", "message", "region", "status", "text")

    def __init__(self, exc: BaseException) -> None:
        self.text = str(exc)
        m = _STATUS.search(self.text)
        self.status: int | None = int(m.group(1)) if m else None
        m = _CODE.search(self.text)
        self.code = m.group(1) if m else ""
        m = _MESSAGE.search(self.text)
        self.message = m.group(1) if m else ""
        m = _HTTP_KIND.search(self.text)
        self.kind: str | None = m.group(1) if m else None
        m = _REGION.search(self.text)
        self.region = m.group(1) if m else ""

    @property
    def transient(self) -> bool:
        """Worth another attempt: a 5xx or 429 answer, a throttling code, a connection that
        could not be made, broke or timed out."""
        if self.status is not None:
            return self.status >= 500 or self.status == 429 or self.code in TRANSIENT_CODES
        return self.kind is not None

    def first_line(self) -> str:
        line = self.text.split("\n", 1)[0].strip()
        return line[:300]


def _obstore_types() -> tuple[type[BaseException], ...]:
    from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

    return PermissionDeniedError, UnauthenticatedError


def describe(exc: BaseException, what: str, *, credentials_hint: str = "") -> StorageError:
    """The storage error for an obstore failure on *what* (a key, "listing s3://…")."""
    if isinstance(exc, StorageError):
        return exc
    f = Failure(exc)
    if isinstance(exc, _obstore_types()) or f.status in (401, 403) or f.code in AUTH_CODES:
        if "credential provider" in f.text:  # our boto3 credentials callback failed
            why = f.text.split("credential provider:", 1)[-1].split("\n", 1)[0].strip()
            return AccessDenied(f"The AWS credentials could not be loaded ({what}): {why}"
                                + (f". {credentials_hint}" if credentials_hint else ""))
        if f.code == "AuthorizationHeaderMalformed" and f.region:
            return AccessDenied(f"S3 refused access ({what}): the bucket is in region {f.region}; "
                                f"set region={f.region} in the store URL")
        msg = f.message or f.code or f.first_line()
        return AccessDenied(f"S3 refused access ({what}): {msg}. Check the access key and secret.")
    if isinstance(exc, FileNotFoundError) or f.status == 404:
        if f.code == "NoSuchBucket":
            return NotFound(f"The bucket does not exist ({what})")
        return NotFound(f"{what} not found")
    if f.status in (301, 307) or f.code == "PermanentRedirect":
        where = f" ({f.region})" if f.region else ""
        return StorageError(f"The bucket is in another AWS region{where} ({what}): add region=… to the store URL")
    if f.status is None and f.kind is not None:
        if f.kind == "Connect":
            return Unreachable(f"Cannot reach the S3 endpoint ({what}): the connection was refused or timed out")
        if f.kind == "Timeout":
            return Unreachable(f"The S3 endpoint did not answer in time ({what})")
        return StorageError(f"The connection to the S3 endpoint broke ({what}): {f.first_line()}")
    if f.status is not None:
        detail = " ".join(x for x in (str(f.status), f.code, f.message) if x)
        return StorageError(f"S3 error on {what}: {detail}")
    return StorageError(f"S3 error on {what}: {f.first_line()}")


def describe_boto(exc: Exception, what: str) -> StorageError:
    """The storage error for a botocore failure (the calls boto3 still makes)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return Unreachable(f"Cannot reach the S3 endpoint ({what}): {exc}")
    if isinstance(exc, ReadTimeoutError):
        return Unreachable(f"The S3 endpoint did not answer in time ({what})")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AccessDenied(NO_CREDENTIALS)
    if isinstance(exc, ClientError):
        resp: dict[str, Any] = exc.response
        err = resp.get("Error", {})
        code = str(err.get("Code", ""))
        status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = err.get("Message") or code
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFound(f"{what} not found")
        if code == "NoSuchBucket":
            return NotFound(f"The bucket does not exist ({what})")
        if code in AUTH_CODES or code == "403" or status == 403:
            return AccessDenied(f"S3 refused access ({what}): {msg}. Check the access key and secret.")
        return StorageError(f"S3 error on {what}: {code} {msg}".strip())
    return StorageError(f"S3 error on {what}: {exc}")


NO_CREDENTIALS = ("No S3 credentials: save them with the connection, or set AWS_ACCESS_KEY_ID/"
                  "AWS_SECRET_ACCESS_KEY or an AWS profile (profile=NAME; for SSO, run aws sso login first)")
