"""An encrypted, append-only record log for queues that must survive a crash.

Each record is framed as a 4-byte length and an AES-GCM blob. An append is one write(2)
call; a process killed mid-append leaves a torn tail (a frame shorter than its length),
which is cut off on the next open: the log always reads as the records that were fully
appended. A whole frame that fails authentication is damage or another key: the open
stops with an error and changes nothing. Appending costs the same however long the log
is; `rewrite` compacts it atomically (temp file, fsync, rename).

Group commit: `append(records, sync=False)` only writes; `sync()` then makes everything
appended so far durable. Threads that call `sync()` while an fsync is running share the
next one, so N threads appending at once cost about two fsyncs, not N, and a writer never
waits for another thread's fsync just to write. `await sync_soon()` does the same for code
on an event loop: the fsync runs in the journal's one syncer thread, and every coroutine
that appended meanwhile waits for that same fsync, so the loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from counsel_bot.store.crypto import DecryptionFailed, ShardCipher

log = logging.getLogger(__name__)

_FRAME = struct.Struct(">I")
MAX_RECORD = 1 << 24


class JournalError(Exception):
    """The journal cannot be used (locked by another process, or corrupted in the middle)."""


class Journal:
    def __init__(self, path: Path, cipher: ShardCipher, *, fsync: bool = True) -> None:
        self.path = path
        self._cipher = cipher
        self._aad = b"journal:" + path.name.encode("utf-8")
        self._fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = open(path.with_suffix(".lock"), "a")  # noqa: SIM115 - held while open
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise JournalError(f"{path.name} is in use by another running bot") from None
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._io = threading.Lock()  # writes and the swap of the file in `rewrite`
        self._syncing = threading.Lock()  # one fsync at a time; taken before `_io`
        self._appended = 0  # appends written so far
        self._synced = 0  # appends known to be on disk
        self._syncer: ThreadPoolExecutor | None = None  # for `sync_soon`, made on first use
        self._flushing: asyncio.Future[None] | None = None

    def _frames(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        offset = 0
        while offset + _FRAME.size <= len(data):
            (length,) = _FRAME.unpack_from(data, offset)
            end = offset + _FRAME.size + length
            if length > MAX_RECORD or end > len(data):
                return
            yield end, data[offset + _FRAME.size : end]
            offset = end

    def replay(self) -> list[dict[str, Any]]:
        """Every complete record, in order; a torn tail is cut off."""
        return list(self.records())

    def records(self) -> Iterator[dict[str, Any]]:
        """Like `replay`, one record at a time (a large log is never held decoded whole)."""
        with open(self.path, "rb") as fh:
            data = fh.read()
        good_end = 0
        for end, blob in self._frames(data):
            try:
                record = json.loads(self._cipher.decrypt(blob, self._aad))
            except DecryptionFailed:  # damage, or another key: destroy nothing
                raise JournalError(f"{self.path.name}: a record fails authentication "
                                   "(wrong key or damage); the file is left as it is") from None
            good_end = end
            yield record
        if good_end < len(data):
            log.warning("journal %s: cut a torn tail of %d bytes left by a crash",
                        self.path.name, len(data) - good_end)
            os.truncate(self.path, good_end)

    def _encode(self, records: Iterable[dict[str, Any]]) -> bytes:
        parts = []
        for record in records:
            blob = self._cipher.encrypt(
                json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                self._aad)
            parts.append(_FRAME.pack(len(blob)) + blob)
        return b"".join(parts)

    def append(self, records: Iterable[dict[str, Any]], *, sync: bool = True) -> None:
        """Write `records` in one write(2); with `sync`, return once they are on disk."""
        data = self._encode(records)
        if not data:
            return
        with self._io:
            written = os.write(self._fd, data)
            if written != len(data):  # a short write on a full disk: cut it, keep it valid
                os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
                raise OSError(f"journal {self.path.name}: short write")
            self._appended += 1
            mine = self._appended
        if sync:
            self._sync_to(mine)

    def sync(self) -> None:
        """Make every record appended so far durable (one fsync shared by concurrent callers)."""
        with self._io:
            mine = self._appended
        self._sync_to(mine)

    async def sync_soon(self) -> None:
        """Like `sync`, awaited on an event loop; the fsync runs in the syncer thread."""
        with self._io:
            mine = self._appended
        while self._synced < mine:
            if self._flushing is None or self._flushing.done():
                if self._syncer is None:
                    self._syncer = ThreadPoolExecutor(1, thread_name_prefix="journal-sync")
                self._flushing = asyncio.get_running_loop().run_in_executor(
                    self._syncer, self.sync)
            await asyncio.shield(self._flushing)

    def _sync_to(self, mine: int) -> None:
        if not self._fsync:
            return
        with self._syncing:
            if self._synced >= mine:  # an fsync that started after our write covered it
                return
            with self._io:
                target = self._appended
            os.fsync(self._fd)  # `rewrite` waits for `_syncing`: the fd stays this file's
            self._synced = target

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the whole log with `records`, atomically."""
        data = self._encode(records)
        tmp = self.path.with_suffix(".tmp")
        with self._syncing, self._io:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND, 0o600)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._synced = self._appended  # the old file's records are kept here or dropped

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
        with self._syncing, self._io:
            os.close(self._fd)
        self._lock.close()
