"""The bot's inbox on PostgreSQL: notes from the admin command line and the web desk as rows
of a `PgQueue` named "inbox", so that they can be posted from any machine and are acted on
by one of the bot instances on the database (see inbox.py for the file inbox and the rules).

A note is claimed under a lease: the instance that takes it acts on it and marks it done; one
that dies meanwhile leaves it to another after the lease (acting twice is harmless). A note
whose row does not open (damaged in the database) is marked done, with an error in the log,
and never shown.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from counsel_bot.store.crypto import DecryptionFailed
from counsel_bot.store.pg_shared import Claim, PgQueue
from counsel_bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)

QUEUE = "inbox"
PURGE_EVERY = 3600.0  # seconds between purges of the notes done (they hold no dedupe key)


class PgInbox:
    """`Inbox`'s interface on a shared queue: `take` hands out claims instead of paths."""

    def __init__(self, store: PostgresStore, *, lease: float = 30.0) -> None:
        self.queue = PgQueue(store, QUEUE, lease=lease)
        self._purged_at = time.monotonic()

    def post(self, note: dict[str, Any]) -> None:
        self.queue.put(note)

    def take(self, limit: int = 100) -> list[tuple[Claim, dict[str, Any]]]:
        """The waiting notes, oldest first, each leased to this instance: `done` once acted
        on, `keep` to give it back. Claimed one at a time, so that a damaged row takes no
        readable note down with it."""
        if time.monotonic() - self._purged_at > PURGE_EVERY:
            self._purged_at = time.monotonic()
            self.queue.purge(timedelta(seconds=PURGE_EVERY))
        notes: list[tuple[Claim, dict[str, Any]]] = []
        failures = 0  # claims that met a damaged row (bounded: another reader may race us)
        while len(notes) < limit and failures < 3:
            try:
                claims = self.queue.claim(1)
            except (DecryptionFailed, ValueError):
                damaged = self.queue.unreadable(finish=True)
                for row in damaged:
                    log.error("inbox: a note cannot be read and is set aside (row %d of the "
                              "inbox queue, marked done)", row)
                failures += 1
                continue
            if not claims:
                break
            (claim,) = claims
            if not isinstance(claim.payload, dict):
                log.error("inbox: a note is not a note and is set aside (%s)",
                          self.set_aside(claim))
                continue
            notes.append((claim, claim.payload))
        return notes

    def done(self, claim: Claim) -> None:
        if not self.queue.complete(claim):
            log.warning("inbox: a note's lease ran out while it was acted on; another "
                        "instance may act on it again (harmlessly)")

    def keep(self, claim: Claim) -> None:
        """Give the note back, to be taken again at the next look."""
        if claim.due is not None:  # due when posted: already past on the server's clock
            self.queue.retry(claim, claim.due)

    def damaged(self) -> list[int]:
        """The ids of waiting notes that cannot be read; changes nothing."""
        return self.queue.unreadable()

    def waiting(self) -> int:
        return self.queue.pending()

    def set_aside(self, claim: Claim) -> str:
        """Mark a note done without acting on it; returns where it went."""
        self.queue.complete(claim)
        return f"row {claim.id} of the inbox queue, marked done"
