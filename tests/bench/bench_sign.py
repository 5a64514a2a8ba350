"""Signing throughput with one identity (key decrypted once), ours vs jacs.

    .venv/bin/python tests/bench/bench_sign.py [--ed N] [--pq N] [--jacs N]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _world import PASSWORD, jacs_env, make_agent, payload

from jacs_desktop.core.identity import create_agent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ed", type=int, default=2000)
    ap.add_argument("--pq", type=int, default=50)
    ap.add_argument("--jacs", type=int, default=200)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="jacs-bench-sign-"))
    results = {}
    for alg, n in (("ring-Ed25519", args.ed), ("pq2025", args.pq)):
        ident = create_agent(root / alg, "bench", PASSWORD, algorithm=alg)
        signer = ident.signer
        t = time.perf_counter()
        for i in range(n):
            signer.new_document({"jacsDocument": {"type": "message", "content": payload(i)}})
        results[alg] = n / (time.perf_counter() - t)
    with jacs_env(root):
        jed = make_agent(root, "jed", "ed25519")
        t = time.perf_counter()
        for i in range(args.jacs):
            jed.sign_message(payload(i))
        jacs_rate = args.jacs / (time.perf_counter() - t)
    print(f"ours Ed25519: {results['ring-Ed25519']:.0f} docs/s (target >= 200)")
    print(f"ours pq2025:  {results['pq2025']:.1f} docs/s")
    print(f"jacs Ed25519: {jacs_rate:.1f} docs/s (sign_message, stores each document)")
    print(f"ratio ours/jacs (Ed25519): {results['ring-Ed25519'] / jacs_rate:.1f}x")


if __name__ == "__main__":
    main()
