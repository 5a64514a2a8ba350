"""Compressing attachments as the jacs library does (miniz_oxide via cramjam), vs zlib level 6.

    .venv/bin/python tests/bench/bench_gzip.py [--mb N]

Prints MB/s of input for the library's exact stream and for zlib, and the time of a
repeated external-attachment check on the same file (served from the digest cache).
"""

import argparse
import time

from jacs_desktop.core import jacsgzip


def _mixed(n: int) -> bytes:
    parts, size, i = [], 0, 0
    while size < n:
        k = 20_000 + (i * 7919) % 30_000
        part = jacsgzip._kat_data(("text", "random")[i % 2], k, i) if i % 3 else bytes(k)
        parts.append(part)
        size += k
        i += 1
    return b"".join(parts)[:n]


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=20)
    args = ap.parse_args()
    n = args.mb * 1_000_000
    assert jacsgzip.exact_available(), jacsgzip.exact_unavailable_reason()
    for kind, make in (("text", lambda n: jacsgzip._kat_data("text", n, 1)),
                       ("random", lambda n: jacsgzip._kat_data("random", n, 2)), ("mixed", _mixed)):
        data = make(n)
        ours = best(lambda data=data: jacsgzip._exact_stream(data))
        zl = best(lambda data=data: jacsgzip._zlib_stream(data))
        jacsgzip.clear_cache()
        t = time.perf_counter()
        next(jacsgzip.external_digests(data))
        first = time.perf_counter() - t
        again = best(lambda data=data: next(jacsgzip.external_digests(data)), repeat=5)
        print(f"{kind:6} {args.mb} MB: exact {n / ours / 1e6:6.1f} MB/s   zlib-6 {n / zl / 1e6:6.1f} MB/s   "
              f"check {first:.2f} s, again (cached) {again * 1000:.1f} ms")


if __name__ == "__main__":
    main()
