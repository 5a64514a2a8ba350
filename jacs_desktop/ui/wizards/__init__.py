"""Wizards: thin Qt shells over :mod:`jacs_desktop.jobs.flows`."""

from .sign import SignWizard
from .transfer import BackupWizard, MigrateWizard, RestoreWizard

__all__ = ["SignWizard", "MigrateWizard", "BackupWizard", "RestoreWizard"]
