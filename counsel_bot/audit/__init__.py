"""The audit trail: who did what, when and why - hash-chained, encrypted, append-only."""

from counsel_bot.audit.cli import run_verify
from counsel_bot.audit.log import (
    DETAIL_KEYS,
    EVENTS,
    REASONS,
    AuditEntry,
    AuditError,
    AuditLog,
    AuditTrail,
    VerifyResult,
)

__all__ = ["DETAIL_KEYS", "EVENTS", "REASONS", "AuditEntry", "AuditError", "AuditLog", "AuditTrail",
           "VerifyResult", "run_verify"]
