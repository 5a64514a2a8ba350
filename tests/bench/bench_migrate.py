"""Migration speed, ours beside the tool a user would reach for, same data, same target, one run.

Each case copies the same folder store (N signed documents, N = --docs, 10,000 by default) to a
fresh place on the target, ours and the peer interleaved over --rounds rounds (the order
alternating), and prints min and median of each and the ratio of the medians, with the
median CPU seconds of each client (ours: this process; the peer: its processes) and, on
SeaweedFS, of the server (the weed process) during each side's runs:

* folder -> folder, peer ``rclone copy`` (target: ours <= 1.0 x); ours keeps crash safety (files
  appear whole or not at all, made durable a batch at a time before they are journalled);
  rclone does not fsync at all;
* folder -> SeaweedFS S3, every copy checked (ETag = MD5 of the bytes), peer ``rclone copy``
  (target <= 0.6 x), both at our default number of transfers (4, rclone's default too) unless
  --concurrency says otherwise; with the CPU per object, and the ratio of client and server CPU
  together, which the ratio of times tends to where both share this machine's cores (what a
  request costs the server by its shape: bench_s3_requests.py);
* folder -> ``rclone serve s3`` and -> the JuiceFS gateway, servers that ignore If-None-Match,
  peer ``rclone copy`` (target <= 1.0 x): ours lists the target once, then one PUT per object;
* folder -> Azurite (when Node.js and tests/azurite are installed), peer: the azure client
  alone (azure-storage-blob uploading every file), printed;
* re-sign migration in documents/second (target >= 200/s).

S3 targets go through S3Store as the application uses it, so the figures follow its data path.

    .venv/bin/python tests/bench/bench_migrate.py [--docs N] [--rounds R] [--slow-docs M]
        [--concurrency N] [--peer-concurrency N] [--only fs,seaweedfs,rclone,juicefs,azure,resign]
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_backup import make_store  # noqa: E402
from cpu import Meter  # noqa: E402
from s3servers import S3_KEY, S3_SECRET, rclone_bin, rclone_serve_s3, seaweedfs  # noqa: E402

from jacs_desktop.core.identity import create_agent  # noqa: E402
from jacs_desktop.jobs.migrate import MigrateOptions, migrate  # noqa: E402
from jacs_desktop.storage.fs import FsStore  # noqa: E402
from jacs_desktop.storage.memory import MemoryStore  # noqa: E402
from jacs_desktop.storage.s3 import S3Store  # noqa: E402
from jacs_desktop.storage.store import Store  # noqa: E402


def _rclone(args: list[str], env: dict | None = None) -> None:
    subprocess.run([rclone_bin(), *args, "-q"], env=env, check=True, stdout=subprocess.DEVNULL)


def _s3_env(endpoint: str) -> dict:
    return dict(os.environ, RCLONE_CONFIG_B_TYPE="s3", RCLONE_CONFIG_B_PROVIDER="Other",
                RCLONE_CONFIG_B_ENDPOINT=endpoint, RCLONE_CONFIG_B_ACCESS_KEY_ID=S3_KEY,
                RCLONE_CONFIG_B_SECRET_ACCESS_KEY=S3_SECRET, RCLONE_CONFIG_B_FORCE_PATH_STYLE="true")


def _cpu(runs: list[Meter], objects: int | None = None) -> str:
    """Median CPU seconds of the client and (when known) the server; per object too when the
    number of objects is given."""
    client = statistics.median(m.client for m in runs)
    servers = [m.server for m in runs if m.server is not None]
    server = statistics.median(servers) if servers else None
    out = f"cpu: client {client:.2f}s" + (f", server {server:.2f}s" if server is not None else "")
    if objects:
        out += f"; per object: client {1000 * client / objects:.2f} ms" + (
            f", server {1000 * server / objects:.2f} ms" if server is not None else "")
    return out


def _cpu_total(runs: list[Meter]) -> float | None:
    """Median CPU seconds of client and server together (None: the server's are unknown). Where
    both share this machine's cores, a run takes at least this over the number of cores, and the
    ratio of two sides' totals is what their wall times tend to when the cores are the bound."""
    servers = [m.server for m in runs if m.server is not None]
    if not servers:
        return None
    return statistics.median(m.client for m in runs) + statistics.median(servers)


def side_by_side(name: str, ours: Callable[[int], None], theirs: Callable[[int], None], peer: str, rounds: int,
                 target: float | None, server_pid: int | None = None, objects: int | None = None) -> None:
    """Time ours and the peer, interleaved (the order alternating), and print both and the ratio
    (with a server on this machine: also the ratio of CPU, client and server together)."""
    m_ours: list[Meter] = []
    m_theirs: list[Meter] = []
    load = [os.getloadavg()[0]]
    for r in range(rounds):
        order = [(ours, m_ours), (theirs, m_theirs)]
        for fn, meters in order if r % 2 == 0 else order[::-1]:
            subprocess.run(["sync"], check=False)
            with Meter(server_pid) as m:
                fn(r)
            meters.append(m)
        load.append(os.getloadavg()[0])
    t_ours, t_theirs = [m.wall for m in m_ours], [m.wall for m in m_theirs]
    mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
    goal = f" (target <= {target})" if target is not None else ""
    met = "" if target is None else ("  met" if mo / mt <= target else "  NOT met")
    c_ours, c_theirs = _cpu_total(m_ours), _cpu_total(m_theirs)
    best = "" if c_ours is None or not c_theirs else (
        f" | CPU, client and server: {c_ours / c_theirs:.2f} x the peer's (ours needs at least "
        f"{c_ours / (os.cpu_count() or 1):.2f}s on {os.cpu_count()} cores)")
    print(f"{name}: ours min {min(t_ours):.2f}s median {mo:.2f}s ({_cpu(m_ours, objects)}) | {peer} min "
          f"{min(t_theirs):.2f}s median {mt:.2f}s ({_cpu(m_theirs, objects)}) | ratio {mo / mt:.2f} of medians, {min(t_ours) / min(t_theirs):.2f} of minima{goal}{met}{best}  "
          f"[{rounds} rounds, load average {min(load):.1f}-{max(load):.1f}]", flush=True)


def _migrate_to(source: Store, objects, concurrency: int) -> None:
    r = migrate(source, Store(objects, source.layout), MigrateOptions(concurrency=concurrency, journal=True))
    assert r.ok, r.failed[:3]
    assert r.copied and not r.skipped, r.summary()


def bench_fs(src: Path, tmp: Path, args) -> None:
    source = Store(FsStore(src))

    def ours(r: int) -> None:
        _migrate_to(source, FsStore(tmp / f"fs-ours-{r}", create=True), args.fs_concurrency)

    def theirs(r: int) -> None:
        _rclone(["copy", str(src), str(tmp / f"fs-theirs-{r}"), "--transfers", str(args.fs_concurrency)])

    side_by_side("folder -> folder", ours, theirs, "rclone copy", args.rounds, 1.0)


def bench_s3(name: str, endpoint: str, bucket: str, src: Path, args, target: float | None,
             server_pid: int | None = None) -> None:
    source = Store(FsStore(src))
    env = _s3_env(endpoint)

    def ours(r: int) -> None:
        s3 = S3Store(bucket, f"ours-{r}-{uuid.uuid4().hex[:6]}", endpoint_url=endpoint, access_key=S3_KEY,
                     secret_key=S3_SECRET)
        _migrate_to(source, s3, args.concurrency)

    def theirs(r: int) -> None:
        n = args.peer_concurrency or args.concurrency
        _rclone(["copy", str(src), f"B:{bucket}/theirs-{r}-{uuid.uuid4().hex[:6]}", "--transfers", str(n),
                 "--checkers", str(n)], env)

    objects = sum(1 for p in src.rglob("*") if p.is_file())
    side_by_side(name, ours, theirs, "rclone copy", args.rounds, target, server_pid, objects)


def bench_azure(src: Path, tmp: Path, args) -> None:
    try:
        from storage.backend_azure import azurite, azurite_command, connection_string

        azurite_command()
    except BaseException as exc:  # pytest.fail raises an Exception subclass of BaseException
        print(f"folder -> Azurite: not run ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        return
    from azure.storage.blob import BlobServiceClient

    from jacs_desktop.storage.azure import AzureStore

    source = Store(FsStore(src))
    files = [p for p in src.rglob("*") if p.is_file()]
    with azurite(tmp / "azurite") as endpoint:
        conn = connection_string(endpoint)
        service = BlobServiceClient.from_connection_string(conn)
        service.create_container("theirs")

        def ours(r: int) -> None:
            az = AzureStore(f"ours-{r}-{uuid.uuid4().hex[:6]}", connection_string=conn, create_container=True)
            _migrate_to(source, az, args.concurrency)

        def theirs(r: int) -> None:
            container = service.get_container_client("theirs")
            prefix = f"r{r}-{uuid.uuid4().hex[:6]}/"

            def up(p: Path) -> None:
                container.upload_blob(prefix + p.relative_to(src).as_posix(), p.read_bytes(), overwrite=False)

            with ThreadPoolExecutor(args.concurrency) as ex:
                list(ex.map(up, files))

        side_by_side("folder -> Azurite", ours, theirs, "azure client alone", args.rounds, None)


def bench_resign(source: Store, tmp: Path) -> None:
    ident = create_agent(tmp / "resigner", "resigner", "Bench!Mark#2026xyz")
    t = time.perf_counter()
    r = migrate(source, Store(MemoryStore(uuid.uuid4().hex), source.layout),
                MigrateOptions(resign=ident.signer, only="documents", concurrency=1, journal=False))
    dt = time.perf_counter() - t
    n = sum(1 for k in r.copied if k.startswith("documents/"))
    print(f"re-sign migration: {n / dt:.0f} documents/s (target >= 200)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=MigrateOptions().concurrency,
                    help="transfers at once to servers, ours and rclone's (--transfers, --checkers); default: "
                         "our default, which is rclone's default --transfers too")
    ap.add_argument("--peer-concurrency", type=int, default=None,
                    help="rclone's --transfers and --checkers to servers, when not --concurrency's")
    ap.add_argument("--fs-concurrency", type=int, default=4, help="transfers at once folder to folder")
    ap.add_argument("--only", default="fs,seaweedfs,rclone,juicefs,azure,resign")
    ap.add_argument("--slow-docs", type=int, default=None,
                    help="documents for the slow servers (JuiceFS gateway, Azurite); default --docs")
    args = ap.parse_args()
    only = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="jd-bench-migrate-"))
    os.environ["JACS_DESKTOP_STATE_DIR"] = str(tmp / "state")
    try:
        src = tmp / "store"
        make_store(src, args.docs)
        print(f"made {args.docs} signed documents; load average {os.getloadavg()[0]:.2f}", flush=True)
        if "fs" in only:
            bench_fs(src, tmp, args)
        if "seaweedfs" in only:
            with seaweedfs(tmp / "weed") as endpoint:
                S3Store("bench", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
                bench_s3("folder -> SeaweedFS", endpoint, "bench", src, args, 0.6, seaweedfs.last_process.pid)
        if "rclone" in only:
            with rclone_serve_s3(tmp / "rclone-serve", buckets=["bench"]) as endpoint:
                bench_s3("folder -> rclone serve s3", endpoint, "bench", src, args, 1.0)
        slow = src
        if args.slow_docs is not None and args.slow_docs != args.docs and only & {"juicefs", "azure"}:
            slow = tmp / "store-slow"
            make_store(slow, args.slow_docs)
            print(f"made {args.slow_docs} signed documents for the JuiceFS gateway and Azurite", flush=True)
        if "juicefs" in only:
            try:
                from juicefs import Volume

                volume = Volume(tmp / "juicefs", name="bench").format()
            except Exception as exc:
                print(f"folder -> JuiceFS gateway: not run ({exc})")
            else:
                with volume.gateway() as endpoint:
                    bench_s3("folder -> JuiceFS gateway", endpoint, "bench", slow, args, 1.0)
        if "azure" in only:
            bench_azure(slow, tmp, args)
        if "resign" in only:
            bench_resign(Store(FsStore(src)), tmp)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        with contextlib.suppress(Exception):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
