"""Sharded, encrypted document store: TinyDB per shard (default) or a row per shard in
PostgreSQL (``postgres.py``, imported only when used). See docs/store.md.

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
from .keys import describe_key_lookup, load_or_create_key
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
    "is_database_url",
    "load_or_create_key",
    "open_store",
]


def open_store(location: Path | str, key: bytes | None = None) -> Store:
    """Open the encrypted store at ``location``: a data folder (created on first use), or a
    ``postgresql://`` URL (the PostgreSQL store, schema migrated on open).

    ``key`` (32 bytes) defaults to the configured key (see :mod:`counsel_bot.store.keys`).
    Raises :class:`WrongKeyError` if the key does not match the store, before any change.
    """
    if is_database_url(str(location)):
        from .postgres import PostgresStore, database_initialised, redact

        url = str(location)
        if key is None:
            key = load_or_create_key(Path("data").resolve(), database=redact(url),
                                     initialised=database_initialised(url))
            return PostgresStore(url, key, key_source=describe_key_lookup())
        return PostgresStore(url, key)
    data_dir = Path(location).expanduser()
    if key is None:
        return TinyDBStore(data_dir, load_or_create_key(data_dir))
    return TinyDBStore(data_dir, key, key_source="the key was passed by the calling code")


def is_database_url(value: str | None) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL: the PostgreSQL store."""
    return bool(value) and str(value).startswith(("postgresql://", "postgres://"))
