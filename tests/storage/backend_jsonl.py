"""The jsonl backend for the shared conformance suite (see conftest.py).

``FACTORIES`` maps a backend name to ``factory(request, tmp_path) -> ObjectStore``; a factory may
call ``pytest.skip(reason)`` when its real server cannot run here (say why).  Session-scoped
server fixtures defined here are picked up by conftest.py's star import.
"""

FACTORIES: dict = {}
