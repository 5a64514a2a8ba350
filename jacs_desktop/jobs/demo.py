"""A demo store made on the fly with a throwaway identity (first-run welcome).

Everything in it is labelled as demo data: the agent is called "Demo agent
(throwaway)", the folder holds ``DEMO-STORE.txt``, and the key password is random
and forgotten at once. One document is altered after signing on purpose, so the
demo shows what an invalid verdict looks like.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from pathlib import Path

from ..core.identity import create_agent
from ..core.sign import make_attachment, pretty_json
from ..storage.fs import FsStore
from ..storage.store import Store
from .common import ProgressFn

__all__ = ["make_demo_store", "DEMO_MARKER", "is_demo_store"]

DEMO_MARKER = "DEMO-STORE.txt"


def is_demo_store(path: str | Path) -> bool:
    try:
        return (Path(path) / DEMO_MARKER).is_file()
    except (OSError, ValueError):
        return False


def make_demo_store(parent: str | Path | None = None, progress: ProgressFn | None = None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="jacs-desktop-demo-", dir=parent))
    (root / DEMO_MARKER).write_text(
        "This is a JACS Desktop demo store, made with a throwaway identity whose key password\n"
        "was random and is not kept. Nothing here is real data; delete the folder when done.\n", "utf-8")
    password = secrets.token_urlsafe(18) + "!Aa1"
    ident = create_agent(root, "Demo agent (throwaway)", password, description="JACS Desktop demo identity")
    signer = ident.signer
    store = Store(FsStore(root))
    steps = 6

    def tick(n: int, msg: str) -> None:
        if progress:
            progress(n, steps, msg)

    hello = signer.new_document({"title": "Hello from the demo", "jacsDocument": {
        "type": "message", "content": "Every version of a JACS document is signed. Select me to see my checks."}})
    store.put_document(hello, pretty_json(hello))
    tick(1, "message")
    v1 = signer.new_document({"title": "Meeting notes (three versions)", "notes": ["agenda"]})
    v2 = signer.new_version(v1, dict(v1, notes=["agenda", "decisions"]))
    v3 = signer.new_version(v2, dict(v2, notes=["agenda", "decisions", "actions"], status="final"))
    for d in (v1, v2, v3):
        store.put_document(d, pretty_json(d))
    tick(2, "versions")
    csv = b"month,documents\n2026-09,120\n2026-10,180\n2026-11,240\n"
    with_file = signer.new_document({"title": "Report with an attachment"},
                                    attachments=[make_attachment(csv, "files/report.csv", embed=True)])
    store.put_document(with_file, pretty_json(with_file))
    tick(3, "attachment")
    tampered = signer.new_document({"title": "Changed after signing (shows as invalid)", "amount": 100})
    tampered["amount"] = 1_000_000  # altered after signing: the signature no longer holds
    store.put_document(tampered, pretty_json(tampered))
    tick(4, "tampered")
    ident.lock()
    # the private key is useless without its random password; remove it anyway
    with contextlib.suppress(OSError):
        ident.config.private_key_file.unlink()
    tick(steps, "done")
    return root
