"""Notes from other processes (the admin command line) to the running bot.

A note is a small encrypted file written to a temporary name and renamed into place, so
the bot never reads half a note. The bot looks every second; each note names what
changed (a session scheduled, moved or cancelled), and the bot acts on the store's
current state. Acting twice on a note is harmless: what it sends carries a dedupe key.
A note that cannot be read goes, as it is, to the data folder's quarantine/.

With the PostgreSQL store the inbox is a queue in the database instead (pg_inbox.py), so that
the command line works from any machine; `open_inbox` picks the one that fits the store.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from counsel_bot.store.crypto import DecryptionFailed, ShardCipher
from counsel_bot.store.files import QUARANTINE_DIR, private_dir, set_aside
from counsel_bot.store.port import Store

log = logging.getLogger(__name__)
_AAD = b"counsel-bot/inbox"


class NoteBox(Protocol):
    """What the bot and the admin tools use of an inbox (files, or PgInbox)."""

    def post(self, note: dict[str, Any]) -> None: ...
    def take(self) -> list[tuple[Any, dict[str, Any]]]: ...
    def done(self, handle: Any) -> None: ...
    def keep(self, handle: Any) -> None: ...


def open_inbox(store: Store, data_dir: Path, cipher: ShardCipher) -> NoteBox:
    """The inbox of the bot on ``store``: in its PostgreSQL database (shared by every
    instance and reachable from any machine), else the files of ``data_dir``."""
    # A PostgresStore exists only once its module was imported (store/__init__.py imports
    # it when a database URL is opened): no psycopg import for the data folder's users.
    postgres = sys.modules.get("counsel_bot.store.postgres")
    if postgres is not None and isinstance(store, postgres.PostgresStore):
        from counsel_bot.runtime.pg_inbox import PgInbox

        return PgInbox(store)
    return Inbox(data_dir, cipher)


class Inbox:
    def __init__(self, data_dir: Path, cipher: ShardCipher) -> None:
        self.folder = data_dir / "inbox"
        self.quarantine = data_dir / QUARANTINE_DIR
        self.cipher = cipher

    def post(self, note: dict[str, Any]) -> None:
        private_dir(self.folder)
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        tmp = self.folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.cipher.encrypt(json.dumps(note).encode("utf-8"), _AAD))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / f"{name}.note")

    def take(self) -> list[tuple[Path, dict[str, Any]]]:
        """The waiting notes, oldest first. Delete each with `done` once acted on."""
        if not self.folder.exists():
            return []
        notes = []
        for path in sorted(self.folder.glob("*.note")):
            try:
                note = self._read(path)
            except FileNotFoundError:
                continue
            if note is None:
                where = self.set_aside(path)
                log.error("inbox: a note cannot be read and is set aside (%s)", where)
            else:
                notes.append((path, note))
        return notes

    def _read(self, path: Path) -> dict[str, Any] | None:
        """The note in `path`, or None when it is damaged (FileNotFoundError when gone)."""
        blob = path.read_bytes()
        try:
            note = json.loads(self.cipher.decrypt(blob, _AAD))
        except (DecryptionFailed, ValueError):
            return None
        return note if isinstance(note, dict) else None

    def damaged(self) -> list[Path]:
        """The notes waiting that cannot be read, and those set aside by an older version
        (``*.unreadable``); changes nothing."""
        if not self.folder.exists():
            return []
        found = sorted(self.folder.glob("*.unreadable"))
        for path in sorted(self.folder.glob("*.note")):
            try:
                if self._read(path) is None:
                    found.append(path)
            except FileNotFoundError:  # the bot acted on it meanwhile
                continue
        return found

    def set_aside(self, path: Path) -> str:
        """Move a damaged note to quarantine/, as it is; returns where it went."""
        return set_aside(self.quarantine, path)

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)

    @staticmethod
    def keep(path: Path) -> None:
        """Leave the note for the next look (its file stays where it is)."""
