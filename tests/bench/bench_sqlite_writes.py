"""Write cost of the SQLite store: N single document puts into a store of BASE documents
(the median of 5 rounds, ms per put), and a migration of M documents from a folder into a
new ``sqlite://`` store (seconds). Run against another tree with PYTHONPATH set to it.
N defaults to ``sqlite_grams.TAIL_FOLD`` (256): single puts leave their rows in the
short-text index's tail and every 256th enters them all, so each round pays for one such
entry (the figure is what a put costs on average, not the cheap ones alone). The second line
splits it: the median single put, and the few slow ones (that entry, and the puts in which
SQLite checkpoints its write-ahead log) as their share of the average; and the process's
CPU time a put (the rest is waiting for the disk, or for the other programs on the machine).

    python tests/bench/bench_sqlite_writes.py [BASE N M]
"""

import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jacs_desktop.jobs.migrate import MigrateOptions, migrate
from jacs_desktop.storage.opener import open_store
from jacs_desktop.storage.sqlite import SqliteStore

rnd = random.Random(5)
WORDS = ["agreement", "memo", "report", "Ünïcode", "budget", "plan", "✓", "alpha", "beta", "2025"]


def doc(jid: str | None = None) -> tuple[str, bytes]:
    jid = jid or str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    ver = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    d = {"jacsId": jid, "jacsVersion": ver, "jacsType": rnd.choice(["header", "message"]),
         "title": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6))),
         "jacsVersionDate": "2025-05-01T00:00:00Z",
         "jacsSignature": {"agentID": str(uuid.UUID(int=rnd.getrandbits(128), version=4))}}
    return f"documents/{jid}:{ver}.json", json.dumps(d, ensure_ascii=False).encode()


def main(base: int = 1000, n: int = 256, m: int = 2000) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sqlite-writes-"))
    try:
        s = SqliteStore(tmp / "a.sqlite3")
        for _ in range(base):
            s.put(*doc())
        rounds, cpu, each = [], [], []
        for _ in range(5):
            items = [doc() for _ in range(n)]
            t, tc = time.perf_counter(), time.process_time()
            for k, v in items:
                t0 = time.perf_counter()
                s.put(k, v)
                each.append((time.perf_counter() - t0) * 1000)
            rounds.append((time.perf_counter() - t) / n * 1000)
            cpu.append((time.process_time() - tc) / n * 1000)
        s.close()
        # where a put's time goes: most are short; a few pay for the rest (the one entering the tail, and
        # the ones SQLite checkpoints the write-ahead log in)
        typical = statistics.median(each)
        slow = [x for x in each if x > 5 * typical]
        src = tmp / "src"
        (src / "documents").mkdir(parents=True)
        for _ in range(m):
            k, v = doc()
            (src / k).write_bytes(v)
        t = time.perf_counter()
        r = migrate(open_store(str(src)), open_store(f"sqlite://{tmp}/b.sqlite3", create=True),
                    MigrateOptions(journal=False))
        took = time.perf_counter() - t
        print(f"put: {statistics.median(rounds):.2f} ms a document (store of {base:,}; rounds "
              f"{', '.join(f'{x:.2f}' for x in rounds)}); migrate {m:,} folder -> sqlite: {took:.2f} s "
              f"(copied {len(r.copied):,}, failed {len(r.failed)})")
        print(f"  a put: median {typical:.2f} ms; {len(slow) / 5:.1f} a round over 5x that ({sum(slow) / len(each):.2f} "
              f"ms a put of the average: the entry of the tail, checkpoints), longest {max(each):.0f} ms; "
              f"CPU {statistics.median(cpu):.2f} ms a put")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
