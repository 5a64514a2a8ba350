"""The jsonl backend for the shared conformance suite (see conftest.py).

``FACTORIES`` maps a backend name to ``factory(request, tmp_path) -> ObjectStore``; a factory may
call ``pytest.skip(reason)`` when its real server cannot run here (say why).  Session-scoped
server fixtures defined here are picked up by conftest.py's star import.

A JSONL store has no network to cut in the middle of an upload: for
``test_interrupted_upload_leaves_nothing`` the factory makes every large append stop
half-way with "No space left on device" (a disk that fills up mid-write), through the
test's own ``monkeypatch``, which the test undoes before it checks that nothing was kept.
"""

import errno


def _jsonl(request, tmp_path):
    from jacs_desktop.storage import jsonl

    store = jsonl.JsonlStore(tmp_path / "store.jsonl", create=True)
    if request.node.name.startswith("test_interrupted_upload"):
        real = jsonl._write_all

        def half_then_disk_full(fd, data):
            if len(data) > 10_000:
                real(fd, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd, data)

        request.getfixturevalue("monkeypatch").setattr(jsonl, "_write_all", half_then_disk_full)
    return store


FACTORIES: dict = {"jsonl": _jsonl}
