"""The PostgreSQL store: one row per shard, sealed exactly as the TinyDB store seals a file.

Chosen with ``COUNSEL_BOT_DATABASE_URL=postgresql://...`` (see bootstrap); without it the
TinyDB folder is used as before.

Tables (see `MIGRATIONS`)::

    counsel_schema      version, applied_at: the migrations applied
    counsel_meta        name -> blob: the key check (and the audit head, see audit/pg.py)
    counsel_shards      id (HMAC of the shard key) -> blob (AES-GCM of {"k": key, "t": tables})
    counsel_quarantine  damaged shards set aside, as they were (still encrypted)

The database never sees a shard key or a returnee's words in plain text: a row's id is the
same HMAC that names a TinyDB shard file, and its blob is the same sealed bytes (the shard key
inside, the id as AAD), so `store migrate` copies blobs unchanged in either direction.

Locking: one shard is one row. A transaction takes the row with ``SELECT ... FOR UPDATE``
(after ``INSERT ... ON CONFLICT DO NOTHING`` of an empty placeholder, so that a shard that does
not exist yet is locked too; a transaction that writes nothing rolls back and the placeholder
never becomes visible). Its writes are one ``UPDATE`` and one ``COMMIT``: all or nothing, and
two transactions on one shard, from any thread, process or machine, run one after the other.
A row per shard (not a table or a lock per shard type) keeps unrelated chats from waiting on
each other, and the cost of a write independent of the number of shards (a primary-key
lookup). A snapshot is a plain ``SELECT`` of the last committed version: under MVCC it needs no
lock and never waits for a writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from .base import BufferedStorage, ShardStoreBase, dump_state
from .crypto import DecryptionFailed, ShardCipher
from .errors import (
    CorruptShardError,
    InvalidKeyError,
    LockTimeoutError,
    StoreError,
    StoreUsageError,
    WrongKeyError,
)
from .tinydb_store import _KEYCHECK_AAD, _KEYCHECK_TEXT, EncryptedShardStorage, open_shard_blob

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key under which migrations run: "counsel-bot schema" as 8 bytes.
MIGRATION_LOCK = int.from_bytes(b"cb:schem", "big") & 0x7FFF_FFFF_FFFF_FFFF

MIGRATIONS: list[tuple[int, str, str]] = [
    # (version, what, SQL). Never edit an applied migration: add the next one.
    # Plain CREATE TABLE (no IF NOT EXISTS): a migration that runs twice fails loudly.
    (1, "shards, key check, quarantine", """
        CREATE TABLE counsel_meta (
            name text PRIMARY KEY,
            blob bytea NOT NULL
        );
        CREATE TABLE counsel_shards (
            id text PRIMARY KEY,
            blob bytea,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE counsel_quarantine (
            n bigserial PRIMARY KEY,
            id text NOT NULL,
            blob bytea NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        );
    """),
    (2, "audit chain", """
        CREATE TABLE counsel_audit (
            seq bigint PRIMARY KEY,
            blob bytea NOT NULL
        );
    """),
    (3, "leased queues (pg_shared.py)", """
        CREATE TABLE counsel_queue (
            id bigserial PRIMARY KEY,
            queue text NOT NULL,
            uid text NOT NULL,
            chat text,
            key text,
            due timestamptz NOT NULL DEFAULT now(),
            payload bytea NOT NULL,
            lease_until timestamptz,
            owner text,
            token bigint NOT NULL DEFAULT 0,
            attempts integer NOT NULL DEFAULT 0,
            done_at timestamptz,
            UNIQUE (queue, key)
        );
        CREATE INDEX counsel_queue_ready ON counsel_queue (queue, due, id)
            WHERE done_at IS NULL;
        CREATE INDEX counsel_queue_chat ON counsel_queue (queue, chat, id)
            WHERE done_at IS NULL;
    """),
    (4, "queue priorities, tags, tries and the purge of done rows", """
        ALTER TABLE counsel_queue ADD COLUMN priority smallint NOT NULL DEFAULT 0;
        ALTER TABLE counsel_queue ADD COLUMN tried boolean NOT NULL DEFAULT false;
        ALTER TABLE counsel_queue ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
        DROP INDEX counsel_queue_ready;
        CREATE INDEX counsel_queue_ready ON counsel_queue (queue, priority, due, id)
            WHERE done_at IS NULL;
        CREATE INDEX counsel_queue_due ON counsel_queue (queue, due)
            WHERE done_at IS NULL;
        CREATE INDEX counsel_queue_tags ON counsel_queue USING gin (tags)
            WHERE done_at IS NULL;
        CREATE INDEX counsel_queue_done ON counsel_queue (queue, done_at)
            WHERE done_at IS NOT NULL;
    """),
]
LATEST = MIGRATIONS[-1][0]


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host, db = info.get("host", ""), info.get("dbname", "")
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{host}{port}/{db}"


def migrate_schema(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations this database lacks, in order, in ONE transaction held under
    ``pg_advisory_xact_lock``: two instances starting together apply each one once (the
    second waits, then finds nothing to do). Returns the versions applied now."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS counsel_schema ("
                     "version integer PRIMARY KEY, what text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM counsel_schema").fetchone()
        current = int(row[0]) if row else 0
        if current > LATEST:
            raise StoreError(f"The database has schema version {current}, newer than this "
                             f"counsel-bot knows ({LATEST}): upgrade counsel-bot", op="migrate")
        applied = []
        for version, what, sql in MIGRATIONS:
            if version <= current:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO counsel_schema (version, what) VALUES (%s, %s)",
                         (version, what))
            applied.append(version)
    if applied:
        log.info("database schema migrated to version %d", applied[-1])
    return applied


def database_initialised(url: str) -> bool:
    """True when the database already holds a key check (it was opened with a key)."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT to_regclass('counsel_meta')").fetchone()
        if not row or row[0] is None:
            return False
        return conn.execute("SELECT 1 FROM counsel_meta WHERE name = 'keycheck'"
                            ).fetchone() is not None


@dataclass
class _Handle:
    key: str
    file_id: str
    conn: psycopg.Connection[Any]
    exclusive: bool
    blob: bytes | None = None


class PostgresStore(ShardStoreBase[_Handle]):
    """Encrypted shards in PostgreSQL, with the semantics of the TinyDB store (module doc)."""

    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        key_source: str | None = None,
        lock_timeout: float = 30.0,
        pool_size: int = 20,
    ) -> None:
        """Connect, migrate the schema and prove ``key`` against the database's key check.

        Raises :class:`WrongKeyError` before any change to the data if the key does not match.
        """
        super().__init__()
        try:
            self._cipher = ShardCipher(key)
        except ValueError:
            raise InvalidKeyError("The store key must be exactly 32 bytes", op="open") from None
        self.url = url
        self.where = redact(url)
        self._key_source = key_source or "the key was passed by the calling code"
        self._lock_timeout = lock_timeout
        self._file_ids: dict[str, str] = {}
        try:
            self.pool: ConnectionPool[Any] = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, timeout=lock_timeout,
                kwargs={"connect_timeout": 10}, name="counsel-bot")
            self.pool.wait(timeout=lock_timeout)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(f"Cannot connect to {self.where}: {type(exc).__name__}",
                             op="open") from None
        try:
            with self.pool.connection() as conn:
                migrate_schema(conn)
                self._check_key(conn)
        except BaseException:
            self.pool.close()
            raise

    # -- opening -----------------------------------------------------------------------
    def _check_key(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            row = conn.execute("SELECT blob FROM counsel_meta WHERE name = 'keycheck'"
                               ).fetchone()
            if row is None:
                if conn.execute("SELECT 1 FROM counsel_shards LIMIT 1").fetchone():
                    raise StoreError(
                        f"The database {self.where} holds shards but no key check; refusing "
                        "to initialise it with a key that may not be the right one", op="open")
                conn.execute("INSERT INTO counsel_meta (name, blob) VALUES ('keycheck', %s) "
                             "ON CONFLICT (name) DO NOTHING",
                             (self._cipher.encrypt(_KEYCHECK_TEXT, _KEYCHECK_AAD),))
                row = conn.execute("SELECT blob FROM counsel_meta WHERE name = 'keycheck'"
                                   ).fetchone()
        assert row is not None
        try:
            ok = self._cipher.decrypt(bytes(row[0]), _KEYCHECK_AAD) == _KEYCHECK_TEXT
        except DecryptionFailed:
            ok = False
        if not ok:
            raise WrongKeyError(
                f"The encryption key does not open the database {self.where}: "
                f"{self._key_source}. Nothing was read or changed. Use the key this database "
                "was created with", op="open")

    @property
    def cipher(self) -> ShardCipher:
        """The cipher of this store's key (the audit chain in the same database uses it)."""
        return self._cipher

    # -- hooks -------------------------------------------------------------------------
    def _file_id(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise StoreUsageError("A shard key must be a non-empty string", op="key")
        fid = self._file_ids.get(key)
        if fid is None:
            if len(self._file_ids) >= 200_000:
                self._file_ids.clear()
            fid = self._file_ids[key] = self._cipher.file_id(key)
        return fid

    def _acquire(self, key: str, *, shared: bool, op: str) -> _Handle:
        fid = self._file_id(key)
        try:
            conn = self.pool.getconn(timeout=self._lock_timeout)
        except PoolTimeout:
            raise LockTimeoutError("No database connection free in time", shard=fid,
                                   op=op) from None
        handle = _Handle(key, fid, conn, exclusive=not shared)
        try:
            if shared:
                row = conn.execute("SELECT blob FROM counsel_shards WHERE id = %s", (fid,)
                                   ).fetchone()
                conn.rollback()
            else:
                conn.execute("SELECT set_config('lock_timeout', %s, true)",
                             (f"{int(self._lock_timeout * 1000)}ms",))
                conn.execute("INSERT INTO counsel_shards (id) VALUES (%s) "
                             "ON CONFLICT (id) DO NOTHING", (fid,))
                row = conn.execute("SELECT blob FROM counsel_shards WHERE id = %s FOR UPDATE",
                                   (fid,)).fetchone()
            handle.blob = None if row is None or row[0] is None else bytes(row[0])
        except BaseException as exc:
            self._give_back(conn)
            raise _store_error(exc, fid, op) from None
        return handle

    def _release(self, handle: _Handle) -> None:
        self._give_back(handle.conn)

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        try:
            if not conn.closed:
                conn.rollback()  # a transaction that committed has nothing left to undo
        except psycopg.Error:
            pass  # a broken connection: the pool checks and replaces it
        self.pool.putconn(conn)

    def _load(self, handle: _Handle, *, read_only: bool) -> BufferedStorage:
        if handle.blob is None:
            return EncryptedShardStorage(None, path=self.where, key=handle.key,
                                         file_id=handle.file_id, read_only=read_only)
        payload = open_shard_blob(self._cipher, handle.blob, handle.file_id)
        if payload is None or payload["k"] != handle.key:
            raise CorruptShardError(
                "Shard row failed authentication although the key is right: it was corrupted "
                "or tampered with. It is left untouched; restore it from a backup, or set it "
                "aside (Store.quarantine)", shard=handle.file_id, op="read")
        state = EncryptedShardStorage(None, path=self.where, key=handle.key,
                                      file_id=handle.file_id, read_only=read_only)
        state.state = dump_state(payload["t"])
        return state

    def _commit(self, handle: _Handle, storage: BufferedStorage) -> None:
        assert isinstance(storage, EncryptedShardStorage)
        blob = storage.seal(self._cipher)
        self._run(handle, "commit", lambda c: c.execute(
            "UPDATE counsel_shards SET blob = %s, updated_at = now() WHERE id = %s",
            (blob, handle.file_id)))

    def _delete(self, handle: _Handle) -> None:
        self._run(handle, "erase", lambda c: c.execute(
            "DELETE FROM counsel_shards WHERE id = %s", (handle.file_id,)))

    def _set_aside(self, handle: _Handle) -> str | None:
        if handle.blob is None:
            return None
        out: list[int] = []

        def move(c: psycopg.Connection[Any]) -> None:
            row = c.execute("INSERT INTO counsel_quarantine (id, blob) SELECT id, blob "
                            "FROM counsel_shards WHERE id = %s RETURNING n",
                            (handle.file_id,)).fetchone()
            assert row is not None
            out.append(int(row[0]))
            c.execute("DELETE FROM counsel_shards WHERE id = %s", (handle.file_id,))

        self._run(handle, "quarantine", move)
        return f"{self.where}#counsel_quarantine/{out[0]}"

    def _run(self, handle: _Handle, op: str,
             work: Callable[[psycopg.Connection[Any]], object]) -> None:
        """Do ``work`` in the handle's transaction (which holds the row lock) and commit."""
        try:
            work(handle.conn)
            handle.conn.commit()
        except psycopg.Error as exc:
            raise _store_error(exc, handle.file_id, op) from None

    def exists(self, key: str) -> bool:
        """True if the shard's row has been committed and not erased."""
        self._check_open("exists")
        fid = self._file_id(key)
        with self.pool.connection() as conn:
            return conn.execute("SELECT 1 FROM counsel_shards WHERE id = %s "
                                "AND blob IS NOT NULL", (fid,)).fetchone() is not None

    # -- bulk access (store migrate, doctor) --------------------------------------------
    def rows(self) -> Iterator[tuple[str, bytes]]:
        """Every shard (id, sealed blob), read in one snapshot."""
        with self.pool.connection() as conn, conn.transaction(), conn.cursor(
                name="counsel_rows") as cur:
            cur.execute("SELECT id, blob FROM counsel_shards WHERE blob IS NOT NULL "
                        "ORDER BY id")
            for fid, blob in cur:
                yield fid, bytes(blob)

    def count(self) -> int:
        """How many shards the database holds."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM counsel_shards WHERE blob IS NOT NULL"
                               ).fetchone()
            return int(row[0]) if row else 0

    def blob_opens(self, fid: str, blob: bytes) -> bool:
        """True when ``blob`` opens with this store's key as the shard ``fid``."""
        return open_shard_blob(self._cipher, blob, fid) is not None

    def quarantine_row(self, fid: str) -> str | None:
        """Set a damaged shard aside under its row lock, if it is still damaged then
        (``doctor --repair``); returns where it went, None when it opens now or is gone."""
        self._check_open("quarantine")
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)",
                         (f"{int(self._lock_timeout * 1000)}ms",))
            row = conn.execute("SELECT blob FROM counsel_shards WHERE id = %s FOR UPDATE",
                               (fid,)).fetchone()
            if row is None or row[0] is None or self.blob_opens(fid, bytes(row[0])):
                return None
            (n,) = conn.execute("INSERT INTO counsel_quarantine (id, blob) SELECT id, blob "
                                "FROM counsel_shards WHERE id = %s RETURNING n", (fid,)
                                ).fetchone() or (None,)
            conn.execute("DELETE FROM counsel_shards WHERE id = %s", (fid,))
        return f"{self.where}#counsel_quarantine/{n}"

    def queue_names(self) -> list[str]:
        """The queues that have rows (doctor)."""
        with self.pool.connection() as conn:
            return [name for (name,) in conn.execute(
                "SELECT DISTINCT queue FROM counsel_queue ORDER BY queue").fetchall()]

    def close(self) -> None:
        """Close the connection pool; later calls raise StoreUsageError."""
        if not self._closed:
            super().close()
            self.pool.close()


def _store_error(exc: BaseException, fid: str, op: str) -> BaseException:
    """A database error as the store's error (the shard's HMAC id only, never its key)."""
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.DeadlockDetected):
        return LockTimeoutError(f"Shard lock not acquired: {type(exc).__name__}", shard=fid,
                                op=op)
    if isinstance(exc, psycopg.Error):
        return StoreError(f"Database error: {type(exc).__name__}", shard=fid, op=op)
    return exc
