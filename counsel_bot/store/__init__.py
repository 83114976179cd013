"""Sharded, encrypted document store (TinyDB per shard). See docs/store.md.

Typical use::

    store = open_store(Path("data"))
    with store.transaction("case:K7F3") as db:
        db.table("notes").insert({"text": "..."})
    with store.snapshot("case:K7F3") as db:
        notes = db.table("notes").all()
"""

from __future__ import annotations

from pathlib import Path

from .errors import (
    CorruptShardError,
    InvalidKeyError,
    KeyConfigError,
    KeyInsideDataError,
    LockTimeoutError,
    MissingKeyError,
    ReadOnlyError,
    StoreError,
    StoreUsageError,
    WrongKeyError,
)
from .keys import load_or_create_key
from .memory import MemoryStore
from .port import Store
from .tinydb_store import EncryptedShardStorage, TinyDBStore

__all__ = [
    "CorruptShardError",
    "EncryptedShardStorage",
    "InvalidKeyError",
    "KeyConfigError",
    "KeyInsideDataError",
    "LockTimeoutError",
    "MemoryStore",
    "MissingKeyError",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreUsageError",
    "TinyDBStore",
    "WrongKeyError",
    "load_or_create_key",
    "open_store",
]


def open_store(data_dir: Path, key: bytes | None = None) -> Store:
    """Open the encrypted store in ``data_dir`` (created on first use).

    ``key`` (32 bytes) defaults to the configured key (see :mod:`counsel_bot.store.keys`).
    Raises :class:`WrongKeyError` if the key does not match the folder, before any change.
    """
    data_dir = Path(data_dir).expanduser()
    if key is None:
        return TinyDBStore(data_dir, load_or_create_key(data_dir))
    return TinyDBStore(data_dir, key, key_source="the key was passed by the calling code")
