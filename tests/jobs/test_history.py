"""The jobs list and its history across restarts (Qt-free)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from jacs_desktop.jobs.history import JobHistory, JobRecord, format_bytes, format_eta, public_params


def test_jobs_are_kept_across_restarts_and_a_running_one_comes_back_interrupted(tmp_path) -> None:
    path = tmp_path / "state" / "jobs.json"
    h = JobHistory(path)
    done = h.start("backup", "Back up a store", "/data/store", "/backups/a.tar.gz")
    h.progress(done, 10, 10, "written", nbytes=123_456)
    h.finish(done, "done", "10 entries")
    running = h.start("migrate", "Migrate a store", "/data/store", "s3://bucket/x",
                      params={"source": "/data/store", "target": "s3://bucket/x", "password": "hunter2",
                              "passphrase": "secret words", "only": "all", "source_store": object(),
                              "selected": ["a", "b"]})
    h.progress(running, 3, 10)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    again = JobHistory(path)
    assert [r.id for r in again] == [running.id, done.id]  # newest first
    back = again.get(running.id)
    assert back is not None and back.state == "interrupted" and back.resumable and back.retryable
    assert back.params == {"source": "/data/store", "target": "s3://bucket/x", "only": "all", "selected": ["a", "b"]}
    assert "hunter2" not in path.read_text() and "secret words" not in path.read_text()
    old = again.get(done.id)
    assert old is not None and old.state == "done" and old.bytes == 123_456 and old.summary == "10 entries"
    assert not old.retryable and not old.resumable
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("body", ["{not json", json.dumps({"jobs": "nope"}), json.dumps([1, 2]),
                                  json.dumps({"jobs": [{"kind": "explode", "title": "x"}]})])
def test_a_damaged_history_is_reported_and_started_afresh(tmp_path, body) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(body)
    h = JobHistory(path)
    assert len(h) == 0 and h.load_problem
    h.start("verify", "Verify all", "/x")
    assert len(JobHistory(path)) == 1


def test_finished_jobs_are_capped_and_cleared(tmp_path, monkeypatch) -> None:
    from jacs_desktop.jobs import history

    monkeypatch.setattr(history, "KEEP", 5)
    h = JobHistory(tmp_path / "jobs.json")
    for i in range(8):
        r = h.start("verify", f"Verify {i}", "/x")
        h.finish(r, "done")
    live = h.start("verify", "still running", "/x")
    kept = JobHistory(tmp_path / "jobs.json")
    assert len(kept) == 6 and kept.records[1].title == "Verify 7"  # 5 newest finished + the running one
    assert h.clear_finished() == 8 and [r.id for r in h] == [live.id]


def test_a_history_that_cannot_be_saved_does_not_stop_the_job(tmp_path) -> None:
    (tmp_path / "state").write_text("a file where the folder must be")
    h = JobHistory(tmp_path / "state" / "jobs.json")
    r = h.start("verify", "Verify all", "/x")
    h.finish(r, "done")
    assert r.state == "done" and "could not be saved" in h.load_problem


def test_eta_bytes_and_params() -> None:
    r = JobRecord(kind="migrate", title="m", started=1000.0, done=25, total=100)
    assert r.eta(now=1010.0) == pytest.approx(30.0)
    assert format_eta(30) == "30 s" and format_eta(125) == "2 min 05 s" and format_eta(3700) == "1 h 01 min"
    assert format_bytes(0) == "" and format_bytes(999) == "999 B" and format_bytes(1_500_000) == "1.5 MB"
    assert public_params({"_x": 1, "mode": "verbatim", "secret_key": "k", "account_key": "k",
                          "connection_string": "c", "nested": {"a": 1}}) == {"mode": "verbatim"}
    with pytest.raises(ValueError):
        JobRecord.from_dict({"kind": "migrate", "title": "m", "state": "weird"})
