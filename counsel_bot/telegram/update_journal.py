"""Updates accepted from Telegram, on disk before Telegram hears that they arrived.

In polling mode Telegram drops an update once the next getUpdates asks for a higher offset;
in webhook mode, once the bot answers 200. Before either, the update is appended here and
fsynced (group commit: one fsync for a whole batch). Once it has been handled, a "done"
record follows (not fsynced: after a kill the kernel still has it; after a power cut the
update is handled again, which the step records make harmless). At start-up the updates
without a "done" record are handled again, in order.

The journal also remembers the ids it has seen, so an update Telegram delivers twice (a
webhook retried because our answer was lost) is handled once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from counsel_bot.runtime.journal import Journal
from counsel_bot.telegram.updates import update_id_of

log = logging.getLogger(__name__)

SEEN_MEMORY = 20_000  # update ids remembered for dedupe
COMPACT_EVERY = 5_000  # done records between compactions


class UpdateJournal:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._pending: dict[int, dict[str, Any]] = {}
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._done: list[int] = []
        self._done_due = False
        self._since_compaction = 0

    def load(self) -> list[dict[str, Any]]:
        """The updates accepted but not handled before the last stop, oldest first."""
        for record in self.journal.records():
            op = record.get("op")
            if op == "in":
                update = record["update"]
                self._pending[int(update["update_id"])] = update
                self._remember(int(update["update_id"]))
            elif op == "done":
                for update_id in record["ids"]:
                    self._pending.pop(int(update_id), None)
            elif op == "seen":
                for update_id in record["ids"]:
                    self._remember(int(update_id))
        self._compact()
        return [self._pending[i] for i in sorted(self._pending)]

    def _remember(self, update_id: int) -> None:
        self._seen[update_id] = None
        self._seen.move_to_end(update_id)
        while len(self._seen) > SEEN_MEMORY:
            self._seen.popitem(last=False)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def accept(self, update: dict[str, Any]) -> bool:
        """Append an update (not yet durable: `await sync()`); False for one seen before."""
        update_id = update_id_of(update)
        if update_id is None or update_id in self._seen:
            return False
        self.journal.append([{"op": "in", "update": update}], sync=False)
        self._pending[update_id] = update
        self._remember(update_id)
        return True

    async def sync(self) -> None:
        """Make every accepted update durable, without blocking the event loop."""
        await self.journal.sync_soon()

    def done(self, update_id: int) -> None:
        """The update has been handled; recorded with the others of this loop turn."""
        self._pending.pop(update_id, None)
        self._done.append(update_id)
        if not self._done_due:
            self._done_due = True
            asyncio.get_running_loop().call_soon(self._write_done)

    def _write_done(self) -> None:
        self._done_due = False
        done, self._done = self._done, []
        if not done:
            return
        try:
            self.journal.append([{"op": "done", "ids": done}], sync=False)
        except OSError:
            log.exception("update journal: could not record %d handled update(s); they will "
                          "be handled again (harmlessly) after a restart", len(done))
            return
        self._since_compaction += len(done)
        if self._since_compaction >= COMPACT_EVERY:
            self._compact()

    def flush(self) -> None:
        self._write_done()

    def _compact(self) -> None:
        self.journal.rewrite([{"op": "seen", "ids": list(self._seen)},
                              *({"op": "in", "update": u} for u in self._pending.values())])
        self._since_compaction = 0
