"""`counsel-bot audit verify`: the check, as a function the CLI calls."""

from __future__ import annotations

from typing import TextIO

from counsel_bot.audit.log import AuditTrail


def run_verify(log: AuditTrail, out: TextIO, anchor: str | None = None) -> int:
    """Verify the chain (and an optional anchor), print the outcome; 0 if intact, else 1."""
    result = log.verify(anchor)
    if result.ok:
        print(f"audit log: {result.entries:,} entries, chain intact", file=out)
        print(f"anchor (keep it elsewhere, pass it to a later verify): {result.anchor}", file=out)
        return 0
    if result.first_bad is None:
        print(f"audit log: {result.entries:,} entries, cannot be fully checked "
              f"({result.reason})", file=out)
    else:
        print(f"audit log: entry {result.first_bad:,} was altered or removed "
              f"({result.reason})", file=out)
    return 1
