"""What one object costs SeaweedFS, by the shape of the request that writes it.

Writes the same --objects small JSON documents (about 1.9 KB each, named like a JACS store's
``documents/ID:VERSION.json``) to one ``weed mini`` (tests/s3servers.py), once per request
shape and round, the shapes interleaved (the order alternating each round), --concurrency at
once, and prints per shape the median wall time and the CPU per object of the server (the weed
process, from /proc) and of the client (this process and the tools it ran):

* ours as the migration writes: one create-only PUT (``If-None-Match: *``) through obstore,
  checked by the ETag it answers;
* ours with a plain PUT (no condition), for comparison only: the migration never writes so to a
  server that honours ``If-None-Match``, since a writer in between would be silently overwritten;
* ours with a PUT and a HEAD after it (what checking by a second request would cost);
* ours: a HEAD of a missing key (what the server spends on a request that writes nothing);
* boto3 ``put_object`` (sends ``Expect: 100-continue`` and a CRC32 checksum), with and without
  ``IfNoneMatch='*'``;
* ``rclone copy`` (a PUT with Content-MD5 and an mtime header, then a HEAD of each object) and
  ``rclone copy --s3-no-head`` (the PUT only).

    .venv/bin/python tests/bench/bench_s3_requests.py [--objects N] [--rounds R] [--concurrency C]
        [--only NAME,NAME]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from cpu import Meter  # noqa: E402
from s3servers import S3_KEY, S3_SECRET, rclone_bin, seaweedfs  # noqa: E402

from jacs_desktop.storage.s3 import S3Store  # noqa: E402

Items = list[tuple[str, bytes]]


def make_objects(root: Path, n: int) -> Items:
    """*n* documents under root/documents, each about 1.9 KB of JSON (text and a hex signature)."""
    folder = root / "documents"
    folder.mkdir(parents=True)
    items: Items = []
    for i in range(n):
        body = json.dumps({"jacsId": str(uuid.uuid4()), "i": i, "text": "lorem ipsum dolor sit amet " * 20,
                           "signature": os.urandom(640).hex()}).encode()
        name = f"{uuid.uuid4()}:{uuid.uuid4()}.json"
        (folder / name).write_bytes(body)
        items.append((f"documents/{name}", body))
    return items


def shapes(endpoint: str, src: Path, items: Items, concurrency: int) -> dict[str, Callable[[], None]]:
    """Each shape: a function writing (or, for HEAD, asking about) every item once, under a new prefix."""

    def pool(fn: Callable[[tuple[str, bytes]], object]) -> None:
        with ThreadPoolExecutor(concurrency) as ex:
            list(ex.map(fn, items))

    def ours() -> S3Store:
        return S3Store("bench", f"ours-{uuid.uuid4().hex[:8]}", endpoint_url=endpoint, access_key=S3_KEY,
                       secret_key=S3_SECRET)

    def ours_create() -> None:
        s = ours()
        assert s.conditional_create_honoured()

        def one(kv: tuple[str, bytes]) -> None:
            assert s.put_if_absent(*kv)
            assert s.written_etag(kv[0])

        pool(one)

    def ours_put() -> None:
        s = ours()
        pool(lambda kv: s.put(*kv))

    def ours_put_head() -> None:
        s = ours()

        def one(kv: tuple[str, bytes]) -> None:
            s.put(*kv)
            assert s.stat(kv[0]) is not None

        pool(one)

    def ours_head_missing() -> None:
        s = ours()
        pool(lambda kv: s.stat(kv[0]))

    def boto(**extra: str) -> Callable[[], None]:
        def run() -> None:
            import boto3
            from botocore.config import Config

            c = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                             region_name="us-east-1", config=Config(s3={"addressing_style": "path"},
                                                                    max_pool_connections=concurrency + 2))
            prefix = f"boto-{uuid.uuid4().hex[:8]}/"
            pool(lambda kv: c.put_object(Bucket="bench", Key=prefix + kv[0], Body=kv[1], **extra))

        return run

    env = dict(os.environ, RCLONE_CONFIG_B_TYPE="s3", RCLONE_CONFIG_B_PROVIDER="Other",
               RCLONE_CONFIG_B_ENDPOINT=endpoint, RCLONE_CONFIG_B_ACCESS_KEY_ID=S3_KEY,
               RCLONE_CONFIG_B_SECRET_ACCESS_KEY=S3_SECRET, RCLONE_CONFIG_B_FORCE_PATH_STYLE="true")

    def rclone(*flags: str) -> Callable[[], None]:
        def run() -> None:
            subprocess.run([rclone_bin(), "copy", str(src), f"B:bench/rclone-{uuid.uuid4().hex[:8]}", "--transfers",
                            str(concurrency), "--checkers", str(concurrency), "-q", *flags], env=env, check=True)

        return run

    return {
        "ours: create-only PUT (the migration's)": ours_create,
        "ours: plain PUT (comparison only)": ours_put,
        "ours: PUT, then HEAD": ours_put_head,
        "ours: HEAD of a missing key": ours_head_missing,
        "boto3 put_object": boto(),
        "boto3 put_object IfNoneMatch=*": boto(IfNoneMatch="*"),
        "rclone copy (PUT, then HEAD)": rclone(),
        "rclone copy --s3-no-head": rclone("--s3-no-head"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--only", default="", help="comma-separated words; shapes whose name holds one of them")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jd-bench-s3req-"))
    try:
        items = make_objects(tmp / "src", args.objects)
        with seaweedfs(tmp / "weed") as endpoint:
            warm = S3Store("bench", "warm-up", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET,
                           create_bucket=True)
            for key, body in items[:100]:  # the bucket's first volumes are made on its first writes: not timed
                warm.put(key, body)
            pid = seaweedfs.last_process.pid
            table = shapes(endpoint, tmp / "src", items, args.concurrency)
            words = [w for w in args.only.split(",") if w]
            names = [n for n in table if not words or any(w in n for w in words)]
            meters: dict[str, list[Meter]] = {n: [] for n in names}
            load = [os.getloadavg()[0]]
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    with Meter(pid) as m:
                        table[name]()
                    meters[name].append(m)
                load.append(os.getloadavg()[0])
        n = len(items)
        print(f"{n} objects of about {sum(len(b) for _k, b in items) // n} B, {args.concurrency} at once, "
              f"{args.rounds} rounds (medians), load average {min(load):.1f}-{max(load):.1f}")
        for name, ms in meters.items():
            server = [m.server for m in ms if m.server is not None]
            per = f"server {1000 * statistics.median(server) / n:.2f} ms" if server else "server unknown"
            print(f"  {name:42s} wall {statistics.median(m.wall for m in ms):6.2f} s | CPU per object: {per}, "
                  f"client {1000 * statistics.median(m.client for m in ms) / n:.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
