"""What boto3 does for the S3 store (:mod:`.s3`), and why it, not obstore:

* credentials: a boto3 session resolves them from the whole AWS chain — the keys a saved
  connection passes, the environment, ``profile=NAME`` from ~/.aws, SSO, ``credential_process``,
  assumed roles, instance roles — which obstore's own chain only partly knows (no SSO, no
  credential_process). :class:`BotoCredentials` hands them to obstore as its credential
  callback, refreshed by botocore as they near expiry;
* the bucket: obstore has no bucket API, so the check (HEAD bucket), the creation and the
  question "which region is this bucket in" go through a boto3 client;
* a listing of names obstore's paths refuse (see ``S3Store._boto_range``).

boto3 is imported here lazily, when an S3 store is first made.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import AccessDenied, NotFound, StorageError
from .s3_errors import describe_boto

__all__ = ["BotoCredentials", "CREDENTIALS_TTL", "boto_client", "boto_session", "bucket_region", "check_endpoint",
           "ensure_bucket"]

#: how long obstore may keep a credential from boto3 before it asks again; botocore refreshes
#: temporary credentials (SSO, roles) 15 minutes before they expire, so what it hands out
#: lives longer than this
CREDENTIALS_TTL = timedelta(minutes=5)


def check_endpoint(url: str) -> None:
    """Refuse an endpoint that is not an http(s) URL with a host (and a numeric port)."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(url)
        ok = u.scheme in ("http", "https") and bool(u.hostname)
        u.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        ok = False
    if not ok:
        raise StorageError(f"Cannot set up the S3 client: the endpoint {url!r} is not an http:// or https:// URL")


def boto_session(profile: str | None, options: dict[str, Any]) -> Any:
    """A boto3 session: the given keys, else the profile, else the default chain."""
    import boto3
    from botocore.exceptions import BotoCoreError

    keys: dict[str, Any] = {}
    if options.get("access_key") and options.get("secret_key"):
        keys = {"aws_access_key_id": options["access_key"], "aws_secret_access_key": options["secret_key"],
                "aws_session_token": options.get("session_token") or None}
    try:
        return boto3.session.Session(profile_name=profile, **keys)
    except BotoCoreError as exc:  # ProfileNotFound and the like
        raise StorageError(f"Cannot set up the S3 client: {exc}") from None


class BotoCredentials:
    """obstore's credential callback over botocore's credentials object: what botocore holds
    now (it refreshes temporary ones when due). Temporary credentials are handed out for
    :data:`CREDENTIALS_TTL`, so obstore asks again; static keys never expire.

    botocore raises on an expired SSO login or a failing credential_process; obstore reports
    that as an authentication error carrying the text, which :func:`.s3_errors.describe` words."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials
        self.refreshable = hasattr(credentials, "refresh_needed")
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        frozen = self.credentials.get_frozen_credentials()
        return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                "token": frozen.token or None,
                "expires_at": datetime.now(UTC) + CREDENTIALS_TTL if self.refreshable else None}


def boto_client(session: Any, endpoint: str | None, region: str, *, max_attempts: int, connect_timeout: float,
                read_timeout: float, addressing_style: str = "path") -> Any:
    from botocore.config import Config

    cfg: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": max_attempts},
        "connect_timeout": connect_timeout, "read_timeout": read_timeout,
    }
    if endpoint:
        cfg["s3"] = {"addressing_style": addressing_style}
        cfg["request_checksum_calculation"] = "when_required"  # boto3's CRC32: some servers reject it
        cfg["response_checksum_validation"] = "when_required"
    try:
        return session.client("s3", endpoint_url=endpoint, region_name=region, config=Config(**cfg))
    except Exception as exc:  # bad endpoint URL …
        raise StorageError(f"Cannot set up the S3 client: {exc}") from None


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region as the server names it (``x-amz-bucket-region``, also on a 301 or
    403); "" when it does not say."""
    from botocore.exceptions import ClientError

    try:
        meta = client.head_bucket(Bucket=bucket).get("ResponseMetadata", {})
    except ClientError as exc:
        meta = exc.response.get("ResponseMetadata", {})
    except Exception:
        return ""
    return str(meta.get("HTTPHeaders", {}).get("x-amz-bucket-region", ""))


def ensure_bucket(client: Any, bucket: str, region: str, on_aws: bool) -> None:
    """Create *bucket* unless it exists; two runs creating it at once both go ahead."""
    try:
        client.head_bucket(Bucket=bucket)
        return
    except Exception as exc:
        err = describe_boto(exc, f"bucket {bucket}")
        if not isinstance(err, NotFound):
            raise err from None
    from botocore.exceptions import ClientError

    args: dict[str, Any] = {"Bucket": bucket}
    if on_aws and region != "us-east-1":  # AWS wants the region named, except for its first one
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    for attempt in range(4):
        try:
            client.create_bucket(**args)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "BucketAlreadyOwnedByYou":
                return  # another run (or thread) created it a moment ago: ours, fine
            if code not in ("BucketAlreadyExists", "OperationAborted"):
                raise describe_boto(exc, f"creating bucket {bucket}") from None
            # someone created it meanwhile (OperationAborted: is creating it): it is
            # usable when we may read it, which a HEAD tells; someone else's is a 403
            time.sleep(0.2 * attempt)
            try:
                client.head_bucket(Bucket=bucket)
                return
            except Exception as head_exc:
                err = describe_boto(head_exc, f"bucket {bucket}")
                if isinstance(err, AccessDenied):
                    raise StorageError(f"The bucket name {bucket} is taken by another account; "
                                       "choose another name") from None
                if not isinstance(err, NotFound):
                    raise err from None
        except Exception as exc:
            raise describe_boto(exc, f"creating bucket {bucket}") from None
    raise StorageError(f"Cannot create bucket {bucket}: it is reported to exist but cannot be found")
