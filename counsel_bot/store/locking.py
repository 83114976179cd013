"""Locks: per-key thread locks inside a process, ``flock`` lock files across processes.

The lock file is separate from the data file because the data file is replaced (os.replace)
on every commit, which would orphan a lock held on it. A lock file may be unlinked by the
holder of its exclusive lock (when its shard is erased or was never written); waiters then
find that the path no longer names the inode they locked, and retry on the new file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from .errors import LockTimeoutError

_POLL_MIN = 0.0005
_POLL_MAX = 0.02


class KeyedLocks:
    """One ``threading.Lock`` per name, created on demand and dropped when unused."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def acquire(self, name: str, timeout: float) -> None:
        """Take the lock for ``name`` or raise :class:`LockTimeoutError`."""
        with self._guard:
            lock, users = self._locks.get(name) or (threading.Lock(), 0)
            self._locks[name] = (lock, users + 1)
        if lock.acquire(timeout=timeout):
            return
        self._drop(name)
        raise LockTimeoutError("Timed out waiting for a thread lock", shard=name, op="lock")

    def release(self, name: str) -> None:
        """Release the lock for ``name`` (taken by :meth:`acquire`)."""
        with self._guard:
            lock, _ = self._locks[name]
        lock.release()
        self._drop(name)

    def _drop(self, name: str) -> None:
        with self._guard:
            lock, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)


def lock_file(path: Path, *, shared: bool, timeout: float, name: str) -> int:
    """Open/create ``path`` and ``flock`` it; returns the fd that holds the lock."""
    deadline = time.monotonic() + timeout
    flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    pause = _POLL_MIN
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, flags)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            "Timed out waiting for a shard lock held by another process",
                            shard=name,
                            op="lock",
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, _POLL_MAX)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the lock file was unlinked/replaced while we waited: retry


def unlock_file(fd: int, path: Path | None = None) -> None:
    """Release a lock from :func:`lock_file`; unlink ``path`` first if given (exclusive only)."""
    try:
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        os.close(fd)
