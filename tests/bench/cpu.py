"""CPU seconds for the benchmarks: of this process, of the child processes that ended (a
peer tool run with subprocess.run), and of a running server process (by its pid, from
/proc; None where there is no /proc)."""

import os
import resource
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def own() -> float:
    """This process, all its threads."""
    return time.process_time()


def children() -> float:
    """Child processes that ended and were waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def of_pid(pid: int | None) -> float | None:
    """A running process's CPU seconds (user + system, its threads included)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


class Meter:
    """Wall time, client CPU (own + ended children) and server CPU over one run:
    ``with Meter(server_pid) as m: ...`` then m.wall, m.client, m.server (None: unknown)."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.pid = server_pid
        self.wall = self.client = 0.0
        self.server: float | None = None

    def __enter__(self) -> "Meter":
        self._s = of_pid(self.pid)
        self._c = own() + children()
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.client = own() + children() - self._c
        s = of_pid(self.pid)
        self.server = None if s is None or self._s is None else s - self._s
