"""Wizard page flows without a window (a navigation map, as in Electrum's wizard).

Each flow is a map ``page -> Page(next, validate)`` over a plain ``state`` dict.
``next`` is a page name, a function of the state that returns one, or ``None``
for the last page. The Qt wizards in :mod:`jacs_desktop.ui.wizards` are thin
shells: their pages write into ``flow.state``, ask ``flow.errors(page)`` before
moving on and ``flow.next_of(page)`` for where to go, and run the flow's jobs on
the worker pool. Tests drive the same flows with no Qt at all.

One module per flow: :mod:`.sign` (:class:`SignFlow`, new signed document / new version),
:mod:`.migrate` (:class:`MigrateFlow`), :mod:`.backup` (:class:`BackupFlow`, :class:`RestoreFlow`);
:mod:`.base` has :class:`Flow`, :class:`Page`, :class:`FlowError` and the shared store-URL checks.
The names below are the package's API (``from jacs_desktop.jobs.flows import SignFlow``).
"""

from .backup import BackupFlow, RestoreFlow, default_archive_name
from .base import Flow, FlowError, Page
from .migrate import MigrateFlow
from .sign import MAX_ATTACHMENT_BYTES, MAX_EMBED_BYTES, SignFlow, content_of, parse_content

__all__ = ["FlowError", "Page", "Flow", "SignFlow", "MigrateFlow", "BackupFlow", "RestoreFlow",
           "parse_content", "content_of", "default_archive_name", "MAX_EMBED_BYTES", "MAX_ATTACHMENT_BYTES"]
