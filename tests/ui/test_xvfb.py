"""The real `jacs-desktop` entry point on a real X11 server (Xvfb) with Qt's xcb platform.

Offscreen tests never load the xcb plugin, so they cannot see a missing system library
(`libxcb-cursor0` and friends, installed by packaging/install-system-deps.sh). This test
starts Xvfb, runs the installed `jacs-desktop` script on the fixture store and waits until
X11 reports its main window mapped (viewable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURE


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: run packaging/install-system-deps.sh (xvfb, x11-utils)")
    return path


@pytest.fixture
def xvfb(tmp_path):
    """A private Xvfb display; yields its DISPLAY value."""
    xvfb = _need("Xvfb")
    r, w = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(w), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(w)
    try:
        with os.fdopen(r) as f:
            number = f.readline().strip()
        if not number:
            pytest.fail("Xvfb did not start: " + (proc.stderr.read() or b"").decode(errors="replace")[-2000:])
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _mapped_window(display: str, title: str) -> str | None:
    tree = subprocess.run([_need("xwininfo"), "-root", "-tree", "-display", display],
                          capture_output=True, text=True, timeout=10).stdout
    for m in re.finditer(r"^\s*(0x[0-9a-f]+) \"([^\"]*)\"", tree, re.M):
        if title in m.group(2):
            info = subprocess.run([_need("xwininfo"), "-id", m.group(1), "-display", display],
                                  capture_output=True, text=True, timeout=10).stdout
            if "Map State: IsViewable" in info:
                return m.group(2)
    return None


def test_the_real_entry_point_maps_a_window_on_x11(xvfb, tmp_path):
    script = Path(sys.executable).with_name("jacs-desktop")
    if not script.exists():
        pytest.fail(f"{script} is missing: install the project (pip install -e .)")
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb",
               JACS_DESKTOP_CONFIG_DIR=str(tmp_path / "cfg"), JACS_DESKTOP_STATE_DIR=str(tmp_path / "state"),
               JACS_DESKTOP_CACHE_DIR=str(tmp_path / "cache"), JACS_DESKTOP_LOG_DIR=str(tmp_path / "log"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"))
    env.pop("WAYLAND_DISPLAY", None)
    (tmp_path / "run").mkdir(mode=0o700)
    start = time.monotonic()
    app = subprocess.Popen([str(script), "--new-instance", str(FIXTURE)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        title = None
        while time.monotonic() - start < 60 and app.poll() is None:
            title = _mapped_window(xvfb, "JACS Desktop")
            if title:
                break
            time.sleep(0.2)
        if title is None:
            app.terminate()
            out, err = app.communicate(timeout=20)
            pytest.fail(f"no mapped JACS Desktop window (exit {app.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
        print(f"\nmapped {title!r} after {time.monotonic() - start:.2f} s")
        assert app.poll() is None  # still running: a real window, not a crash after mapping
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(20)
            except subprocess.TimeoutExpired:
                app.kill()
