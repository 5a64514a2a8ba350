"""Signing throughput with one identity (key decrypted once), ours vs jacs, side by side.

    .venv/bin/python tests/bench/bench_sign.py [--ed N] [--pq N] [--jacs N] [--jacs-pq N] [--rounds R]

Each round signs (and, for jacs, stores: `sign_message` writes every document) N documents;
the rounds are interleaved and the best and median rates printed. pq2025 is also measured
with the pure-Python fallback (dilithium-py), which is what signed before the compiled one.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _world import PASSWORD, jacs_env, make_agent, payload

from jacs_desktop.core import mldsa
from jacs_desktop.core.identity import create_agent
from jacs_desktop.storage.urls import open_store


def _rate(n: int, sign) -> float:
    t = time.perf_counter()
    for i in range(n):
        sign(i)
    return n / (time.perf_counter() - t)


def _show(label: str, rates: list[float]) -> None:
    print(f"{label:<38} best {max(rates):8.1f} docs/s  median {statistics.median(rates):8.1f} docs/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ed", type=int, default=2000)
    ap.add_argument("--pq", type=int, default=200)
    ap.add_argument("--pq-fallback", type=int, default=10)
    ap.add_argument("--jacs", type=int, default=200)
    ap.add_argument("--jacs-pq", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="jacs-bench-sign-"))
    try:
        _bench(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bench(root: Path, args: argparse.Namespace) -> None:
    signers = {alg: create_agent(root / alg, "bench", PASSWORD, algorithm=alg).signer
               for alg in ("ring-Ed25519", "pq2025")}
    stores = {alg: open_store(str(root / alg)) for alg in signers}

    def doc(alg: str):  # signed and stored, as jacs's sign_message does
        return lambda i: stores[alg].put_document(
            signers[alg].new_document({"jacsDocument": {"type": "message", "content": payload(i)}}))

    compiled = mldsa._COMPILED

    def fallback(i: int) -> None:
        mldsa._COMPILED = None  # the pure-Python signer, as before
        try:
            doc("pq2025")(i)
        finally:
            mldsa._COMPILED = compiled

    rates: dict[str, list[float]] = {k: [] for k in ("ed", "pq", "fb", "jed", "jpq")}
    with jacs_env(root):
        jed = make_agent(root, "jed", "ed25519")
        jpq = make_agent(root, "jpq", "pq2025")
        for _ in range(args.rounds):
            rates["ed"].append(_rate(args.ed, doc("ring-Ed25519")))
            rates["jed"].append(_rate(args.jacs, lambda i: jed.sign_message(payload(i))))
            rates["pq"].append(_rate(args.pq, doc("pq2025")))
            rates["jpq"].append(_rate(args.jacs_pq, lambda i: jpq.sign_message(payload(i))))
            rates["fb"].append(_rate(args.pq_fallback, fallback))
    print(f"{args.rounds} rounds, interleaved; ML-DSA-87 signer: {mldsa.BACKEND}")
    _show("ours Ed25519 (stored)", rates["ed"])
    _show("jacs Ed25519 (sign_message, stored)", rates["jed"])
    _show("ours pq2025 (compiled, stored)", rates["pq"])
    _show("ours pq2025 (dilithium-py, stored)", rates["fb"])
    _show("jacs pq2025 (sign_message, stored)", rates["jpq"])
    print(f"ratio ours/jacs Ed25519: {statistics.median(rates['ed']) / statistics.median(rates['jed']):.1f}x; "
          f"pq2025: {statistics.median(rates['pq']) / statistics.median(rates['jpq']):.2f}x (target >= 1), "
          f"fallback {statistics.median(rates['fb']) / statistics.median(rates['jpq']):.2f}x")


if __name__ == "__main__":
    main()
