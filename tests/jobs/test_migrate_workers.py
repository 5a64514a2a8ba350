"""The migration's transfer threads (jobs.migrate._run_threads): every item handled exactly
once, at most *workers* at once; an exception that escapes a copy (a progress callback
that raises) stops the handing out and reaches the caller, as before with a thread pool;
the journal is closed and a second run finishes what the first did not."""

import threading
import time
import uuid

import pytest

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json
from jacs_desktop.jobs.migrate import MigrateOptions, _run_threads, migrate
from jacs_desktop.storage.memory import MemoryStore
from jacs_desktop.storage.store import Store


def test_every_item_once_and_never_more_than_the_workers_at_once():
    seen: list[int] = []
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def fn(i):
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
            seen.append(i)

    _run_threads(fn, list(range(200)), 6)
    assert sorted(seen) == list(range(200))
    assert 1 < running[1] <= 6
    assert not any(t.name.startswith("migrate-") for t in threading.enumerate())


def test_an_escaping_exception_stops_the_rest_and_is_raised():
    done: list[int] = []

    def fn(i):
        if i == 10:
            raise KeyError("boom")
        time.sleep(0.001)
        done.append(i)

    with pytest.raises(KeyError, match="boom"):
        _run_threads(fn, list(range(1000)), 4)
    assert 10 not in done and len(done) < 1000


def test_a_raising_progress_callback_ends_the_run_and_a_rerun_completes(tmp_path, monkeypatch):
    monkeypatch.setenv("JACS_DESKTOP_STATE_DIR", str(tmp_path / "state"))
    ident = create_agent(tmp_path / "agent", "w", "Work!Ers#2026xyz")
    src = Store(MemoryStore(uuid.uuid4().hex))
    src.put_public_key(ident.public_key, ident.algorithm)
    for i in range(60):
        doc = ident.signer.new_document({"i": i})
        src.put_document(doc, pretty_json(doc))
    dst = Store(MemoryStore(uuid.uuid4().hex))

    class Stop(Exception):
        pass

    def progress(n, total, msg):
        if n == 20:
            raise Stop

    with pytest.raises(Stop):
        migrate(src, dst, MigrateOptions(concurrency=4), progress=progress)
    assert 0 < len(list(dst.objects.list(""))) < 62
    report = migrate(src, dst, MigrateOptions(concurrency=4))
    assert report.ok and len(report.copied) + len(report.skipped) == 62
    assert sorted(o.key for o in dst.objects.list("")) == sorted(o.key for o in src.objects.list(""))
