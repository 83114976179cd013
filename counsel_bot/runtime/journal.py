"""An encrypted, append-only record log for queues that must survive a crash.

Each record is framed as a 4-byte length and an AES-GCM blob. An append is one write(2)
call; a process killed mid-append leaves a torn tail (a frame shorter than its length),
which is cut off on the next open: the log always reads as the records that were fully
appended. Appending costs the same however long the log is; `rewrite` compacts it
atomically (temp file, fsync, rename).

Damage is contained: a frame in the middle that fails authentication (a flipped bit, a
damaged length) is skipped. Reading resynchronises on the next frame that authenticates
(AES-GCM makes a false match impossible), keeps the damaged bytes as they are (still
encrypted) in the data folder's ``quarantine/``, logs one line, and mends the file to the
good records. When no frame authenticates at all, the key is wrong (or everything is
damaged): the open stops with an error and changes nothing; `counsel-bot doctor` tells the
two apart, since it checks the key first.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counsel_bot.store.crypto import HEADER, NONCE_SIZE, DecryptionFailed, ShardCipher
from counsel_bot.store.files import (
    FILE_MODE,
    QUARANTINE_DIR,
    fsync_dir,
    keep_bytes,
    private_dir,
    set_aside,
)

log = logging.getLogger(__name__)

_FRAME = struct.Struct(">I")
MAX_RECORD = 1 << 24
_MIN_BLOB = len(HEADER) + NONCE_SIZE + 16  # header, nonce, tag
PART_SUFFIX = ".record"  # a damaged part of a journal, kept in quarantine/

# The journals of a data folder, by what they hold.
JOURNALS: dict[str, Path] = {
    "outbox": Path("outbox") / "outbox.journal",
    "schedule": Path("schedule") / "schedule.journal",
    "updates": Path("updates") / "updates.journal",
}


class JournalError(Exception):
    """The journal cannot be used (locked by another process, or no record authenticates)."""


def data_journal(data_dir: Path, name: str, cipher: ShardCipher) -> Journal:
    """One of the data folder's `JOURNALS`, quarantining into the data folder's quarantine/."""
    return Journal(data_dir / JOURNALS[name], cipher, quarantine=data_dir / QUARANTINE_DIR)


def _lock_path(path: Path) -> Path:
    return path.with_suffix(".lock")


def lock_journal(path: Path) -> int:
    """Take the journal's lock (held by its owner while open); returns the descriptor."""
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalError(f"{path.name} is in use by another running bot") from None
    return fd


def journal_in_use(path: Path) -> bool:
    """True while a process (a running bot) holds the journal open."""
    try:
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock, if we got it
    return False


@dataclass(frozen=True)
class _Piece:
    """A stretch of the file: a good record, damaged bytes, or a torn tail."""

    start: int
    end: int
    record: dict[str, Any] | None = None
    torn: bool = False


class _Frames:
    """Reads the frames of one journal's bytes, resynchronising past damage."""

    def __init__(self, cipher: ShardCipher, aad: bytes) -> None:
        self._cipher = cipher
        self._aad = aad

    def _at(self, data: bytes, pos: int) -> tuple[int, dict[str, Any]] | None:
        """The end and record of a frame at `pos` that authenticates, or None."""
        if pos + _FRAME.size > len(data):
            return None
        (length,) = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if not _MIN_BLOB <= length <= MAX_RECORD or end > len(data):
            return None
        try:
            record = json.loads(self._cipher.decrypt(data[pos + _FRAME.size:end], self._aad))
        except (DecryptionFailed, ValueError):
            return None
        return (end, record) if isinstance(record, dict) else None

    def _next(self, data: bytes, after: int) -> tuple[int, int, dict[str, Any]] | None:
        """The first frame starting after `after` that authenticates. Every blob begins with
        the cipher's header, so only the places where that header occurs are tried."""
        found = data.find(HEADER, after + 1 + _FRAME.size)
        while found != -1:
            start = found - _FRAME.size
            got = self._at(data, start)
            if got is not None:
                return start, got[0], got[1]
            found = data.find(HEADER, found + 1)
        return None

    def pieces(self, data: bytes) -> Iterator[_Piece]:
        pos = 0
        while pos < len(data):
            got = self._at(data, pos)
            if got is not None:
                yield _Piece(pos, got[0], got[1])
                pos = got[0]
                continue
            following = self._next(data, pos)
            if following is None:
                yield _Piece(pos, len(data), torn=_looks_torn(data, pos))
                return
            start, end, record = following
            yield _Piece(pos, start)
            yield _Piece(start, end, record)
            pos = end


def _looks_torn(data: bytes, pos: int) -> bool:
    """Are the bytes from `pos` an append cut short by a crash (a frame shorter than its
    length says), rather than damage?"""
    if len(data) - pos < _FRAME.size:
        return True
    (length,) = _FRAME.unpack_from(data, pos)
    return length <= MAX_RECORD and pos + _FRAME.size + length > len(data)


@dataclass(frozen=True)
class JournalCheck:
    """What a journal file holds: `records` good ones, `damaged` byte ranges, a torn tail."""

    path: Path
    size: int
    records: int
    damaged: tuple[tuple[int, int], ...]
    torn: int  # bytes in a torn tail (cut at the next open)

    @property
    def unreadable(self) -> bool:
        """No record authenticates although the file holds complete frames."""
        return self.records == 0 and bool(self.damaged)

    @property
    def damaged_bytes(self) -> int:
        return sum(end - start for start, end in self.damaged)


def _aad(path: Path) -> bytes:
    return b"journal:" + path.name.encode("utf-8")


def _survey(path: Path, data: bytes, cipher: ShardCipher
            ) -> tuple[JournalCheck, list[tuple[int, int]]]:
    good, damaged, torn = [], [], 0
    for piece in _Frames(cipher, _aad(path)).pieces(data):
        if piece.record is not None:
            good.append((piece.start, piece.end))
        elif piece.torn:
            torn = piece.end - piece.start
        else:
            damaged.append((piece.start, piece.end))
    return JournalCheck(path, len(data), len(good), tuple(damaged), torn), good


def check_journal(path: Path, cipher: ShardCipher) -> JournalCheck:
    """Read a journal file frame by frame, changing nothing (safe while the bot runs)."""
    return _survey(path, path.read_bytes(), cipher)[0]


def _keep_damage(path: Path, data: bytes, damaged: list[tuple[int, int]],
                 quarantine: Path, durable: bool) -> list[str]:
    return [keep_bytes(quarantine, path.stem, PART_SUFFIX, data[start:end], durable=durable)
            for start, end in damaged]


def _write_whole(path: Path, data: bytes, durable: bool) -> None:
    """Replace the file's content atomically (temp file, fsync, rename, fsync the folder)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def repair_journal(path: Path, cipher: ShardCipher, quarantine: Path, *,
                   durable: bool = True) -> list[str]:
    """Set a journal's damaged parts aside and keep its good records; the caller holds
    the journal's lock (`lock_journal`) and has proved the key. A journal in which no
    record authenticates is set aside whole. Returns what went to `quarantine`."""
    data = path.read_bytes()
    check, good = _survey(path, data, cipher)
    if check.unreadable:
        return [set_aside(quarantine, path, durable=durable)]
    if not check.damaged:
        if check.torn:
            os.truncate(path, len(data) - check.torn)
        return []
    kept = _keep_damage(path, data, list(check.damaged), quarantine, durable)
    _write_whole(path, b"".join(data[start:end] for start, end in good), durable)
    return kept


class Journal:
    def __init__(self, path: Path, cipher: ShardCipher, *, fsync: bool = True,
                 quarantine: Path | None = None) -> None:
        """Open (creating) the journal at `path`; damaged parts go to `quarantine`
        (default: a quarantine/ folder beside it; `data_journal` uses the data folder's)."""
        self.path = path
        self._cipher = cipher
        self._aad = _aad(path)
        self._fsync = fsync
        self.quarantine = quarantine or path.parent / QUARANTINE_DIR
        private_dir(path.parent)
        self._lock = lock_journal(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
        self._io = threading.Lock()  # writes and the swap of the file in `rewrite`
        self._syncing = threading.Lock()  # one fsync at a time; taken before `_io`
        self._appended = 0  # appends written so far
        self._synced = 0  # appends known to be on disk
        self._syncer: ThreadPoolExecutor | None = None  # for `sync_soon`, made on first use
        self._flushing: asyncio.Future[None] | None = None

    def replay(self) -> list[dict[str, Any]]:
        """Every complete record, in order; a torn tail is cut off, damage set aside."""
        return list(self.records())

    def records(self) -> Iterator[dict[str, Any]]:
        """Like `replay`, one record at a time (a large log is never held decoded whole).

        Damaged parts are set aside and the file mended once the last record has been read.
        """
        with open(self.path, "rb") as fh:
            data = fh.read()
        good: list[tuple[int, int]] = []
        damaged: list[tuple[int, int]] = []
        torn = 0
        for piece in _Frames(self._cipher, self._aad).pieces(data):
            if piece.record is not None:
                good.append((piece.start, piece.end))
                yield piece.record
            elif piece.torn:
                torn = piece.end - piece.start
            else:
                damaged.append((piece.start, piece.end))
        if damaged and not good:  # another key, or nothing left: destroy nothing
            raise JournalError(
                f"{self.path.name}: no record authenticates (a wrong key, or every record is "
                "damaged); the file is left as it is. 'counsel-bot doctor' tells which")
        if torn:
            log.warning("journal %s: cut a torn tail of %d bytes left by a crash",
                        self.path.name, torn)
        if not damaged:
            if torn:
                os.truncate(self.path, len(data) - torn)
            return
        kept = _keep_damage(self.path, data, damaged, self.quarantine, self._fsync)
        self._swap_in(b"".join(data[start:end] for start, end in good), since=len(data))
        log.error("journal %s: %d damaged record(s) (%d bytes) set aside in %s; the %d good "
                  "record(s) are kept", self.path.name, len(kept),
                  sum(end - start for start, end in damaged), self.quarantine, len(good))

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
        self._swap_in(self._encode(records))

    def _swap_in(self, data: bytes, *, since: int | None = None) -> None:
        """Make `data` the whole file, atomically. With `since` (the size when `data` was
        read), what was appended after that is carried over."""
        with self._syncing, self._io:
            if since is not None:
                with open(self.path, "rb") as fh:
                    fh.seek(since)
                    data += fh.read()
            _write_whole(self.path, data, durable=True)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
            self._synced = self._appended  # the old file's records are kept here or dropped

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
        with self._syncing, self._io:
            os.close(self._fd)
        os.close(self._lock)


class NoJournal:
    """The record log of an outbox whose messages are kept elsewhere (the sender of several
    instances on PostgreSQL: the queue's rows are the durable record, see pg_outbox.py).
    Appends are dropped on purpose; replaying yields nothing."""

    path = Path("-")

    def replay(self) -> list[dict[str, Any]]:
        return []

    def records(self) -> Iterator[dict[str, Any]]:
        return iter(())

    def append(self, records: Iterable[dict[str, Any]], *, sync: bool = True) -> None:
        del records, sync

    def sync(self) -> None:
        return None

    async def sync_soon(self) -> None:
        return None

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        del records

    def close(self) -> None:
        return None
