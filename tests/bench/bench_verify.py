"""Verify a whole store: ``jacs-desktop-cli verify --json`` vs the jacs library, whole process.

Each store is one jacs 0.15 agent and N documents of real-world content
(``tests/varied_json.py``: about half have an emoji or other high key, an
integral or a tiny float; some are deeply nested or carry long texts). The
first 100 are signed by jacs itself, the rest with the same agent's key by our
signer (much faster to make), and jacs must find every one valid.

The peer is what a user of the library would run: a Python process that loads
the agent (``JacsClient``), reads every file in ``documents/`` and calls
``verify`` on it, writing one JSON line per result. Ours is the command line,
writing its JSON report to a file. Both are timed from process start to exit,
interleaved, --rounds times; the table shows the minimum and the median wall
time, the ratio of the medians, the median CPU time (with the pool's workers)
and the peak memory of each one's whole process tree (PSS: what a fork shares
is counted once). Run:

    .venv/bin/python tests/bench/bench_verify.py [--sizes 2000,10000] [--rounds 3]

The package is byte-compiled first, as pip does when it installs a wheel (with
PYTHONDONTWRITEBYTECODE set and an editable install, every run would otherwise compile every
module again: about 0.15 s of CPU that no installed copy spends). The CPU columns are also given
per document (µs; whole process including start-up, divided by the store's size): steadier than
wall time on a shared machine.

The 100,000-document store is made and run only when asked for: ``--sizes 2000,10000,100000`` or
``JACS_BENCH_100K=1``. ``JACS_BENCH_DIR`` keeps the stores between runs (making 100,000 documents
takes about two minutes). ``--per-document`` runs the older in-process comparison instead.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _world import PASSWORD, bench_root, jacs_env, make_agent, varied_payload
from varied_json import old_fast_path_refuses  # tests/, put on the path by _world

VENV_BIN = Path(sys.executable).parent
BY_JACS = 100  # documents of each store signed by jacs itself

# the library's way: load the agent, verify every document file, one JSON line per result
PEER = r"""
import json, os, sys
from pathlib import Path
from jacs.client import JacsClient
root, config, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
os.chdir(root)
client = JacsClient(config)
counts = {}
with open(out, "w", encoding="utf-8") as f:
    for p in sorted((root / "documents").glob("*.json")):
        r = client.verify(p.read_text(encoding="utf-8"))
        counts[r.valid] = counts.get(r.valid, 0) + 1
        f.write(json.dumps({"path": p.name, "valid": r.valid, "signer": r.signer_id, "errors": r.errors}) + "\n")
print(json.dumps({"valid": counts.get(True, 0), "invalid": counts.get(False, 0)}))
"""


def make_store(base: Path, n: int) -> Path:
    """A jacs agent and *n* documents in ``documents/`` (made once, kept under JACS_BENCH_DIR)."""
    from jacs_desktop.core.identity import Identity
    from jacs_desktop.core.sign import pretty_json

    root = base / f"store-{n}"
    done = root / "complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    docs = root / "documents"
    t = time.perf_counter()
    slow = 0
    with jacs_env(root):
        client = make_agent(root, "ed", "ed25519")
        docs.mkdir(exist_ok=True)
        for p in docs.glob("*.json"):  # jacs keeps what it signs here too: start from an empty folder
            p.unlink()
        signer = Identity.load(root / "ed.config.json").unlock(PASSWORD)
        for i in range(n):
            content = varied_payload(i)
            slow += old_fast_path_refuses(content)
            if i < BY_JACS:
                doc = json.loads(client.sign_message(content).raw_json)
            else:
                doc = signer.new_document({"jacsDocument": {"type": "message", "content": content}})
            (docs / f"{doc['jacsId']}:{doc['jacsVersion']}.json").write_bytes(pretty_json(doc))
    done.write_text(json.dumps({"documents": n, "old_slow_path": slow}))
    print(f"  made {n} documents in {time.perf_counter() - t:.1f}s ({100 * slow / n:.0f}% would have taken the "
          "old slow canonical path)", flush=True)
    return root


def _tree_pss_mib(pid: int) -> float:
    """Memory of a process and all its children (the pool's workers), MiB: the sum of their PSS
    (pages shared after a fork are counted once, split between the processes that share them)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def timed(cmd: list[str], stdout_path: Path | None = None, env: dict | None = None) -> dict:
    """Run *cmd*: wall seconds, CPU seconds (with its children), peak memory of its whole process
    tree (PSS, sampled every 20 ms), exit code and standard output (unless written to *stdout_path*)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115
    peak = [0.0]
    try:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], _tree_pss_mib(p.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        text = p.stdout.read().decode() if p.stdout else ""
        err = p.stderr.read().decode() if p.stderr else ""
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t
        done.set()
        sampler.join()
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()
    if p.returncode != 0 and err:
        print(err[-2000:], file=sys.stderr)
    return {"s": seconds, "cpu": usage.ru_utime + usage.ru_stime, "rss": peak[0],
            "rc": p.returncode, "out": text}


def check_ours(report: Path, n: int) -> None:
    data = json.loads(report.read_text(encoding="utf-8"))
    s = data["summary"]
    # the store's documents, the agent and the config: all valid
    if s["valid"] != s["total"] or s["total"] < n:
        bad = [r for r in data["results"] if r["status"] != "valid"][:3]
        raise SystemExit(f"our verifier did not find every document valid: {s} {bad}")


def byte_compile() -> None:
    """Compile jacs_desktop to __pycache__ (git ignores it), as an installed wheel is."""
    import compileall

    import jacs_desktop

    compileall.compile_dir(str(Path(jacs_desktop.__file__).parent), quiet=1)


def bench_store(base: Path, n: int, rounds: int) -> dict:
    root = make_store(base, n)
    config = str(root / "ed.config.json")
    ours_cmd = [str(VENV_BIN / "jacs-desktop-cli"), "verify", "--json", str(root)]
    peer_cmd = [sys.executable, "-c", PEER, str(root), config, str(root.parent / f"peer-{n}.jsonl")]
    ours, peer = [], []
    for _ in range(rounds):  # interleaved: both see the same machine load
        report = root.parent / f"ours-{n}.json"
        r = timed(ours_cmd, report)
        if r["rc"] != 0:
            raise SystemExit(f"jacs-desktop-cli verify exited {r['rc']}")
        check_ours(report, n)
        ours.append(r)
        # (JacsClient loads the agent with its private key: it needs the password)
        r = timed(peer_cmd, env={"JACS_PRIVATE_KEY_PASSWORD": PASSWORD})
        counts = json.loads(r["out"].strip().splitlines()[-1]) if r["rc"] == 0 else {}
        if counts.get("valid") != n:
            raise SystemExit(f"jacs did not find every document valid: exit {r['rc']}, {counts}")
        peer.append(r)
    med = statistics.median
    row = {"docs": n, "rounds": rounds,
           "ours_min": min(r["s"] for r in ours), "ours_median": med(r["s"] for r in ours),
           "jacs_min": min(r["s"] for r in peer), "jacs_median": med(r["s"] for r in peer),
           "ours_cpu": med(r["cpu"] for r in ours), "jacs_cpu": med(r["cpu"] for r in peer),
           "ours_rss": max(r["rss"] for r in ours), "jacs_rss": max(r["rss"] for r in peer)}
    row["ratio"] = row["ours_median"] / row["jacs_median"]
    print(f"{n:>8,} {row['ours_min']:>8.2f} {row['ours_median']:>8.2f} {row['jacs_min']:>8.2f} "
          f"{row['jacs_median']:>8.2f} {row['ratio']:>7.2f}x {row['ours_cpu']:>8.2f} {row['jacs_cpu']:>8.2f} "
          f"{row['ours_rss']:>8.0f} {row['jacs_rss']:>8.0f} {1e6 * row['ours_cpu'] / n:>8.0f} "
          f"{1e6 * row['jacs_cpu'] / n:>8.0f}   load {os.getloadavg()[0]:.2f}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-document", action="store_true", help="the older in-process comparison")
    args, rest = ap.parse_known_args()
    if args.per_document:
        from _per_document import main as per_document

        sys.argv = [sys.argv[0], *rest]
        return per_document()
    sizes = [int(s) for s in args.sizes.split(",") if s] or [2000, 10000]
    if not args.sizes and os.environ.get("JACS_BENCH_100K"):
        sizes.append(100_000)
    base = bench_root()
    print(f"bench stores: {base}; load average {os.getloadavg()}; target ratio <= 0.5")
    byte_compile()
    print(f"{'docs':>8} {'ours':>8} {'ours':>8} {'jacs':>8} {'jacs':>8} {'ratio':>8} {'ours':>8} {'jacs':>8} "
          f"{'ours':>8} {'jacs':>8} {'ours':>8} {'jacs':>8}")
    print(f"{'':>8} {'min s':>8} {'median':>8} {'min s':>8} {'median':>8} {'medians':>8} {'CPU s':>8} {'CPU s':>8} "
          f"{'MiB':>8} {'MiB':>8} {'CPU µs':>8} {'CPU µs':>8}")
    for n in sizes:
        bench_store(base, n, args.rounds)


if __name__ == "__main__":
    main()
