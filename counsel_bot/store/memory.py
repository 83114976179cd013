"""In-memory store with the same semantics as the file store (for unit tests)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import BufferedStorage, ShardStoreBase
from .errors import StoreUsageError
from .locking import KeyedLocks


@dataclass
class _Handle:
    key: str


class MemoryStore(ShardStoreBase[_Handle]):
    """Thread-safe, process-local; keeps each shard as serialised JSON bytes."""

    def __init__(self, lock_timeout: float = 30.0) -> None:
        super().__init__()
        self._data: dict[str, bytes] = {}
        self.quarantined: list[bytes] = []
        self._threads = KeyedLocks()
        self._lock_timeout = lock_timeout

    def _acquire(self, key: str, *, shared: bool, op: str) -> _Handle:
        if not isinstance(key, str) or not key:
            raise StoreUsageError("A shard key must be a non-empty string", op=op)
        self._threads.acquire(key, self._lock_timeout)
        return _Handle(key)

    def _release(self, handle: _Handle) -> None:
        self._threads.release(handle.key)

    def _load(self, handle: _Handle, *, read_only: bool) -> BufferedStorage:
        return BufferedStorage(self._data.get(handle.key), read_only=read_only)

    def _commit(self, handle: _Handle, storage: BufferedStorage) -> None:
        assert storage.state is not None
        self._data[handle.key] = storage.state

    def _delete(self, handle: _Handle) -> None:
        self._data.pop(handle.key, None)

    def _set_aside(self, handle: _Handle) -> str | None:
        state = self._data.pop(handle.key, None)
        if state is None:
            return None
        self.quarantined.append(state)
        return f"memory:{len(self.quarantined)}"

    def exists(self, key: str) -> bool:
        """True if the shard has been written and not erased."""
        self._check_open("exists")
        return key in self._data
