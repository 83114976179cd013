"""The store port: what the rest of the bot codes against.

Data is split into *shards* named by string keys (``"chat:telegram:12345"``, ``"case:K7F3"``,
``"caseworkers"``). Each shard is a small TinyDB database (with tables) read and written
as a whole, so the cost of a write does not grow with the number of shards.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from tinydb import TinyDB


@runtime_checkable
class Store(Protocol):
    """A sharded document store."""

    def transaction(self, key: str) -> AbstractContextManager[TinyDB]:
        """Exclusive (cross-process) lock on the shard; yields a TinyDB instance on it.

        All writes made inside are committed atomically in ONE write at exit; if the block
        raises, nothing is written. Nested transactions on the same key in the same thread
        are re-entrant: only the outermost commits, and an inner block that raises rolls
        back to the state at its start.
        """
        ...

    def snapshot(self, key: str) -> AbstractContextManager[TinyDB]:
        """Read-only view (shared lock). Writes inside raise ReadOnlyError."""
        ...

    def exists(self, key: str) -> bool:
        """True if the shard has been written and not erased."""
        ...

    def erase(self, key: str) -> None:
        """Remove the shard for good (a no-op if it does not exist)."""
        ...

    def quarantine(self, key: str) -> str | None:
        """Set a damaged shard aside, as it is (still encrypted, for forensics), so that the
        key starts afresh; returns where it went, or None when there was nothing."""
        ...

    def close(self) -> None:
        """Release resources; later calls raise StoreUsageError."""
        ...
