"""Run a function with a time limit, so a hang fails a test instead of hanging the suite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def bounded(fn: Callable[[], Any], seconds: float = 15, what: str = "") -> Any:
    """*fn* on a daemon thread; its result, or its exception re-raised here.

    A call still running after *seconds* fails the test ("hung for more than N s …").
    """
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"hung for more than {seconds} s" + (f" {what}" if what else "")
    if "error" in out:
        raise out["error"]
    return out["value"]
