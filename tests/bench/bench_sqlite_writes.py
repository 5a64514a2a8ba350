"""Write cost of the SQLite store: N single document puts into a store of BASE documents
(the median of 5 rounds, ms per put), and a migration of M documents from a folder into a
new ``sqlite://`` store (seconds). Run against another tree with PYTHONPATH set to it.
N defaults to ``sqlite_grams.TAIL_FOLD`` (256): single puts leave their rows in the
short-text index's tail and every 256th enters them all, so each round pays for one such
entry (the figure is what a put costs on average, not the cheap ones alone).

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
        rounds = []
        for _ in range(5):
            items = [doc() for _ in range(n)]
            t = time.perf_counter()
            for k, v in items:
                s.put(k, v)
            rounds.append((time.perf_counter() - t) / n * 1000)
        s.close()
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
