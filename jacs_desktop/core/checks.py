"""Verdict statuses and one check of a verification: shared by every verifier module."""

from __future__ import annotations

from dataclasses import dataclass

from .jsontypes import JSONObject

__all__ = ["Check", "VALID", "INVALID", "UNVERIFIABLE", "LEGACY", "ERROR",
           "OK", "FAILED", "WARNING", "SKIPPED", "RESERVED_FIELDS", "SIGNATURE_V2"]

VALID = "valid"
INVALID = "invalid"
UNVERIFIABLE = "unverifiable"
LEGACY = "legacy"
#: the document could not be read (storage error): nothing was checked, nothing is known
ERROR = "error"

# check statuses
OK = "ok"
FAILED = "failed"
WARNING = "warning"
SKIPPED = "skipped"

SIGNATURE_V2 = "jacs-signature-v2"
RESERVED_FIELDS = frozenset({"jacsSignature", "jacsSha256", "jacsAgreement", "jacsRegistration"})
#: default size cap for one document (a larger one is refused with a clear message)
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
#: signatures dated further than this in the future get a warning
FUTURE_SKEW_SECONDS = 300


@dataclass
class Check:
    name: str
    status: str
    reason: str

    def to_dict(self) -> JSONObject:
        return {"name": self.name, "status": self.status, "reason": self.reason}


