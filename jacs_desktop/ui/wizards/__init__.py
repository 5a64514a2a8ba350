"""Wizards: thin Qt shells over :mod:`jacs_desktop.jobs.flows`, one module per wizard.

:mod:`.base` (the wizard, its pages and the run page), :mod:`.pages` (pages the migrate, backup
and restore wizards share), :mod:`.sign`, :mod:`.migrate`, :mod:`.backup`, :mod:`.restore`.
"""

from .backup import BackupWizard
from .migrate import MigrateWizard
from .restore import RestoreWizard
from .sign import SignWizard

__all__ = ["SignWizard", "MigrateWizard", "BackupWizard", "RestoreWizard"]
