"""`counsel-bot store migrate --to postgresql://...` / `--from postgresql://...`.

Copies the store (every shard) and the audit chain between the data folder
(COUNSEL_BOT_DATA_DIR) and a PostgreSQL database, with the same key. Both stores seal a shard
the same way (AES-GCM bound to its HMAC id), so the copy moves sealed blobs unchanged and never
decrypts into anything but memory, to check each one.

Refused: a target that already holds shards or audit entries; a source shard that does not
open (run `counsel-bot doctor` first); a source audit chain that does not verify.
Verified after the copy: the number of shards, that each opens in the target, and the audit
chain (same number of entries and the same anchor, `seq:hash` of the last entry).

Into PostgreSQL the copy is one transaction: it commits whole or not at all. Into a folder
each file is written atomically; a copy that fails half-way leaves a partial folder, which the
next attempt refuses as non-empty: remove it and run again.

The work still to come moves too (queue_migrate.py): scheduled items, messages not yet
sent, updates not yet stepped, notes not yet read; its counts are checked on both sides.
Stop the bot first (a running bot's journals are locked, and the copy is refused): shards
changed during the copy may be copied in an old version. The quarantine stays where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from counsel_bot.audit.log import AuditLog
from counsel_bot.audit.pg import PgAuditLog
from counsel_bot.cli import queue_migrate
from counsel_bot.store import TinyDBStore, load_or_create_key
from counsel_bot.store.errors import CorruptShardError
from counsel_bot.store.keys import describe_key_lookup
from counsel_bot.store.postgres import PostgresStore, database_initialised, redact
from counsel_bot.store.tinydb_store import open_shard_blob


class MigrateError(Exception):
    """The copy was refused or did not verify; the message says which and what to do."""


def _verified_audit(log: AuditLog | PgAuditLog, where: str) -> tuple[int, str | None]:
    result = log.verify()
    if not result.ok:
        raise MigrateError(f"the audit chain in {where} does not verify ({result.reason}); "
                           "nothing was copied. Run 'counsel-bot audit verify'")
    return result.entries, result.anchor


def to_database(data_dir: Path, url: str, out: TextIO) -> int:
    """Copy the data folder into the (empty) database at ``url``; returns the shard count."""
    key = load_or_create_key(data_dir)
    folder = TinyDBStore(data_dir, key, key_source=describe_key_lookup())
    audit_src = AuditLog(data_dir, folder.cipher)
    pg = PostgresStore(url, key, key_source=describe_key_lookup())
    try:
        audit_dst = PgAuditLog(pg.pool, pg.cipher)
        if pg.count() or audit_dst.count():
            raise MigrateError(f"the database {pg.where} is not empty ({pg.count()} shards, "
                               f"{audit_dst.count()} audit entries); nothing was copied")
        if any(queue_migrate.database_counts(pg).values()):
            raise MigrateError(f"the database {pg.where} already holds queued work; nothing "
                               "was copied")
        entries, anchor = _verified_audit(audit_src, str(data_dir))
        work = queue_migrate.folder_work(data_dir, folder.cipher)
        shards = 0
        with pg.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            for path in folder.shard_files():
                fid, blob = folder.read_sealed(path)
                if open_shard_blob(folder.cipher, blob, fid) is None:
                    raise MigrateError(f"a shard file does not open ({fid[:12]}); nothing was "
                                       "copied. Run 'counsel-bot doctor' first")
                cur.execute("INSERT INTO counsel_shards (id, blob) VALUES (%s, %s)", (fid, blob))
                shards += 1
            audit_dst.import_sealed(audit_src.sealed(), conn)
            queue_migrate.put_into_database(pg, work, conn)
        _check(shards, pg.count(), entries, anchor, audit_dst, pg.where)
        moved = _check_work({k: len(v) for k, v in work.items()},
                            queue_migrate.database_counts(pg), pg.where)
        for fid, blob in pg.rows():
            if not pg.blob_opens(fid, blob):
                raise MigrateError(f"shard {fid[:12]} does not open in {pg.where}")
    finally:
        pg.close()
        audit_src.close()
        folder.close()
    print(f"copied {shards:,} shards and {entries:,} audit entries from {data_dir} to "
          f"{redact(url)}; counts and the audit chain verified (anchor {anchor})", file=out)
    print(f"moved the work still to come: {moved}", file=out)
    return shards


def from_database(url: str, data_dir: Path, out: TextIO) -> int:
    """Copy the database at ``url`` into the (empty) data folder; returns the shard count."""
    key = load_or_create_key(data_dir, database=redact(url),
                             initialised=database_initialised(url))
    pg = PostgresStore(url, key, key_source=describe_key_lookup())
    try:
        folder = TinyDBStore(data_dir, key, key_source=describe_key_lookup())
    except BaseException:
        pg.close()
        raise
    existing = sum(1 for _ in folder.shard_files())
    log_file = data_dir / "audit" / "audit.log"
    if (existing or (log_file.exists() and log_file.stat().st_size)
            or queue_migrate.folder_has_work(data_dir)):
        folder.close()
        pg.close()
        raise MigrateError(f"the data folder {data_dir} is not empty ({existing} shards"
                           f"{', an audit log' if log_file.exists() else ''}); nothing was "
                           "copied")
    audit_dst = AuditLog(data_dir, folder.cipher)
    try:
        audit_src = PgAuditLog(pg.pool, pg.cipher)
        entries, anchor = _verified_audit(audit_src, pg.where)
        shards = 0
        for fid, blob in pg.rows():
            try:
                folder.put_sealed(fid, blob)
            except CorruptShardError:
                raise MigrateError(f"shard {fid[:12]} in {pg.where} does not open; the folder "
                                   "holds a partial copy: remove it, repair, and run again"
                                   ) from None
            shards += 1
        audit_dst.import_sealed(audit_src.sealed())
        queue_migrate.database_to_folder(pg, data_dir, folder.cipher)
        copied = sum(1 for _ in folder.shard_files())
        _check(shards, copied, entries, anchor, audit_dst, str(data_dir))
        moved = _check_work(queue_migrate.database_counts(pg),
                            queue_migrate.folder_counts(data_dir, folder.cipher), str(data_dir))
        for path in folder.shard_files():
            if folder.shard_is_damaged(path):
                raise MigrateError(f"a copied shard does not open in {data_dir}")
    finally:
        audit_dst.close()
        folder.close()
        pg.close()
    print(f"copied {shards:,} shards and {entries:,} audit entries from {redact(url)} to "
          f"{data_dir}; counts and the audit chain verified (anchor {anchor})", file=out)
    print(f"moved the work still to come: {moved}", file=out)
    return shards


def _check(expected: int, found: int, entries: int, anchor: str | None,
           audit: AuditLog | PgAuditLog, where: str) -> None:
    if found != expected:
        raise MigrateError(f"{where} holds {found} shards after copying {expected}")
    got, got_anchor = _verified_audit(audit, where)
    if got != entries or got_anchor != anchor:
        raise MigrateError(f"the audit chain in {where} ({got} entries, anchor {got_anchor}) "
                           f"is not the one copied ({entries}, {anchor})")


def _check_work(expected: dict[str, int], found: dict[str, int], where: str) -> str:
    """The queues' counts on both sides; returns them as words for the summary."""
    if found != expected:
        raise MigrateError(f"{where} holds {found} queued items after copying {expected}")
    return ", ".join(f"{n:,} {name}" for name, n in expected.items())
