"""The scheduler under test, on either backend: the journal `Scheduler` in a data folder, or
`PgScheduler` on a fresh PostgreSQL database (several can be opened on one schedule, as after
a restart or as several instances)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.pg_scheduler import PgScheduler
from counsel_bot.runtime.scheduler import Schedule, Scheduler
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.postgres import PostgresStore

SCHEDULER_BACKENDS = ("journal", "postgresql")


class Schedules:
    """Opens schedulers on one schedule; `close` is what a process's death leaves behind."""

    def __init__(self, backend: str, folder: Path, key: bytes, pg_url: str | None) -> None:
        self.backend = backend
        self.folder = folder
        self.key = key
        self.store = PostgresStore(pg_url, key) if pg_url else None
        self._journals: list[Journal] = []

    def open(self, clock: Callable[[], datetime], *, lease: float = 30.0) -> Schedule:
        """A scheduler on the schedule, loaded (``lease``: PostgreSQL only)."""
        scheduler: Schedule
        if self.store is not None:
            scheduler = PgScheduler(self.store, clock, lease=lease)
        else:
            journal = Journal(self.folder / "schedule.journal", ShardCipher(self.key))
            self._journals.append(journal)
            scheduler = Scheduler(journal, clock=clock)
        scheduler.load()
        return scheduler

    def close(self, scheduler: Schedule) -> None:
        """Let go of what the scheduler holds (its journal), as a process that stops."""
        if isinstance(scheduler, Scheduler) and scheduler.journal in self._journals:
            self._journals.remove(scheduler.journal)
            scheduler.journal.close()

    def close_all(self) -> None:
        for journal in self._journals:
            journal.close()
        if self.store is not None:
            self.store.close()
