"""Start-up on a real X server (issue 16): the installed ``jacs-desktop`` entry point, Qt's xcb
platform, on Xvfb, from process start to its main window mapped (viewable), on the format
fixture store. Target: < 1 s. Also run by ``bench_gui.py``.

The window is found with ``xwininfo -root -tree`` (x11-utils), polled every 10 ms; the poll's own
cost is in the figure, so it is an upper bound. Each round is a fresh process with fresh
settings folders (a first start: no saved geometry, no caches).

    .venv/bin/python tests/bench/bench_start_x11.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(os.environ.get("JACS_FORMAT_DIR", REPO.parent / "shared" / "jacs-format")) / "fixture"


def _xvfb() -> tuple[subprocess.Popen[bytes], str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("Xvfb is missing: run packaging/install-system-deps.sh")
    r, w = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(w), "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise SystemExit("Xvfb did not start")
    return proc, f":{number}"


def _mapped(display: str) -> bool:
    tree = subprocess.run(["xwininfo", "-root", "-tree", "-display", display], capture_output=True, text=True,
                          timeout=10).stdout
    for m in re.finditer(r"^\s*(0x[0-9a-f]+) \"([^\"]*JACS Desktop[^\"]*)\"", tree, re.M):
        info = subprocess.run(["xwininfo", "-id", m.group(1), "-display", display], capture_output=True, text=True,
                              timeout=10).stdout
        if "Map State: IsViewable" in info:
            return True
    return False


def start_once(display: str, store: Path) -> float:
    script = Path(sys.executable).with_name("jacs-desktop")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "run").mkdir(mode=0o700)
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_RUNTIME_DIR=str(t / "run"),
                   **{f"JACS_DESKTOP_{k}_DIR": str(t / k.lower()) for k in ("CONFIG", "STATE", "CACHE", "LOG")})
        env.pop("WAYLAND_DISPLAY", None)
        start = time.perf_counter()
        app = subprocess.Popen([str(script), "--new-instance", str(store)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - start < 60:
                if app.poll() is not None:
                    raise SystemExit(f"jacs-desktop exited with {app.returncode} before showing a window")
                if _mapped(display):
                    return time.perf_counter() - start
                time.sleep(0.01)
            raise SystemExit("no window was mapped within 60 s")
        finally:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()


def run(rounds: int = 5) -> dict[str, float]:
    if shutil.which("xwininfo") is None:
        raise SystemExit("xwininfo is missing: run packaging/install-system-deps.sh (x11-utils)")
    proc, display = _xvfb()
    try:
        start_once(display, FIXTURE)  # warm the file cache once, not counted
        times = [start_once(display, FIXTURE) for _ in range(rounds)]
    finally:
        proc.terminate()
        proc.wait(10)
    out = {"min": min(times), "median": statistics.median(times), "max": max(times), "rounds": rounds}
    print(f"start-up on Xvfb (xcb) to a mapped window, {rounds} rounds: min {out['min']:.2f} s, "
          f"median {out['median']:.2f} s, max {out['max']:.2f} s (target < 1.0 s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    run(args.rounds)


if __name__ == "__main__":
    main()
