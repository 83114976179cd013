"""The default store: one encrypted TinyDB file per shard.

Layout under the data folder::

    keycheck                        encrypted known text; proves the key on open
    shards/ab/cd/abcd<...64 hex>.db  one shard (HMAC of its key names it)
    shards/ab/cd/abcd<...>.lock      its flock file (exists only while in use)
    quarantine/abcd<...>.<time>.db  a damaged shard set aside, as it was (still encrypted)

Files are 0600 and folders 0700 whatever the umask (see files.py).

A commit writes a temp file in the shard's directory, fsyncs it, renames it over the shard
file (os.replace) and fsyncs the directory, so a shard file is always a complete old or
complete new version, whatever instant the process is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import BufferedStorage, ShardStoreBase, dump_state
from .crypto import DecryptionFailed, ShardCipher
from .errors import (
    CorruptShardError,
    InvalidKeyError,
    StoreError,
    StoreUsageError,
    WrongKeyError,
)
from .files import QUARANTINE_DIR, fsync_dir, private_dir, set_aside
from .keys import KEYCHECK_NAME, describe_key_lookup
from .locking import KeyedLocks, lock_file, unlock_file

SHARDS_DIR = "shards"
_KEYCHECK_TEXT = b"counsel-bot keycheck v1"
_KEYCHECK_AAD = b"counsel-bot/keycheck"
_TMP_MARK = ".tmp"
_REMEMBERED = 200_000  # per-process memo sizes (file names, swept shards)


class EncryptedShardStorage(BufferedStorage):
    """A shard's TinyDB storage: decrypted state in memory, sealed file on commit."""

    def __init__(
        self, state: bytes | None, *, path: str, key: str, file_id: str, read_only: bool
    ) -> None:
        super().__init__(state, read_only=read_only, name=file_id)
        self.path = path
        self.key = key

    @classmethod
    def load(
        cls, cipher: ShardCipher, path: str, key: str, file_id: str, *, read_only: bool
    ) -> EncryptedShardStorage:
        """Read and decrypt the shard file (``None`` state when it does not exist)."""
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
        except FileNotFoundError:
            return cls(None, path=path, key=key, file_id=file_id, read_only=read_only)
        except OSError as exc:
            raise StoreError(
                f"Cannot read shard file: {exc.strerror}", shard=file_id, op="read"
            ) from exc
        payload = open_shard_blob(cipher, blob, file_id)
        if payload is None or payload["k"] != key:
            raise CorruptShardError(
                "Shard file failed authentication although the key is right: it was corrupted "
                "or tampered with. It is left untouched; restore it from a backup, or set it "
                "aside with 'counsel-bot doctor --repair'",
                shard=file_id,
                op="read",
            )
        state = dump_state(payload["t"])
        return cls(state, path=path, key=key, file_id=file_id, read_only=read_only)

    def seal(self, cipher: ShardCipher) -> bytes:
        """The encrypted file content for the current state."""
        assert self.state is not None
        key_json = json.dumps(self.key, ensure_ascii=False).encode("utf-8")
        plaintext = b'{"k":' + key_json + b',"t":' + self.state + b"}"
        return cipher.encrypt(plaintext, self.name.encode("ascii"))


def open_shard_blob(cipher: ShardCipher, blob: bytes, file_id: str) -> dict[str, Any] | None:
    """The decrypted content of a shard file named ``file_id``, or None when it is damaged
    (fails authentication, is not the JSON of a shard, or belongs under another name)."""
    try:
        payload = json.loads(cipher.decrypt(blob, file_id.encode("ascii")))
    except (DecryptionFailed, ValueError, UnicodeEncodeError):
        return None
    if (not isinstance(payload, dict) or not isinstance(payload.get("k"), str)
            or not isinstance(payload.get("t"), dict)):
        return None
    return payload


@dataclass
class _Handle:
    # Paths are plain strings: a transaction builds several, and pathlib costs more than the
    # rest of the path work together.
    key: str
    file_id: str
    dir: str
    data: str
    lock: str
    fd: int | None  # flock holder; None for a snapshot of an absent shard
    exclusive: bool
    exists: bool | None = None  # whether the shard file exists, once known


class TinyDBStore(ShardStoreBase[_Handle]):
    """Encrypted, crash-safe, multi-process TinyDB store (see module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        key: bytes,
        *,
        key_source: str | None = None,
        lock_timeout: float = 30.0,
        durable: bool = True,
    ) -> None:
        """Open (initialising if new) ``data_dir`` with ``key``.

        ``durable=False`` skips fsync (bulk loads in benchmarks/tests only).
        Raises :class:`WrongKeyError` before touching anything if the key does not match.
        """
        super().__init__()
        self.data_dir = Path(data_dir)
        try:
            self._cipher = ShardCipher(key)
        except ValueError:
            raise InvalidKeyError("The store key must be exactly 32 bytes", op="open") from None
        self._key_source = key_source or describe_key_lookup()
        self._shards = self.data_dir / SHARDS_DIR
        self._lock_timeout = lock_timeout
        self._durable = durable
        self._threads = KeyedLocks()
        # Per-process memory of work that needs doing once, not on every transaction:
        self._file_ids: dict[str, str] = {}  # shard key -> HMAC file name
        self._known_dirs: set[str] = set()  # leaf folders known to exist
        self._swept: set[str] = set()  # shards whose leftover temp files were removed
        self._open_data_dir()

    @property
    def cipher(self) -> ShardCipher:
        """The cipher of this store's key (the audit log and journals use it too)."""
        return self._cipher

    # -- data folder -------------------------------------------------------------------
    def _open_data_dir(self) -> None:
        keycheck = self.data_dir / KEYCHECK_NAME
        try:
            blob = keycheck.read_bytes()
        except FileNotFoundError:
            self._initialise(keycheck)
            return
        self._verify_keycheck(blob)

    def _verify_keycheck(self, blob: bytes) -> None:
        try:
            ok = self._cipher.decrypt(blob, _KEYCHECK_AAD) == _KEYCHECK_TEXT
        except DecryptionFailed:
            ok = False
        if not ok:
            raise WrongKeyError(
                f"The encryption key does not open the data folder {self.data_dir}: "
                f"{self._key_source}. Nothing was read or changed. Use the key this folder "
                "was created with",
                op="open",
            )

    def _initialise(self, keycheck: Path) -> None:
        if self._shards.is_dir() and any(os.scandir(self._shards)):
            raise StoreError(
                f"The data folder {self.data_dir} holds shards but no key check file; refusing "
                "to initialise it with a key that may not be the right one",
                op="open",
            )
        private_dir(self._shards)
        tmp = self.data_dir / f"{KEYCHECK_NAME}{_TMP_MARK}{secrets.token_hex(4)}"
        self._write_file(tmp, self._cipher.encrypt(_KEYCHECK_TEXT, _KEYCHECK_AAD))
        try:
            os.link(tmp, keycheck)  # atomic create-if-absent
        except FileExistsError:  # another process initialised it first
            self._verify_keycheck(keycheck.read_bytes())
        finally:
            os.unlink(tmp)
        self._fsync_dir(self.data_dir)

    # -- hooks -------------------------------------------------------------------------
    def _handle(self, key: str, *, exclusive: bool) -> _Handle:
        if not isinstance(key, str) or not key:
            raise StoreUsageError("A shard key must be a non-empty string", op="key")
        fid = self._file_ids.get(key)
        if fid is None:
            fid = self._cipher.file_id(key)
            if len(self._file_ids) >= _REMEMBERED:
                self._file_ids.clear()
            self._file_ids[key] = fid
        leaf = f"{self._shards}/{fid[:2]}/{fid[2:4]}"
        return _Handle(key, fid, leaf, f"{leaf}/{fid}.db", f"{leaf}/{fid}.lock", None, exclusive)

    def _acquire(self, key: str, *, shared: bool, op: str) -> _Handle:
        handle = self._handle(key, exclusive=not shared)
        self._threads.acquire(handle.file_id, self._lock_timeout)
        try:
            if shared and not os.path.exists(handle.data):
                return handle  # nothing to read: no lock file, no directories created
            if not shared:
                self._ensure_dir(handle.dir)
            try:
                handle.fd = lock_file(
                    handle.lock, shared=shared, timeout=self._lock_timeout, name=handle.file_id
                )
            except FileNotFoundError:
                if shared:  # snapshot raced with an erase of the directory
                    return handle
                self._known_dirs.discard(handle.dir)  # removed behind our back: make it again
                self._ensure_dir(handle.dir)
                handle.fd = lock_file(
                    handle.lock, shared=shared, timeout=self._lock_timeout, name=handle.file_id
                )
        except BaseException:
            self._threads.release(handle.file_id)
            raise
        return handle

    def _release(self, handle: _Handle) -> None:
        try:
            if handle.fd is not None:
                # An exclusive holder drops the lock file of a shard that does not exist.
                exists = handle.exists
                if exists is None:
                    exists = os.path.exists(handle.data)
                drop = handle.exclusive and not exists
                unlock_file(handle.fd, handle.lock if drop else None)
        finally:
            self._threads.release(handle.file_id)

    def _load(self, handle: _Handle, *, read_only: bool) -> EncryptedShardStorage:
        if handle.fd is None:
            return EncryptedShardStorage(
                None, path=handle.data, key=handle.key, file_id=handle.file_id, read_only=True
            )
        storage = EncryptedShardStorage.load(
            self._cipher, handle.data, handle.key, handle.file_id, read_only=read_only
        )
        handle.exists = storage.state is not None
        return storage

    def _commit(self, handle: _Handle, storage: BufferedStorage) -> None:
        assert isinstance(storage, EncryptedShardStorage)
        blob = storage.seal(self._cipher)
        if handle.file_id not in self._swept:  # once per shard and process
            self._clean_temp_files(handle)
            if len(self._swept) >= _REMEMBERED:
                self._swept.clear()
            self._swept.add(handle.file_id)
        tmp = f"{handle.dir}/{handle.file_id}{_TMP_MARK}{secrets.token_hex(4)}"
        try:
            self._write_file(tmp, blob)
            os.replace(tmp, handle.data)
            handle.exists = True
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StoreError(
                f"Cannot write shard file: {exc.strerror}", shard=handle.file_id, op="commit"
            ) from None
        self._fsync_dir(handle.dir)

    def _delete(self, handle: _Handle) -> None:
        self._clean_temp_files(handle)
        handle.exists = False
        try:
            os.unlink(handle.data)
        except FileNotFoundError:
            return
        self._fsync_dir(handle.dir)

    def _set_aside(self, handle: _Handle) -> str | None:
        if not os.path.exists(handle.data):
            return None
        handle.exists = False
        return self.set_aside_file(handle.data)

    def set_aside_file(self, path: str | Path) -> str:
        """Move a damaged file into `quarantine/` as it is, durably; returns the new path."""
        return set_aside(self.data_dir / QUARANTINE_DIR, path, durable=self._durable)

    # -- checking (counsel-bot doctor) -------------------------------------------------
    def shard_files(self) -> Iterator[str]:
        """Every shard file in the data folder (not lock or temp files), in no set order."""
        for root, _dirs, files in os.walk(self._shards):
            for name in files:
                if name.endswith(".db") and _TMP_MARK not in name:
                    yield os.path.join(root, name)

    def shard_is_damaged(self, path: str) -> bool:
        """True when the shard file does not open with this store's key (read unlocked:
        a commit replaces the file whole, so a reader sees an old or a new version)."""
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
        except FileNotFoundError:  # erased meanwhile
            return False
        return open_shard_blob(self._cipher, blob, Path(path).stem) is None

    def quarantine_shard_file(self, path: str) -> str | None:
        """Set a damaged shard file aside under its lock, if it is still damaged then;
        returns where it went (None when there was nothing to move)."""
        fid = Path(path).stem
        leaf = f"{self._shards}/{fid[:2]}/{fid[2:4]}"
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(leaf):
            return self.set_aside_file(path)  # not where its name puts it: nothing can use it
        handle = _Handle("", fid, leaf, f"{leaf}/{fid}.db", f"{leaf}/{fid}.lock", None, True)
        self._threads.acquire(fid, self._lock_timeout)
        try:
            handle.fd = lock_file(handle.lock, shared=False, timeout=self._lock_timeout,
                                  name=fid)
            if not self.shard_is_damaged(handle.data):  # mended or erased meanwhile
                return None
            handle.exists = False
            return self.set_aside_file(handle.data)
        finally:
            self._release(handle)

    def read_sealed(self, path: str) -> tuple[str, bytes]:
        """A shard file as (file id, sealed blob), unopened (``store migrate``)."""
        with open(path, "rb") as fh:
            return Path(path).stem, fh.read()

    def put_sealed(self, file_id: str, blob: bytes) -> None:
        """Write a sealed shard (from another store with the same key) as a new file,
        atomically; refuses one that does not open under its id, or an existing file."""
        if open_shard_blob(self._cipher, blob, file_id) is None:
            raise CorruptShardError("A copied shard does not open with this key",
                                    shard=file_id, op="import")
        leaf = f"{self._shards}/{file_id[:2]}/{file_id[2:4]}"
        self._ensure_dir(leaf)
        tmp = f"{leaf}/{file_id}{_TMP_MARK}{secrets.token_hex(4)}"
        self._write_file(tmp, blob)
        try:
            os.link(tmp, f"{leaf}/{file_id}.db")  # create-if-absent, whole or not at all
        except FileExistsError:
            raise StoreError("The shard already exists in the target", shard=file_id,
                             op="import") from None
        finally:
            os.unlink(tmp)
        self._fsync_dir(leaf)

    def exists(self, key: str) -> bool:
        """True if the shard file exists (written and not erased)."""
        self._check_open("exists")
        return os.path.exists(self._handle(key, exclusive=False).data)

    # -- file helpers ------------------------------------------------------------------
    def _clean_temp_files(self, handle: _Handle) -> None:
        """Remove temp files left by a killed writer (we hold the shard's lock).

        Done on the first commit of each shard in a process, not on every commit: a leftover
        is harmless but for its disk space (it is encrypted and never read), and a writer
        killed later leaves one that the next process to start cleans up.
        """
        prefix = handle.file_id + _TMP_MARK
        with contextlib.suppress(FileNotFoundError), os.scandir(handle.dir) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)

    def _write_file(self, path: str | Path, blob: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
            if self._durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _ensure_dir(self, leaf: str) -> None:
        if leaf in self._known_dirs:
            return
        if os.path.isdir(leaf):
            self._known_dirs.add(leaf)
            return
        if not self._shards.is_dir():
            raise StoreError(
                f"The shards folder of {self.data_dir} has disappeared", op="transaction"
            )
        private_dir(leaf)
        self._fsync_dir(os.path.dirname(leaf))
        self._fsync_dir(self._shards)
        self._known_dirs.add(leaf)

    def _fsync_dir(self, path: str | Path) -> None:
        if self._durable:
            fsync_dir(path)
