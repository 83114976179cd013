"""Find damage in the data folder, and set it aside (on PostgreSQL: ``pg_doctor.py``).

The check changes nothing (but what opening the audit log always does: cut a torn tail
left by a crash) and is safe while the bot runs. It opens the store first, so a
wrong key is refused before anything is read. It then reads every shard file (decrypts and
parses it), every journal frame by frame, the inbox notes and the audit chain, and looks at
the modes of files (0600) and folders (0700). It prints what is damaged (its kind, file and
count; never content) and exits 1 when something is.

`--repair` moves damaged shard files, journal records and notes to quarantine/ (kept as
they were, encrypted, for forensics), so that the bot starts again, and says what it moved.
It also gives files and folders their modes. The audit trail is evidence: --repair never
changes it. Run --repair with the bot stopped: a running bot holds its journals locked,
and doctor then repairs nothing. While it repairs, doctor holds those locks itself, so a bot
started meanwhile refuses to start instead of racing it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from counsel_bot.audit import AuditLog
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import (
    JOURNALS,
    JournalError,
    check_journal,
    journal_in_use,
    lock_journal,
    repair_journal,
)
from counsel_bot.store import TinyDBStore
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.files import DIR_MODE, FILE_MODE, QUARANTINE_DIR
from counsel_bot.store.keys import describe_key_lookup, is_initialised, load_or_create_key

HELP = "check the data folder for damage; --repair sets damage aside (stop the bot first)"
REPAIR_HELP = ("move damaged shard files, journal records and inbox notes to quarantine/ "
               "(kept as they were, encrypted) so that the bot starts again, and give files "
               "0600 and folders 0700. Stop the bot first: doctor refuses to repair while it "
               "runs. The audit trail is never changed")
SHOWN_PATHS = 10  # paths listed per kind of finding; the count says how many there are


@dataclass
class Finding:
    """Something damaged: what to print, and how to set it aside (None: it cannot be)."""

    kind: str
    what: str
    repair: Callable[[], str] | None


class Doctor:
    def __init__(self, data_dir: Path, key: bytes, out: TextIO) -> None:
        self.data = data_dir
        self.cipher = ShardCipher(key)
        self.store = TinyDBStore(data_dir, key, key_source=describe_key_lookup())
        self.out = out
        self.findings: list[Finding] = []

    def say(self, line: str) -> None:
        print(line, file=self.out)

    def rel(self, path: str | Path) -> str:
        return os.path.relpath(path, self.data)

    def found(self, kind: str, what: str, repair: Callable[[], str] | None) -> None:
        self.findings.append(Finding(kind, what, repair))

    def moved(self, source: str | Path, target: str) -> str:
        return f"moved {self.rel(source)} to {self.rel(target)}"

    # -- checks ----------------------------------------------------------------------------
    def check_shards(self) -> None:
        count, damaged = 0, []
        for path in self.store.shard_files():
            count += 1
            if self.store.shard_is_damaged(path):
                damaged.append(path)
        self.say(f"shards: {count:,} file(s), "
                 + (f"{len(damaged)} damaged" if damaged else "intact"))
        for path in sorted(damaged):
            self.say(f"  damaged shard: {self.rel(path)}")
            self.found("shard", self.rel(path), lambda path=path: self._set_shard_aside(path))

    def _set_shard_aside(self, path: str) -> str:
        target = self.store.quarantine_shard_file(path)
        return (self.moved(path, target) if target
                else f"{self.rel(path)} opens now: left as it is")

    def check_journals(self) -> None:
        for relative in JOURNALS.values():
            path = self.data / relative
            if not path.exists():
                self.say(f"journal {relative}: none yet")
                continue
            check = check_journal(path, self.cipher)
            line = f"journal {relative}: {check.records:,} record(s)"
            if check.unreadable:
                line += (", no record authenticates although the key is right: the whole "
                         "journal is damaged")
            elif check.damaged:
                line += (f", {len(check.damaged)} damaged record(s) "
                         f"({check.damaged_bytes:,} bytes)")
            else:
                line += ", intact"
            if check.torn:
                line += (f"; a torn tail of {check.torn:,} bytes (an append cut short or in "
                         "flight; the bot cuts it when it starts)")
            self.say(line)
            if check.damaged:
                self.found("journal", str(relative), lambda path=path: self._repair_journal(path))

    def _repair_journal(self, path: Path) -> str:
        kept = repair_journal(path, self.cipher, self.data / QUARANTINE_DIR)
        return "; ".join(self.moved(path, target) if Path(target).suffix == path.suffix
                         else f"kept a damaged record of {self.rel(path)} in {self.rel(target)}"
                         for target in kept) or f"{self.rel(path)}: nothing to set aside"

    def check_inbox(self) -> None:
        inbox = Inbox(self.data, self.cipher)
        damaged = inbox.damaged()
        waiting = len(list(inbox.folder.glob("*.note"))) if inbox.folder.exists() else 0
        self.say(f"inbox: {waiting} note(s) waiting, "
                 + (f"{len(damaged)} damaged" if damaged else "intact"))
        for path in damaged:
            self.say(f"  damaged note: {self.rel(path)}")
            self.found("note", self.rel(path),
                       lambda path=path: self._set_note_aside(inbox, path))

    def _set_note_aside(self, inbox: Inbox, path: Path) -> str:
        try:
            return self.moved(path, inbox.set_aside(path))
        except FileNotFoundError:  # the bot set it aside itself meanwhile
            return f"{self.rel(path)}: already gone"

    def check_audit(self) -> None:
        if not (self.data / "audit" / "audit.log").exists():
            self.say("audit log: none yet")
            return
        audit = AuditLog(self.data, self.cipher)
        try:
            result = audit.verify()
        finally:
            audit.close()
        if result.ok:
            self.say(f"audit log: {result.entries:,} entries, chain intact")
            return
        self.say(f"audit log: {result.entries:,} entries intact, then damage: {result.reason}")
        self.found("audit", "audit/audit.log", None)

    def check_modes(self) -> None:
        loose: list[tuple[str, int]] = []
        for root, dirs, files in os.walk(self.data):
            for name, want in [*((d, DIR_MODE) for d in dirs), *((f, FILE_MODE) for f in files)]:
                path = os.path.join(root, name)
                mode = os.lstat(path).st_mode
                if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                    loose.append((path, want))
        if stat.S_IMODE(os.stat(self.data).st_mode) & 0o077:
            loose.insert(0, (str(self.data), DIR_MODE))
        if not loose:
            self.say("modes: intact (files 0600, folders 0700)")
            return
        self.say(f"modes: {len(loose)} file(s) or folder(s) open to other users")
        for path, _want in loose[:SHOWN_PATHS]:
            self.say(f"  too open: {self.rel(path)}")

        def tighten() -> str:
            for path, want in loose:
                with contextlib.suppress(FileNotFoundError):  # a lock file let go meanwhile
                    os.chmod(path, want)
            return f"gave {len(loose)} file(s) or folder(s) their modes (0600, 0700)"
        self.found("mode", "modes", tighten)

    def check(self) -> None:
        self.say(f"data folder: {self.data}")
        running = [str(rel) for rel in JOURNALS.values() if journal_in_use(self.data / rel)]
        if running:
            self.say("the bot is running (it holds the journals): files are checked as they "
                     "are now")
        self.check_shards()
        self.check_journals()
        self.check_inbox()
        self.check_audit()
        self.check_modes()

    # -- repair ----------------------------------------------------------------------------
    @contextmanager
    def bot_kept_out(self) -> Iterator[None]:
        """Hold every journal's lock; JournalError when a running bot holds one."""
        held: list[int] = []
        try:
            for relative in JOURNALS.values():
                path = self.data / relative
                if path.parent.is_dir():
                    held.append(lock_journal(path))
            yield
        finally:
            for fd in held:
                os.close(fd)

    def repair(self) -> list[Finding]:
        """Set aside what can be; returns what is left damaged."""
        left = []
        for finding in self.findings:
            if finding.repair is None:
                left.append(finding)
                continue
            self.say(finding.repair())
        return left

    def close(self) -> None:
        self.store.close()


def summary(findings: list[Finding]) -> str:
    kinds: dict[str, int] = {}
    for finding in findings:
        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
    return ", ".join(f"{kind}: {count}" for kind, count in kinds.items())


def run_doctor(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if settings.database_url:  # the data lives in the database: check it there
        from counsel_bot.cli.pg_doctor import run_database_doctor

        return run_database_doctor(args, settings, out)
    data = settings.data_dir
    if not is_initialised(data):  # and no key is created for it
        print(f"counsel-bot doctor: {data} has no keycheck file: "
              + ("the key cannot be proved; restore keycheck from a backup"
                 if (data / "shards").is_dir() else "it is not a data folder yet"), file=out)
        return 2
    doctor = Doctor(data, load_or_create_key(data), out)  # refuses a wrong key here
    try:
        doctor.check()
        if not doctor.findings:
            doctor.say("no damage found")
            return 0
        unrepairable = [f for f in doctor.findings if f.repair is None]
        if not args.repair:
            doctor.say(f"damage found ({summary(doctor.findings)})"
                       + (". Stop the bot, then run 'counsel-bot doctor --repair' to set it "
                          "aside" if len(unrepairable) < len(doctor.findings) else ""))
            if unrepairable:
                doctor.say(_AUDIT_ADVICE)
            return 1
        try:
            with doctor.bot_kept_out():
                left = doctor.repair()
        except JournalError:
            doctor.say("counsel-bot doctor: the bot is running (it holds its journals); "
                       "nothing was repaired. Stop the bot, then run 'counsel-bot doctor "
                       "--repair' again")
            return 1
        return say_what_is_left(doctor.say, left, _AUDIT_ADVICE,
                                "repaired: the bot can start again")
    finally:
        doctor.close()


def say_what_is_left(say: Callable[[str], None], left: list[Finding], advice: str,
                     repaired: str) -> int:
    """The last lines of ``--repair``, and its exit code: 1 while damage is left."""
    if left:
        say(f"still damaged ({summary(left)})")
        say(advice)
        return 1
    say(repaired)
    return 0


_AUDIT_ADVICE = ("the audit trail is evidence and doctor never changes it: keep the damaged "
                 "file, restore audit/ from a backup, and 'counsel-bot audit verify' tells "
                 "the first entry that was altered or removed")
