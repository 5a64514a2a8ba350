"""S3 faults: throttling and server errors are retried and counted; unreachable
endpoints and wrong credentials give a clear error within the timeout."""

import time
import uuid

import pytest
from botocore.awsrequest import AWSResponse
from s3servers import S3_KEY, S3_SECRET, free_port

from jacs_desktop.storage.base import AccessDenied, Unreachable
from jacs_desktop.storage.s3 import S3Store


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kw):
        yield self._body

    def read(self, *a, **kw):
        return self._body


def _inject(store, status: int, code: str, times: int, operation: str = "GetObject"):
    left = {"n": times}

    def hook(request, **kw):
        if left["n"] > 0:
            left["n"] -= 1
            body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))
        return None

    store.client.meta.events.register_first(f"before-send.s3.{operation}", hook)
    return left


@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (500, "InternalError")])
def test_transient_errors_are_retried_and_counted(moto_endpoint, status, code):
    # errors injected into botocore: the fast path is off here (the proxy tests cover it)
    s = S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=moto_endpoint, access_key=S3_KEY,
                secret_key=S3_SECRET, create_bucket=True, max_attempts=5, fast_path="0")
    s.put("documents/a:b.json", b"{}")
    before = s.retries
    left = _inject(s, status, code, 2)
    assert s.get("documents/a:b.json") == b"{}"
    assert left["n"] == 0
    assert s.retries - before == 2


def test_persistent_throttling_gives_up_with_clear_error(moto_endpoint):
    s = S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=moto_endpoint, access_key=S3_KEY,
                secret_key=S3_SECRET, create_bucket=True, max_attempts=3)
    _inject(s, 503, "SlowDown", 100, "HeadObject")
    from jacs_desktop.storage.base import StorageError

    with pytest.raises(StorageError) as exc:
        s.stat("documents/a:b.json")
    assert "503" in str(exc.value) or "SlowDown" in str(exc.value) or "S3 error" in str(exc.value)


def test_unreachable_endpoint_is_clear_and_bounded():
    port = free_port()  # nothing listens here
    start = time.monotonic()
    s = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{port}", access_key="a", secret_key="b",
                connect_timeout=1, read_timeout=2, max_attempts=2)
    with pytest.raises(Unreachable) as exc:
        s.check()
    assert "Cannot reach the S3 endpoint" in str(exc.value)
    assert time.monotonic() - start < 15


def test_wrong_credentials_are_clear(seaweed_endpoint):
    good = S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=seaweed_endpoint, access_key=S3_KEY,
                   secret_key=S3_SECRET, create_bucket=True)
    bad = S3Store(good.bucket, endpoint_url=seaweed_endpoint, access_key=S3_KEY, secret_key="wrong-secret",
                  max_attempts=1)
    with pytest.raises(AccessDenied) as exc:
        bad.put("documents/a:b.json", b"{}")
    assert "Check the access key and secret" in str(exc.value)
    with pytest.raises(AccessDenied):
        list(bad.list(""))
    assert list(good.list("")) == []


def test_server_side_encryption_option(moto_endpoint):
    s = S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=moto_endpoint, access_key=S3_KEY,
                secret_key=S3_SECRET, create_bucket=True, sse="AES256")
    s.put("documents/a:b.json", b"{}")
    head = s.client.head_object(Bucket=s.bucket, Key="documents/a:b.json")
    assert head.get("ServerSideEncryption") == "AES256"


def test_server_ignoring_if_none_match_still_never_overwrites(moto_endpoint):
    """Like `rclone serve s3`: the header is dropped; the HEAD check keeps versions immutable."""
    s = S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=moto_endpoint, access_key=S3_KEY,
                secret_key=S3_SECRET, create_bucket=True)

    def drop_header(request, **kw):
        request.headers.pop("If-None-Match", None)

    s.client.meta.events.register("before-send.s3.PutObject", drop_header)
    assert s.put_if_absent("documents/a:b.json", b"first") is True
    assert s.put_if_absent("documents/a:b.json", b"second") is False
    assert s.get("documents/a:b.json") == b"first"


def test_fast_path_stays_off_behind_a_proxy(monkeypatch):
    """With HTTP_PROXY set for the endpoint, every request goes through botocore
    (which honours the proxy); the direct fast path is off. NO_PROXY turns it back on."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    s = S3Store("b", endpoint_url="http://10.9.8.7:9000", access_key="a", secret_key="b")
    assert s._fast is None
    monkeypatch.setenv("NO_PROXY", "10.9.8.7")
    assert S3Store("b", endpoint_url="http://10.9.8.7:9000", access_key="a", secret_key="b")._fast is not None
    assert S3Store("b", endpoint_url="http://10.9.8.7:9000", access_key="a", secret_key="b",
                   fast_path="0")._fast is None



@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (500, "InternalError")])
def test_transient_errors_on_the_fast_path_are_retried(moto_endpoint, status, code):
    """The same faults answered by a proxy in front of moto: the fast GET gives way to
    botocore, which retries; the retries are counted."""
    from s3servers import fault_proxy

    bucket = f"jd-{uuid.uuid4().hex[:10]}"
    S3Store(bucket, endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
            create_bucket=True).put("documents/a:b.json", b"{}")
    with fault_proxy(moto_endpoint, [(status, code)] * 2, match="/documents/", method="GET") as (ep, left):
        s = S3Store(bucket, endpoint_url=ep, access_key=S3_KEY, secret_key=S3_SECRET, max_attempts=5)
        assert s._fast is not None
        assert s.get("documents/a:b.json") == b"{}"
        assert left == [] and s.retries >= 2
