"""Backup speed: 10,000 signed documents to .tar.gz, ours vs `tar -czf` (target <= 1.5x).

    .venv/bin/python tests/bench/bench_backup.py [--docs N]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jacs_desktop.core.identity import create_agent
from jacs_desktop.jobs.backup import backup
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.store import Store


def make_store(root: Path, n: int) -> None:
    ident = create_agent(root, "bench", "Bench!Mark#2026xyz")
    st = Store(FsStore(root))
    for i in range(n):
        st.put_document(ident.signer.new_document({"jacsDocument": {"type": "message", "content": {
            "i": i, "text": "lorem ipsum dolor sit amet " * 20}}}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jd-bench-backup-"))
    try:
        src = tmp / "store"
        t = time.perf_counter()
        make_store(src, args.docs)
        print(f"made {args.docs} signed documents in {time.perf_counter() - t:.1f}s")
        ours = plain = theirs = float("inf")
        for i in range(7):  # best of 7, interleaved (both are short and noisy)
            t = time.perf_counter()
            backup(Store(FsStore(src)), tmp / f"ours-{i}.tar.gz")  # the default: every version verified too
            ours = min(ours, time.perf_counter() - t)
            t = time.perf_counter()
            backup(Store(FsStore(src)), tmp / f"plain-{i}.tar.gz", verify_versions=False)
            plain = min(plain, time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["tar", "-czf", str(tmp / f"tar-{i}.tar.gz"), "-C", str(src), "."], check=True)
            theirs = min(theirs, time.perf_counter() - t)
        size_o = (tmp / "ours-0.tar.gz").stat().st_size
        size_t = (tmp / "tar-0.tar.gz").stat().st_size
        print(f"ours, every version verified {ours:.2f}s ({size_o:,} B); ours, archive only {plain:.2f}s; "
              f"tar -czf {theirs:.2f}s ({size_t:,} B)")
        print(f"ratio archive only {plain / theirs:.2f} (target <= 1.5), with verification {ours / theirs:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
