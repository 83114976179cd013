"""Store exceptions.

Messages carry context (operation, a short hash of the shard's file id, folder paths) but
never decrypted content, shard keys (they contain chat ids and case codes) or key material.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every store failure."""

    def __init__(self, message: str, *, shard: str | None = None, op: str | None = None) -> None:
        self.shard = shard
        self.op = op
        context = ", ".join(
            part
            for part in (f"op={op}" if op else "", f"shard={shard[:12]}" if shard else "")
            if part
        )
        super().__init__(f"{message} ({context})" if context else message)


class KeyConfigError(StoreError):
    """The encryption key could not be obtained or is badly placed / malformed."""


class MissingKeyError(KeyConfigError):
    """The data folder is initialised but no key was found (a new one is not created)."""


class InvalidKeyError(KeyConfigError):
    """A key was found but is not urlsafe base64 of exactly 32 bytes."""


class KeyInsideDataError(KeyConfigError):
    """The key file lies inside the data folder, where backups would copy it along."""


class WrongKeyError(StoreError):
    """The key does not decrypt the data folder's key check file. Nothing was changed."""


class CorruptShardError(StoreError):
    """A shard failed authentication although the key is right (tampering or corruption)."""


class ReadOnlyError(StoreError):
    """A write was attempted through a snapshot."""


class LockTimeoutError(StoreError):
    """A shard lock could not be acquired in time."""


class StoreUsageError(StoreError):
    """The API was misused (closed store, lock upgrade, erase inside a transaction...)."""
