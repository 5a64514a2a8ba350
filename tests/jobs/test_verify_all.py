"""verify_store in a process pool: the same verdicts in the same order as in one process, streamed,
cancellable, with progress; the CLI's JSON report written as it goes is one valid JSON document."""

import json
import multiprocessing
import os
import subprocess
import sys
import threading

import pytest
from varied_json import varied_payload

from jacs_desktop.core.identity import create_agent
from jacs_desktop.core.sign import pretty_json
from jacs_desktop.jobs import verify_all
from jacs_desktop.jobs.common import Cancelled
from jacs_desktop.jobs.verify_all import verify_store
from jacs_desktop.storage.fs import FsStore
from jacs_desktop.storage.store import Store

N = 240


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """An agent, N varied documents, some tampered with (invalid) and one that is not JSON."""
    root = tmp_path_factory.mktemp("pool")
    ident = create_agent(root, "pool", "Pool!Test#2026xyz")
    docs = root / "jacs_data" / "documents"
    docs.mkdir(parents=True, exist_ok=True)
    for i in range(N):
        doc = ident.signer.new_document({"jacsDocument": {"type": "message", "content": varied_payload(i)}})
        if i % 37 == 5:
            doc["jacsDocument"]["content"]["invoice"] = "changed"
        (docs / f"{doc['jacsId']}:{doc['jacsVersion']}.json").write_bytes(pretty_json(doc))
    (docs / "00000000-0000-4000-8000-000000000000:00000000-0000-4000-8000-000000000001.json").write_text("{not json")
    return root


def _children() -> set[str]:
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
        return set(f.read().split())


_BEFORE: set[str] = set()


@pytest.fixture(autouse=True)
def _children_before_the_test():
    """Child processes that were already there (servers other tests' session fixtures started) are not workers."""
    _BEFORE.clear()
    _BEFORE.update(_children())


def _no_workers_left() -> bool:
    """No child process this test started is left (the forked workers are reaped), and none of multiprocessing's."""
    from multiprocessing import resource_tracker

    mine = _children() - _BEFORE
    mine.discard(str(getattr(resource_tracker._resource_tracker, "_pid", None)))  # (spawn's, for the process' life)
    return not mine and multiprocessing.active_children() == []


def _shape(report):
    return [(v.path, v.status, v.kind, v.signer, [c.to_dict() for c in v.checks]) for v in report.results]


def test_the_pool_gives_the_verdicts_of_one_process_in_the_same_order(big_store):
    one = verify_store(Store(FsStore(big_store)), workers=1)
    two = verify_store(Store(FsStore(big_store)), workers=2)
    assert _shape(one) == _shape(two)
    assert one.summary["total"] == N + 2 + 1  # documents, the agent, the config
    assert one.summary["invalid"] == 1 + len([i for i in range(N) if i % 37 == 5])
    assert one.summary["valid"] == one.summary["total"] - one.summary["invalid"]
    assert one.exit_code == two.exit_code == 2
    assert _no_workers_left()


def test_streamed_results_keep_only_counts(big_store):
    seen, ticks = [], []
    r = verify_store(Store(FsStore(big_store)), lambda d, t, m: ticks.append((d, t)), on_result=seen.append,
                     keep=False, workers=2)
    assert r.results == [] and len(seen) == r.total == N + 3
    assert r.summary == {**verify_store(Store(FsStore(big_store)), workers=1).summary, "seconds": r.summary["seconds"]}
    assert ticks[0] == (0, N + 3) and ticks[-1] == (N + 3, N + 3)
    assert [d for d, _ in ticks] == list(range(N + 4))


def test_a_cancel_stops_the_pool_with_the_results_so_far(big_store):
    cancel = threading.Event()

    def progress(done, total, _message):
        if done == 100:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        verify_store(Store(FsStore(big_store)), progress, cancel, workers=2)
    report = info.value.report
    assert isinstance(report, verify_all.VerifyReport) and 100 <= report.total < N
    assert _no_workers_left()


def test_auto_picks_the_pool_for_a_large_local_store_only(big_store, monkeypatch):
    from jacs_desktop.storage.base import ObjectStore
    from jacs_desktop.storage.memory import MemoryStore

    class Remote(MemoryStore):  # any other backend (S3, GCS, Azure: a client that must not be forked)
        pass

    store = Store(FsStore(big_store))
    monkeypatch.setattr(verify_all, "worker_count", lambda: 2)
    monkeypatch.setattr(verify_all.threading, "active_count", lambda: 3)  # a GUI, a test server…
    assert verify_all._pool_size(store, verify_all.MIN_PARALLEL, None) == 1  # no fork beside other threads
    monkeypatch.setattr(verify_all.threading, "active_count", lambda: 1)
    assert verify_all._pool_size(store, verify_all.MIN_PARALLEL, None) == 2
    assert verify_all._pool_size(store, verify_all.MIN_PARALLEL - 1, None) == 1
    assert verify_all._pool_size(Store(MemoryStore()), 10_000, None) == 2  # memory: a forked copy
    assert issubclass(Remote, ObjectStore)
    assert verify_all._pool_size(Store(Remote()), 10_000, None) == 1  # a network store: this process
    assert verify_all._pool_size(Store(Remote()), 10_000, 2) == 1
    monkeypatch.setattr(verify_all, "_start_method", lambda: "spawn")  # no fork: only a folder can be opened again
    assert verify_all._pool_size(Store(MemoryStore()), 10_000, None) == 1
    assert verify_all._pool_size(store, verify_all.MIN_PARALLEL, None) == 2


def test_cli_json_report_is_streamed_and_complete(big_store):
    p = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "verify", "--json", str(big_store)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p.stderr
    data = json.loads(p.stdout)
    assert list(data) == ["results", "summary", "errors"]
    assert len(data["results"]) == data["summary"]["total"] == N + 3
    assert sum(r["status"] == "invalid" for r in data["results"]) == data["summary"]["invalid"]
    text = subprocess.run([sys.executable, "-m", "jacs_desktop.cli", "verify", str(big_store)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert text.returncode == 2 and text.stdout.count("\n✗ invalid") + text.stdout.startswith("✗") >= 1
    assert text.stdout.rstrip().endswith(f"{N + 3} checked: {N + 3 - data['summary']['invalid']} valid, "
                                         f"{data['summary']['invalid']} invalid, 0 unverifiable, 0 legacy")


def test_stream_store_renders_in_the_workers_and_keeps_only_counts(big_store, monkeypatch):
    from jacs_desktop.cli.verify import verdict_json

    monkeypatch.setattr(verify_all, "MIN_PARALLEL", 50)  # the pool, on this small store
    expected = verify_store(Store(FsStore(big_store)), workers=1)
    lines: list[str] = []
    r = verify_all.stream_store(Store(FsStore(big_store)), verdict_json, lines.append, workers=2)
    assert r.results == [] and r.summary == {**expected.summary, "seconds": r.summary["seconds"]}
    by_path = {v.path: v.to_dict() for v in expected.results}
    got = [json.loads(line) for line in lines]
    assert sorted(g["path"] for g in got) == sorted(by_path)
    assert all(g == by_path[g["path"]] for g in got)
    assert _no_workers_left()


def test_stream_store_cancels(big_store):
    cancel = threading.Event()
    lines: list[str] = []

    def write(text):
        lines.append(text)
        if len(lines) == 60:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        verify_all.stream_store(Store(FsStore(big_store)), repr, write, cancel, workers=2)
    assert 60 <= info.value.report.total < N and _no_workers_left()


def test_spawned_workers_open_the_folder_again(big_store, monkeypatch):
    """Where fork is not used (macOS, Windows) the workers are new interpreters that open the same
    folder with the same layout: the same verdicts."""
    monkeypatch.setattr(verify_all, "_start_method", lambda: "spawn")
    one = verify_store(Store(FsStore(big_store)), workers=1)
    two = verify_store(Store(FsStore(big_store)), workers=2)
    assert _shape(one) == _shape(two)
    assert _no_workers_left()


def _copy(src: Store, objects):
    for info in src.objects.list(""):
        objects.put(info.key, src.objects.get(info.key))
    return Store(objects)


@pytest.mark.parametrize("backend", ["sqlite", "jsonl", "memory"])
def test_the_pool_on_sqlite_jsonl_and_memory_gives_the_verdicts_of_one_process(big_store, tmp_path, backend,
                                                                                 monkeypatch):
    """This process reads the bytes and hands them to the workers (a new SQLite connection each, the
    inherited JSON Lines file, a copy of the memory for keys and agents): the same verdicts, in order."""
    from jacs_desktop.cli.verify import verdict_json
    from jacs_desktop.storage.jsonl import JsonlStore
    from jacs_desktop.storage.memory import MemoryStore
    from jacs_desktop.storage.sqlite import SqliteStore

    objects = {"sqlite": lambda: SqliteStore(tmp_path / "s.db"), "jsonl": lambda: JsonlStore(tmp_path / "s.jsonl"),
               "memory": MemoryStore}[backend]()
    store = _copy(Store(FsStore(big_store)), objects)
    one = verify_store(store, workers=1)
    calls: list[int] = []
    real = verify_all._in_pool
    monkeypatch.setattr(verify_all, "_in_pool", lambda *a: calls.append(a[2]) or real(*a))
    two = verify_store(store, workers=2)
    assert calls == [2] and _shape(one) == _shape(two) and one.summary["total"] == N + 3
    lines: list[str] = []
    monkeypatch.setattr(verify_all, "MIN_PARALLEL", 50)
    r = verify_all.stream_store(store, verdict_json, lines.append)
    assert [json.loads(line) for line in lines] == [v.to_dict() for v in one.results]
    assert r.summary == {**one.summary, "seconds": r.summary["seconds"]}
    assert _no_workers_left()


def test_verify_items_checks_bytes_on_the_pool_in_order(big_store):
    """verify_items: (name, bytes) items not in the store (a restore), verified with the store's keys on
    the pool, in the items' order, with the verdicts store.verify_data gives; stopping early stops it."""
    store = Store(FsStore(big_store))
    docs = sorted((big_store / "jacs_data" / "documents").iterdir())
    items = [(f"restored/{p.name}", p.read_bytes()) for p in docs]
    items.insert(3, ("restored/broken.json", b'{"jacsId": "x", "jacsId": "y"}'))  # a duplicate key: invalid
    expected = [store.verify_data(data, path=name) for name, data in items]
    got = list(verify_all.verify_items(store, items, workers=2))
    assert [(s, v.to_dict()) for s, v in got] == [(v.status, v.to_dict()) for v in expected]
    assert got[3][0] == "invalid" and sum(s == "invalid" for s, _ in got) == 2 + len(range(5, N, 37))
    gen = verify_all.verify_items(store, items, workers=2)
    assert next(gen)[1].path == items[0][0]
    gen.close()
    assert _no_workers_left()


def test_a_worker_that_dies_is_an_error_not_a_hang(big_store, monkeypatch):
    """A worker killed mid-run (out of memory, a signal) or failing ends the run with an error
    naming it, with no worker left behind; never a hang or a partial "valid" report."""
    monkeypatch.setattr(verify_all, "_verify_chunk", lambda jobs, render: os._exit(3))
    with pytest.raises(verify_all.WorkerFailed, match="stopped unexpectedly"):
        verify_store(Store(FsStore(big_store)), workers=2)
    assert _no_workers_left()

    def broken(jobs, render):
        raise RuntimeError("a bug")

    monkeypatch.setattr(verify_all, "_verify_chunk", broken)
    with pytest.raises(verify_all.WorkerFailed, match="RuntimeError: a bug"):
        list(verify_all.verify_items(Store(FsStore(big_store)), [("a", b"{}")] * 10, workers=2))
    assert _no_workers_left()


def test_cli_json_report_from_the_pool_is_the_report_of_one_process(big_store, monkeypatch, capsys):
    from jacs_desktop.cli.app import main

    assert main(["verify", "--json", str(big_store)]) == 2  # (240 versions: this process)
    one = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(verify_all, "MIN_PARALLEL", 50)
    monkeypatch.setattr(verify_all.threading, "active_count", lambda: 1)  # (whatever the test runner runs)
    used: list[int] = []
    real = verify_all._in_pool_slices
    monkeypatch.setattr(verify_all, "_in_pool_slices", lambda *a: used.append(a[2]) or real(*a))
    assert main(["verify", "--json", str(big_store)]) == 2
    two = json.loads(capsys.readouterr().out)
    assert used == [verify_all.worker_count()] and used[0] > 1
    for report in (one, two):
        report["summary"].pop("seconds")
    assert two == one and len(one["results"]) == N + 3
    assert _no_workers_left()


@pytest.mark.parametrize("as_json", [True, False])
def test_stream_store_writes_a_slice_at_once_with_the_same_output(big_store, monkeypatch, as_json):
    """The command line writes each slice's renderings in one write: byte for byte what one write
    per verdict gives, in the same order."""
    import argparse
    import io

    from jacs_desktop.cli import verify as cli_verify

    monkeypatch.setattr(verify_all, "MIN_PARALLEL", 50)  # the pool, on this small store
    outputs = []
    for many in (False, True):
        buf = io.StringIO()
        monkeypatch.setattr(cli_verify.sys, "stdout", buf)
        out = cli_verify._Streamed(argparse.Namespace(json=as_json, verbose=False))
        calls: list[int] = []
        write_many = ((lambda texts, calls=calls, out=out: calls.append(len(texts)) or out.write_many(texts))
                      if many else None)
        report = verify_all.stream_store(Store(FsStore(big_store)), out.render, out.write, workers=2,
                                         write_many=write_many)
        report.seconds = 0.0  # (the one figure that differs from run to run)
        out.finish(report)
        outputs.append(buf.getvalue())
        if many:
            assert len(calls) < report.total and sum(calls) == report.total  # (slices, not one at a time)
    assert outputs[0] == outputs[1]
    if as_json:
        data = json.loads(outputs[1])
        assert len(data["results"]) == N + 3
    assert _no_workers_left()
