"""Transaction machinery shared by the file-backed and the in-memory stores."""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tinydb import TinyDB
from tinydb.storages import Storage

from .errors import ReadOnlyError, StoreUsageError

Tables = dict[str, dict[str, Any]]
H = TypeVar("H")


def dump_state(data: Tables) -> bytes:
    """Compact UTF-8 JSON, as kept in memory and (encrypted) on disk."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class BufferedStorage(Storage):
    """TinyDB storage holding one shard's state in memory for the length of a transaction.

    The state is kept serialised: ``read()`` hands TinyDB a fresh copy and ``write()``
    serialises at once, so data errors surface inside the ``with`` block, and objects the
    caller mutates without a TinyDB write never leak into the commit.
    """

    def __init__(self, state: bytes | None, *, read_only: bool = False, name: str = "") -> None:
        super().__init__()
        self.state = state
        self.dirty = False
        self.read_only = read_only
        self.name = name
        self.finished = False

    def read(self) -> Tables | None:
        self._check_live("read")
        return None if self.state is None else json.loads(self.state)

    def write(self, data: Tables) -> None:
        self._check_live("write")
        if self.read_only:
            raise ReadOnlyError("Cannot write inside a snapshot", shard=self.name, op="write")
        self.state = dump_state(data)
        self.dirty = True

    def _check_live(self, op: str) -> None:
        if self.finished:
            raise StoreUsageError(
                "This TinyDB handle belongs to a finished transaction/snapshot",
                shard=self.name,
                op=op,
            )


def open_db(storage: BufferedStorage) -> TinyDB:
    """A fresh TinyDB (empty caches) over ``storage``."""
    return TinyDB(storage=lambda: storage)


def _forget_caches(db: TinyDB) -> None:
    """Drop TinyDB's per-table query caches and id counters after a rollback."""
    for table in db._tables.values():
        table.clear_cache()
        table._next_id = None


@dataclass
class _Active:
    storage: BufferedStorage
    db: TinyDB


class ShardStoreBase(ABC, Generic[H]):
    """Implements the :class:`~counsel_bot.store.port.Store` semantics over four small hooks."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._closed = False

    # -- hooks -------------------------------------------------------------------------
    @abstractmethod
    def _acquire(self, key: str, *, shared: bool, op: str) -> H:
        """Lock the shard (thread and process level) and return a handle."""

    @abstractmethod
    def _release(self, handle: H) -> None:
        """Undo :meth:`_acquire`."""

    @abstractmethod
    def _load(self, handle: H, *, read_only: bool) -> BufferedStorage:
        """Read the shard's current state into a new storage."""

    @abstractmethod
    def _commit(self, handle: H, storage: BufferedStorage) -> None:
        """Persist ``storage.state`` atomically."""

    @abstractmethod
    def _delete(self, handle: H) -> None:
        """Remove the shard (lock held exclusively)."""

    @abstractmethod
    def _set_aside(self, handle: H) -> str | None:
        """Move the shard out of the way, unread (lock held exclusively)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True if the shard has been written and not erased."""

    # -- public API --------------------------------------------------------------------
    @contextmanager
    def transaction(self, key: str) -> Iterator[TinyDB]:
        """See :meth:`counsel_bot.store.port.Store.transaction`."""
        self._check_open("transaction")
        active = self._active()
        current = active.get(key)
        if current is not None:
            if current.storage.read_only:
                raise StoreUsageError(
                    "Cannot open a transaction inside a snapshot of the same shard",
                    shard=current.storage.name,
                    op="transaction",
                )
            yield from self._nested(current)
            return
        yield from self._open(key, shared=False)

    @contextmanager
    def snapshot(self, key: str) -> Iterator[TinyDB]:
        """See :meth:`counsel_bot.store.port.Store.snapshot`."""
        self._check_open("snapshot")
        active = self._active()
        current = active.get(key)
        if current is not None:  # a view of the enclosing transaction/snapshot, as it is now
            view = BufferedStorage(current.storage.state, read_only=True, name=current.storage.name)
            try:
                yield open_db(view)
            finally:
                view.finished = True
            return
        yield from self._open(key, shared=True)

    def erase(self, key: str) -> None:
        """See :meth:`counsel_bot.store.port.Store.erase`."""
        self._check_open("erase")
        if key in self._active():
            raise StoreUsageError("Cannot erase a shard while it is open", op="erase")
        handle = self._acquire(key, shared=False, op="erase")
        try:
            self._delete(handle)
        finally:
            self._release(handle)

    def quarantine(self, key: str) -> str | None:
        """See :meth:`counsel_bot.store.port.Store.quarantine`."""
        self._check_open("quarantine")
        if key in self._active():
            raise StoreUsageError("Cannot quarantine a shard while it is open", op="quarantine")
        handle = self._acquire(key, shared=False, op="quarantine")
        try:
            return self._set_aside(handle)
        finally:
            self._release(handle)

    def close(self) -> None:
        """Mark the store closed; later calls raise :class:`StoreUsageError`."""
        self._closed = True

    def __enter__(self) -> ShardStoreBase[H]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------
    def _open(self, key: str, *, shared: bool) -> Iterator[TinyDB]:
        """Lock, load and hand out the shard; a transaction (not shared) commits its writes
        when the block ends without an exception."""
        active = self._active()
        handle = self._acquire(key, shared=shared, op="snapshot" if shared else "transaction")
        try:
            storage = self._load(handle, read_only=shared)
            active[key] = _Active(storage, open_db(storage))
            try:
                yield active[key].db
            finally:
                del active[key]
                storage.finished = True
            if storage.dirty:
                self._commit(handle, storage)
        finally:
            self._release(handle)

    @staticmethod
    def _nested(current: _Active) -> Iterator[TinyDB]:
        storage = current.storage
        saved = (storage.state, storage.dirty)
        try:
            yield current.db
        except BaseException:
            storage.state, storage.dirty = saved
            _forget_caches(current.db)
            raise

    def _active(self) -> dict[str, _Active]:
        active: dict[str, _Active] | None = getattr(self._local, "active", None)
        if active is None:
            active = self._local.active = {}
        return active

    def _check_open(self, op: str) -> None:
        if self._closed:
            raise StoreUsageError("The store is closed", op=op)
