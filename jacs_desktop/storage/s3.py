"""S3 and S3-compatible backends (AWS, MinIO, SeaweedFS, RustFS, R2, moto).

* boto3 with retry mode ``standard``, connect/read timeouts;
* paged ``ListObjectsV2``;
* conditional create with ``If-None-Match: *`` *and* a HEAD check first, for
  servers that ignore the header (``rclone serve s3`` does);
* optional server-side encryption (``AES256``);
* checksums only when required on custom endpoints (boto3 >= 1.36 sends CRC32
  by default, which some S3-compatible servers reject).

Size: the S3 backend including the lean SigV4 fast path for hot requests; issue 13 moves the
data path onto obstore, which will remove most of it.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import threading
import uuid
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import http.client

from .base import AccessDenied, NotFound, ObjectInfo, ObjectStore, StorageError, Unreachable, validate_key

__all__ = ["S3Store"]


_fromiso = datetime.fromisoformat


def _ts(value: Any) -> float | None:
    """Seconds since the epoch from botocore's raw timestamp text (ISO 8601 or HTTP date)."""
    if value is None or value == "":
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    text = str(value)
    try:
        return _fromiso(text[:-1] + "+00:00" if text.endswith("Z") else text).timestamp()
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None


_CONTENTS_RE = re.compile(rb"<Contents>.*?</Contents>", re.S)
_S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class _FastS3:
    """The two requests a JACS store makes by the thousand — a conditional PUT
    (``If-None-Match: *``) of a small object and a ListObjectsV2 page — signed with
    SigV4 and sent over a keep-alive connection per thread, for S3-compatible
    endpoints with path-style addressing.

    botocore spends about 2.5 ms of CPU (under the GIL) on each request, and more
    on parsing a listing page; migrating or listing many small documents is bound
    by that. These paths do the same requests in a fraction of it. They only handle
    the plain outcomes — for a PUT 200 (created, with the ETag) and 412/409 (exists),
    for a listing a 200 page; for anything else they return None and the caller
    repeats the request through botocore, which retries and reports errors.
    Credentials come from the client (static keys, a profile or a role alike).
    """

    MAX = 8 << 20

    def __init__(self, client: Any, bucket: str, connect_timeout: float, read_timeout: float) -> None:
        from urllib.parse import urlsplit

        u = urlsplit(client.meta.endpoint_url)
        self.https = u.scheme == "https"
        self.host = u.hostname or ""
        self.port = u.port or (443 if self.https else 80)
        self.host_header = u.netloc
        self.base = (u.path.rstrip("/") + "/" + bucket).replace("//", "/")
        self.region = client.meta.region_name or "us-east-1"
        self.client = client
        self.timeout = max(connect_timeout, read_timeout)
        self._tls = threading.local()
        self._keys: dict[tuple[str, str], bytes] = {}

    def _conn(self) -> http.client.HTTPConnection:
        c: http.client.HTTPConnection | None = getattr(self._tls, "conn", None)
        if c is None:
            import http.client

            if self.https:
                import ssl

                c = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                context=ssl.create_default_context())
            else:
                c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._tls.conn = c
        return c

    def _drop(self) -> None:
        c = getattr(self._tls, "conn", None)
        self._tls.conn = None
        if c is not None:
            with contextlib.suppress(Exception):
                c.close()

    def _signing_key(self, secret: str, day: str) -> bytes:
        import hashlib
        import hmac

        k = self._keys.get((secret, day))
        if k is None:
            k = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): k}
        return k

    def _signed(self, method: str, path: str, query: str, payload: str,
                extra: dict[str, str]) -> dict[str, str] | None:
        import hashlib
        import hmac
        import time

        creds = self.client._request_signer._credentials  # botocore's resolved credentials (no public accessor)
        if creds is None:
            return None
        try:
            frozen = creds.get_frozen_credentials()
        except Exception:  # botocore will report it
            return None
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        day = amz_date[:8]
        headers = {"host": self.host_header, "x-amz-content-sha256": payload, "x-amz-date": amz_date, **extra}
        if frozen.token:
            headers["x-amz-security-token"] = frozen.token
        names = sorted(headers)
        canonical = "\n".join([method, path, query, *(f"{n}:{headers[n]}" for n in names), "", ";".join(names),
                               payload])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        sig = hmac.new(self._signing_key(frozen.secret_key, day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={sig}")
        return headers

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: bytes | None) -> tuple[http.client.HTTPResponse, bytes] | None:
        try:
            conn = self._conn()
            conn.request(method, url, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self._drop()
            return resp, data
        except Exception:  # a dropped keep-alive connection, a timeout …
            self._drop()
            return None

    def put_if_absent(self, full_key: str, data: bytes, sse: str | None) -> tuple[bool, str] | None:
        import hashlib
        from urllib.parse import quote

        path = self.base + "/" + quote(full_key, safe="/~")
        extra = {"if-none-match": "*"}
        if sse:
            extra["x-amz-server-side-encryption"] = sse
        headers = self._signed("PUT", path, "", hashlib.sha256(data).hexdigest(), extra)
        if headers is None:
            return None
        headers["content-length"] = str(len(data))
        got = self._send("PUT", path, headers, data)
        if got is None:
            return None
        resp, _body = got
        if resp.status == 200:
            return True, (resp.getheader("ETag") or "").strip('"')
        if resp.status in (409, 412):
            return False, ""
        return None

    _EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    def get(self, full_key: str) -> bytes | None:
        """The object's bytes on a plain 200 whose length matches Content-Length;
        None for anything else (404 included: botocore words the error)."""
        from urllib.parse import quote

        path = self.base + "/" + quote(full_key, safe="/~")
        headers = self._signed("GET", path, "", self._EMPTY_SHA, {})
        if headers is None:
            return None
        got = self._send("GET", path, headers, None)
        if got is None:
            return None
        resp, body = got
        if resp.status != 200:
            return None
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) != len(body):
            return None
        return body

    def list_page(self, full_prefix: str, max_keys: int, token: str | None,
                  start_after: str | None) -> tuple[list[list[Any]], str | None] | None:
        """One ListObjectsV2 page: ([(key, size, last_modified, etag)], next_token) or None."""
        from urllib.parse import quote

        # keys come XML-escaped, not URL-encoded: JACS keys never hold the control
        # characters URL encoding is for, and a key that does is refused later anyway
        q = {"list-type": "2", "prefix": full_prefix, "max-keys": str(max_keys)}
        if token:
            q["continuation-token"] = token
        if start_after:
            q["start-after"] = start_after
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(q.items()))
        headers = self._signed("GET", self.base, query, self._EMPTY_SHA, {})
        if headers is None:
            return None
        got = self._send("GET", self.base + "?" + query, headers, None)
        if got is None:
            return None
        resp, body = got
        if resp.status != 200 or b"<ListBucketResult" not in body[:512]:
            return None
        # one pass over the page: the fields of each <Contents>, a <Key> opening each
        # entry (no other element of a ListBucketResult is called Key, Size,
        # LastModified or ETag)
        entries: list[list[Any]] = []  # [key, size, last_modified, etag], filled in place
        cur: list[Any] | None = None
        for tag, val in _LIST_FIELD.findall(body):
            if tag == b"Key":
                key = val.decode("utf-8")
                if "&" in key:
                    key = _xml_text(val)
                cur = [key, 0, "", ""]
                entries.append(cur)
            elif cur is None:
                return None
            elif tag == b"Size":
                cur[1] = int(val or 0)
            elif tag == b"LastModified":
                cur[2] = val.decode()
            else:
                cur[3] = val.decode().replace("&quot;", "").replace("&#34;", "").strip('"')
        if len(entries) != body.count(b"<Contents>"):
            return None
        truncated = b"<IsTruncated>true</IsTruncated>" in body
        nxt = None
        if truncated:
            m = _LIST_TOKEN.search(body)
            if m is None:
                return None
            nxt = _xml_text(m.group(1))
        return entries, nxt


_LIST_FIELD = re.compile(rb"<(Key|Size|LastModified|ETag)>([^<]*)</\1>")
_LIST_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")


def _xml_text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    if "&" in text:
        import html

        text = html.unescape(text)
    return text


def _proxied(endpoint: str | None) -> bool:
    """Would botocore send requests to *endpoint* through a proxy (HTTP(S)_PROXY)?
    Then the fast path, which connects directly, stays off."""
    if not endpoint:
        return False
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    u = urlsplit(endpoint)
    proxies = getproxies()
    if not proxies.get(u.scheme):
        return False
    try:
        return not proxy_bypass(u.hostname or "")
    except Exception:  # unsure: stay on botocore
        return True


def _no_expect_for_small_bodies(model: Any = None, params: dict[str, Any] | None = None, **_kw: Any) -> None:
    if not params or model is None or model.name not in ("PutObject", "UploadPart"):
        return
    headers = params.get("headers") or {}
    if headers.get("Expect") != "100-continue":
        return
    body: Any = params.get("body")  # bytes, or a file-like object
    size = len(body) if isinstance(body, (bytes, bytearray)) else None
    if size is None and hasattr(body, "getbuffer"):
        size = body.getbuffer().nbytes
    if size is not None and size < (1 << 20):
        del headers["Expect"]


def _fast_list_parse(response_dict: dict[str, Any] | None = None,
                     customized_response_dict: dict[str, Any] | None = None, **_kw: Any) -> None:
    """botocore's ``before-parse`` hook for ListObjectsV2.

    botocore turns every ``<Contents>`` entry into a dict field by field in
    Python, which costs more than the request on a local server. Here the
    entries are read with ElementTree (C) and handed back through
    ``customized_response_dict``; botocore parses the rest of the (now small)
    body as usual and still URL-decodes the keys afterwards.
    """
    if not response_dict or response_dict.get("status_code") != 200 or customized_response_dict is None:
        return
    body = response_dict.get("body")
    if not isinstance(body, (bytes, bytearray)) or b"<Contents>" not in body:
        return
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return  # leave it to botocore, which reports the error properly
    contents: list[dict[str, Any]] = []
    for c in root.iter(_S3NS + "Contents"):
        contents.append({
            "Key": c.findtext(_S3NS + "Key") or "",
            "Size": int(c.findtext(_S3NS + "Size") or 0),
            "LastModified": c.findtext(_S3NS + "LastModified"),
            "ETag": c.findtext(_S3NS + "ETag"),
        })
    customized_response_dict["Contents"] = contents
    response_dict["body"] = _CONTENTS_RE.sub(b"", body)


def _describe(exc: Exception, what: str) -> StorageError:
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
        return AccessDenied("No S3 credentials: save them with the connection, or set AWS_ACCESS_KEY_ID/"
                            "AWS_SECRET_ACCESS_KEY or an AWS profile")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = err.get("Message") or code
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFound(f"{what} not found")
        if code == "NoSuchBucket":
            return NotFound(f"The bucket does not exist ({what})")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken",
                    "ExpiredToken", "AuthorizationHeaderMalformed") or status == 403:
            return AccessDenied(f"S3 refused access ({what}): {msg}. Check the access key and secret.")
        return StorageError(f"S3 error on {what}: {code} {msg}".strip())
    return StorageError(f"S3 error on {what}: {exc}")


class S3Store(ObjectStore):
    def __init__(self, bucket: str, prefix: str = "", **options: Any) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise StorageError("An S3 URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.options = dict(options)
        endpoint = options.get("endpoint_url") or None
        region = options.get("region") or None
        cfg: dict[str, Any] = {
            "retries": {"mode": "standard", "max_attempts": int(options.get("max_attempts", 4))},
            "connect_timeout": float(options.get("connect_timeout", 5)),
            "read_timeout": float(options.get("read_timeout", 30)),
            "max_pool_connections": int(options.get("max_pool_connections", 16)),
        }
        if endpoint:
            cfg["s3"] = {"addressing_style": options.get("addressing_style", "path")}
            cfg["request_checksum_calculation"] = "when_required"
            cfg["response_checksum_validation"] = "when_required"
        session = boto3.session.Session(profile_name=options.get("profile") or None)
        # botocore parses every LastModified with dateutil, which dominates listing
        # time; keep the raw text and parse it with the standard library instead
        session._session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=lambda value: value
        )
        creds: dict[str, Any] = {}
        if options.get("access_key") and options.get("secret_key"):
            creds = {
                "aws_access_key_id": options["access_key"],
                "aws_secret_access_key": options["secret_key"],
            }
            if options.get("session_token"):
                creds["aws_session_token"] = options["session_token"]
        try:
            self.client = session.client(
                "s3", endpoint_url=endpoint, region_name=region or ("us-east-1" if endpoint else None),
                config=Config(**cfg), **creds,
            )
        except Exception as exc:  # bad endpoint URL, unknown profile …
            raise StorageError(f"Cannot set up the S3 client: {exc}") from None
        pl = str(options.get("parallel_list", "")).lower()
        self.parallel_list = (pl in ("1", "true", "yes")) if pl else endpoint is None
        self.sse = options.get("sse") or None
        if self.sse not in (None, "AES256", "aws:kms"):
            raise StorageError(f"Unknown server-side encryption {self.sse!r} (use AES256)")
        q: list[str] = []
        if endpoint:
            q.append(f"endpoint_url={endpoint}")
        if region:
            q.append(f"region={region}")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/") + ("?" + "&".join(q) if q else "")
        self._stats_lock = threading.Lock()
        self._tls = threading.local()
        self._inm_ok: bool | None = None
        self.retries = 0
        self.requests = 0
        self.client.meta.events.register("after-call.s3", self._count)
        self.client.meta.events.register("before-parse.s3.ListObjectsV2", _fast_list_parse)
        # botocore asks for "Expect: 100-continue" on every PUT body: a round trip of
        # waiting per object. Small objects (JACS documents) go without it.
        self.client.meta.events.register_last("before-call.s3", _no_expect_for_small_bodies)
        fp = str(options.get("fast_path", "")).lower()
        use_fast = (fp in ("1", "true", "yes")) if fp else bool(endpoint)
        self._fast = (_FastS3(self.client, self.bucket, float(options.get("connect_timeout", 5)),
                               float(options.get("read_timeout", 30)))
                      if use_fast and cfg.get("s3", {}).get("addressing_style") == "path"
                      and not _proxied(endpoint) else None)
        if options.get("create_bucket"):
            self.ensure_bucket()

    def _count(self, http_response: Any = None, parsed: Any = None, **_kw: Any) -> None:
        attempts = 0
        if isinstance(parsed, dict):
            attempts = parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0
        with self._stats_lock:
            self.requests += 1
            self.retries += attempts

    def _k(self, key: str) -> str:
        validate_key(key)
        return self.prefix + key

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except Exception as exc:
            err = _describe(exc, f"bucket {self.bucket}")
            if not isinstance(err, NotFound):
                raise err from None
        import time

        from botocore.exceptions import ClientError

        for attempt in range(4):
            try:
                self.client.create_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code == "BucketAlreadyOwnedByYou":
                    return  # another run (or thread) created it a moment ago: ours, fine
                if code not in ("BucketAlreadyExists", "OperationAborted"):
                    raise _describe(exc, f"creating bucket {self.bucket}") from None
                # someone created it meanwhile (OperationAborted: is creating it): it is
                # usable when we may read it, which a HEAD tells; someone else's is a 403
                time.sleep(0.2 * attempt)
                try:
                    self.client.head_bucket(Bucket=self.bucket)
                    return
                except Exception as head_exc:
                    err = _describe(head_exc, f"bucket {self.bucket}")
                    if isinstance(err, AccessDenied):
                        raise StorageError(f"The bucket name {self.bucket} is taken by another account; "
                                           "choose another name") from None
                    if not isinstance(err, NotFound):
                        raise err from None
            except Exception as exc:
                raise _describe(exc, f"creating bucket {self.bucket}") from None
        raise StorageError(f"Cannot create bucket {self.bucket}: it is reported to exist but cannot be found")

    def check(self) -> None:
        """Raise a clear error when the bucket cannot be used."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise _describe(exc, f"bucket {self.bucket}") from None

    # -- interface --------------------------------------------------------------
    def _info(self, o: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(o["Key"][len(self.prefix):], int(o.get("Size", 0)), _ts(o.get("LastModified")),
                          (o.get("ETag") or "").strip('"') or None)

    def _list_range(self, full: str, start_after: str | None, stop: str | None, page_size: int,
                    token: str | None = None) -> list[dict[str, Any]]:
        """Objects under *full* with start_after < key < stop (S3 orders keys by UTF-8 bytes,
        which is code point order)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full, "MaxKeys": page_size}
        if start_after:
            kwargs["StartAfter"] = start_after
        if token:
            kwargs["ContinuationToken"] = token
        while True:
            page = self.client.list_objects_v2(**kwargs)
            contents = page.get("Contents", ())
            for o in contents:
                if stop is not None and o["Key"] >= stop:
                    return out
                out.append(o)
            if not page.get("IsTruncated") or not contents:
                return out
            kwargs.pop("StartAfter", None)
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def list(self, prefix: str = "", *, page_size: int = 1000, details: bool = True,
             ordered: bool = True) -> Iterator[ObjectInfo]:
        """Paged ListObjectsV2. With ``parallel_list`` a listing longer than one page
        is split by the next character of the key (hex digits first: JACS names are
        UUIDs) and the parts are listed in parallel. That pays on AWS, where each
        request has real latency; on SeaweedFS every prefix request rescans the
        folder and it is slower (measured), so custom endpoints list sequentially
        unless ``parallel_list=1`` is given."""
        full = self.prefix + prefix
        if self._fast is not None and not self.parallel_list:
            token = yield from self._fast_list(self._fast, full, page_size)
            if token is None:
                return
            # the fast path met something unusual: botocore goes on from the same page
            try:
                rest = self._list_range(full, None, None, page_size, token if token != "" else None)
            except Exception as exc:
                raise _describe(exc, f"listing s3://{self.bucket}/{full}") from None
            for o in rest:
                yield self._info(o)
            return
        try:
            first = self.client.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=page_size)
            contents = first.get("Contents", [])
            if not first.get("IsTruncated"):
                for o in contents:
                    yield self._info(o)
                return
            if not self.parallel_list:
                for o in contents:
                    yield self._info(o)
                rest = self._list_range(full, None, None, page_size, first.get("NextContinuationToken"))
                for o in rest:
                    yield self._info(o)
                return
            parts = self._parallel_parts(full, page_size)
        except Exception as exc:
            raise _describe(exc, f"listing s3://{self.bucket}/{full}") from None
        for o in parts:
            yield self._info(o)

    def _fast_list(self, fast: _FastS3, full: str, page_size: int) -> Generator[ObjectInfo, None, str | None]:
        """Yields the objects page by page; returns None when done, or the
        continuation token ("" for the first page) where botocore must take over."""
        n = len(self.prefix)
        token: str | None = None
        while True:
            page = fast.list_page(full, page_size, token, None)
            if page is None:
                with self._stats_lock:
                    self.retries += 1
                return token or ""
            with self._stats_lock:
                self.requests += 1
            entries, token = page
            for key, size, modified, etag in entries:
                yield ObjectInfo(key[n:], size, _ts(modified), etag or None)
            if token is None:
                return None

    # builtins.list: inside the class, `list` is the listing method
    def _parallel_parts(self, full: str, page_size: int) -> builtins.list[dict[str, Any]]:
        from concurrent.futures import ThreadPoolExecutor

        hexdigits = "0123456789abcdef"
        top = "\U0010ffff"
        # keys whose next character is a hex digit
        jobs: list[tuple[str, str | None, str | None]] = [(full + c, None, None) for c in hexdigits]
        jobs.append((full, None, full + "0"))  # next character below '0'
        jobs.append((full, full + "9" + top, full + "a"))  # between '9' and 'a'
        jobs.append((full, full + "f" + top, None))  # above 'f'
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as ex:
            results = list(ex.map(lambda j: self._list_range(j[0], j[1], j[2], page_size), jobs))
        seen: set[str] = set()
        merged: list[dict[str, Any]] = []
        for part in results:
            for o in part:
                if o["Key"] not in seen:
                    seen.add(o["Key"])
                    merged.append(o)
        merged.sort(key=lambda o: o["Key"])
        return merged

    def list_children(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = self.prefix + prefix
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for o in page.get("Contents", ()):
                    yield ObjectInfo(o["Key"][len(self.prefix):], int(o.get("Size", 0)), _ts(o.get("LastModified")))
        except Exception as exc:
            raise _describe(exc, f"listing s3://{self.bucket}/{full}") from None

    def get(self, key: str) -> bytes:
        k = self._k(key)
        if self._fast is not None:
            got = self._fast.get(k)
            if got is not None:
                with self._stats_lock:
                    self.requests += 1
                return got
            with self._stats_lock:  # botocore decides (a missing key, an error, a retry)
                self.retries += 1
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=k)
            data: bytes = r["Body"].read()
            return data
        except Exception as exc:
            raise _describe(exc, key) from None

    def _put_args(self, key: str, data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key), "Body": data}
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        return args

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(**self._put_args(key, data))
        except Exception as exc:
            raise _describe(exc, key) from None

    def _conditional_put_honoured(self) -> bool:
        """Does this server refuse a second If-None-Match: * create? Probed once with a
        scratch object; servers that ignore the header (``rclone serve s3``) get a
        HEAD check before every create instead."""
        if self._inm_ok is not None:
            return self._inm_ok
        with self._stats_lock:
            if self._inm_ok is not None:
                return self._inm_ok
        from botocore.exceptions import ClientError

        probe = self._k(f".jacs-desktop-probe/{uuid.uuid4().hex}")
        ok = False
        try:
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"1", IfNoneMatch="*")
            try:
                self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"2", IfNoneMatch="*")
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                ok = status in (409, 412)
        except Exception:
            ok = False
        finally:
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=probe)
        self._inm_ok = ok
        return ok

    def _remember_etag(self, key: str, etag: str) -> None:
        etags = getattr(self._tls, "etags", None)
        if etags is None or len(etags) > 1000:
            etags = self._tls.etags = {}
        etags[key] = etag

    def written_etag(self, key: str) -> str | None:
        """The ETag the server returned when this thread last created *key* (an MD5
        of the bytes for single-part uploads; not with SSE-KMS, where it is not)."""
        if self.sse == "aws:kms":
            return None
        etags: dict[str, str] = getattr(self._tls, "etags", {})
        return etags.get(key)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        if not self._conditional_put_honoured() and self.stat(key) is not None:
            return False  # the server ignores If-None-Match: the HEAD check keeps versions immutable
        if self._fast is not None and len(data) < _FastS3.MAX:
            got = self._fast.put_if_absent(self._k(key), data, self.sse)
            if got is not None:
                created, etag = got
                with self._stats_lock:
                    self.requests += 1
                if created:
                    self._remember_etag(key, etag)
                return created
            # anything unusual (an error status, a dropped connection): botocore, with its
            # retries and error reporting, has the last word; that is a retry, and counted
            with self._stats_lock:
                self.retries += 1
        try:
            r = self.client.put_object(IfNoneMatch="*", **self._put_args(key, data))
            self._remember_etag(key, (r.get("ETag") or "").strip('"'))
            return True
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return False
            if code in ("NotImplemented", "InvalidArgument") or status == 501:
                self.put(key, data)  # the header is unsupported: the HEAD check above stands
                return True
            raise _describe(exc, key) from None
        except Exception as exc:
            raise _describe(exc, key) from None

    def replace_if_match(self, key: str, data: bytes, etag: str | None) -> bool:
        """Overwrite *key* only while it still has *etag* (``If-Match``): False when it
        changed or went away meanwhile. Used to repair damaged objects (an empty or
        cut-short upload), never to replace a valid version. Servers without If-Match
        get a plain PUT."""
        from botocore.exceptions import ClientError

        if not etag:
            self.put(key, data)
            return True
        if not self._conditional_put_honoured():
            # a server that ignores If-None-Match ignores If-Match too (juicefs gateway, rclone
            # serve s3): look first, and never overwrite what cannot be shown to be unchanged
            st = self.stat(key)
            if st is None or st.etag != etag:
                return False
            self.put(key, data)
            return True
        try:
            r = self.client.put_object(IfMatch=f'"{etag}"', **self._put_args(key, data))
            self._remember_etag(key, (r.get("ETag") or "").strip('"'))
            return True
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey") or status in (404, 409, 412):
                return False
            if code in ("NotImplemented", "InvalidArgument") or status == 501:
                self.put(key, data)
                return True
            raise _describe(exc, key) from None
        except Exception as exc:
            raise _describe(exc, key) from None

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            err = _describe(exc, key)
            if isinstance(err, NotFound):
                return None
            raise err from None
        return ObjectInfo(key, int(r.get("ContentLength", 0)), _ts(r.get("LastModified")),
                          (r.get("ETag") or "").strip('"') or None)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            err = _describe(exc, key)
            if not isinstance(err, NotFound):
                raise err from None

    def move(self, src: str, dst: str) -> None:
        if self.stat(src) is None:
            raise NotFound(f"{src} not found")
        if self.stat(dst) is None:
            try:
                args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(dst),
                        "CopySource": {"Bucket": self.bucket, "Key": self._k(src)}}
                if self.sse:
                    args["ServerSideEncryption"] = self.sse
                self.client.copy_object(**args)
            except Exception as exc:
                raise _describe(exc, dst) from None
        if self.get(dst) != self.get(src):
            raise StorageError(f"Cannot move {src}: {dst} already exists with other content")
        self.delete(src)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
