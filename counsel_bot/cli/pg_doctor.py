"""``counsel-bot doctor`` on PostgreSQL: find damage in the database, and set it aside.

With ``COUNSEL_BOT_DATABASE_URL`` the data folder holds nothing to check (at most the key
file), so doctor checks the database: every shard row opens with the key, every waiting row
of the shared queues (updates, outbox, schedule, inbox) opens, and the audit chain verifies.
It prints kinds, ids and counts, never content, and exits 1 when something is damaged.

``--repair`` is safe while the instances run, since every change is a transaction under the
row's own lock: a damaged shard moves to ``counsel_quarantine`` (as it was, encrypted), and a
damaged queue row is copied there too and marked done, so that no instance claims it again.
The audit chain is evidence: --repair never changes it.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from counsel_bot.cli.doctor import Finding, say_what_is_left, summary
from counsel_bot.config.settings import Settings

AUDIT_ADVICE = ("the audit chain is evidence and doctor never changes it: keep the database "
                "as it is, restore counsel_audit from a backup, and 'counsel-bot audit "
                "verify' tells the first entry that was altered or removed")


class DatabaseDoctor:
    def __init__(self, settings: Settings, out: TextIO) -> None:
        from counsel_bot.bootstrap import open_store_and_audit
        from counsel_bot.store.postgres import PostgresStore

        store, self.audit, _key = open_store_and_audit(settings)  # refuses a wrong key here
        assert isinstance(store, PostgresStore)
        self.store = store
        self.out = out
        self.findings: list[Finding] = []

    def say(self, line: str) -> None:
        print(line, file=self.out)

    def check(self) -> None:
        self.say(f"database: {self.store.where}")
        self.check_shards()
        self.check_queues()
        self.check_audit()

    def check_shards(self) -> None:
        count, damaged = 0, []
        for fid, blob in self.store.rows():
            count += 1
            if not self.store.blob_opens(fid, blob):
                damaged.append(fid)
        self.say(f"shards: {count:,} row(s), "
                 + (f"{len(damaged)} damaged" if damaged else "intact"))
        for fid in damaged:
            self.say(f"  damaged shard: {fid}")
            self.findings.append(Finding("shard", fid, lambda fid=fid: self._set_aside(fid)))

    def _set_aside(self, fid: str) -> str:
        target = self.store.quarantine_row(fid)
        return (f"moved shard {fid} to {target}" if target
                else f"shard {fid} opens now or is gone: left as it is")

    def check_queues(self) -> None:
        from counsel_bot.store.pg_shared import PgQueue

        names = self.store.queue_names()
        if not names:
            self.say("queues: none yet")
        for name in names:
            queue = PgQueue(self.store, name)
            damaged = queue.unreadable()
            self.say(f"queue {name}: {queue.pending():,} row(s) waiting, "
                     + (f"{len(damaged)} damaged" if damaged else "intact"))
            if damaged:
                self.say(f"  damaged rows: {', '.join(map(str, damaged[:10]))}"
                         + (" ..." if len(damaged) > 10 else ""))
                self.findings.append(Finding("queue", name,
                                             lambda queue=queue: self._finish(queue)))

    def _finish(self, queue: object) -> str:
        from counsel_bot.store.pg_shared import PgQueue

        assert isinstance(queue, PgQueue)
        done = queue.unreadable(finish=True)
        return (f"queue {queue.name}: {len(done)} damaged row(s) copied to counsel_quarantine "
                "and marked done")

    def check_audit(self) -> None:
        result = self.audit.verify()
        if result.ok:
            self.say(f"audit chain: {result.entries:,} entries, intact")
            return
        self.say(f"audit chain: {result.entries:,} entries intact, then damage: "
                 f"{result.reason}")
        self.findings.append(Finding("audit", "counsel_audit", None))

    def close(self) -> None:
        self.audit.close()
        self.store.close()


def run_database_doctor(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from counsel_bot.store.postgres import database_initialised, redact

    url = settings.database_url
    assert url
    if not database_initialised(url):  # and no key is created for it
        print(f"counsel-bot doctor: {redact(url)} holds no counsel-bot data yet", file=out)
        return 2
    doctor = DatabaseDoctor(settings, out)
    try:
        doctor.check()
        if not doctor.findings:
            doctor.say("no damage found")
            return 0
        repairable = [f for f in doctor.findings if f.repair is not None]
        if not args.repair:
            doctor.say(f"damage found ({summary(doctor.findings)})"
                       + (". 'counsel-bot doctor --repair' sets it aside (safe while the bot "
                          "runs)" if repairable else ""))
            if len(repairable) < len(doctor.findings):
                doctor.say(AUDIT_ADVICE)
            return 1
        for finding in repairable:
            assert finding.repair is not None
            doctor.say(finding.repair())
        left = [f for f in doctor.findings if f.repair is None]
        return say_what_is_left(doctor.say, left, AUDIT_ADVICE, "repaired")
    finally:
        doctor.close()
