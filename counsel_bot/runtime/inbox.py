"""Notes from other processes (the admin command line) to the running bot.

A note is a small encrypted file written to a temporary name and renamed into place, so
the bot never reads half a note. The bot looks every second; each note names what
changed (a session scheduled, moved or cancelled), and the bot acts on the store's
current state. Acting twice on a note is harmless: what it sends carries a dedupe key.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from counsel_bot.store.crypto import DecryptionFailed, ShardCipher

log = logging.getLogger(__name__)
_AAD = b"counsel-bot/inbox"


class Inbox:
    def __init__(self, data_dir: Path, cipher: ShardCipher) -> None:
        self.folder = data_dir / "inbox"
        self.cipher = cipher

    def post(self, note: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
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
                notes.append((path, json.loads(self.cipher.decrypt(path.read_bytes(), _AAD))))
            except (OSError, DecryptionFailed, ValueError):
                log.error("inbox: a note cannot be read and is set aside (%s)", path.name)
                path.rename(path.with_suffix(".unreadable"))
        return notes

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)
