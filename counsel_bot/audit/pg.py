"""The audit chain in PostgreSQL (with the PostgreSQL store): the same entries, sealed the same
way as in ``audit.log`` (see log.py), one row per entry in ``counsel_audit``.

The head (last seq and hash, encrypted) is the row ``audit_head`` of ``counsel_meta``; an
append locks it with ``SELECT ... FOR UPDATE``, checks that the last row matches it, inserts
the next entry and moves the head, in one transaction: appends from every instance and the
admin CLI form one chain, and rows cut from the end show against the head.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from counsel_bot.audit.log import (
    _HEAD_AAD,
    GENESIS,
    AuditEntry,
    AuditError,
    VerifyResult,
    _parse_anchor,
    entry_body,
    open_entry,
    seal_entry,
)
from counsel_bot.store.crypto import DecryptionFailed, ShardCipher

_HEAD = "audit_head"


class PgAuditLog:
    """The audit log in the store's database (see module docstring); any number of processes."""

    def __init__(self, pool: ConnectionPool[Any], cipher: ShardCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    def _seal_head(self, seq: int, digest: str) -> bytes:
        return self._cipher.encrypt(json.dumps({"seq": seq, "hash": digest}).encode(),
                                    _HEAD_AAD)

    def _open_head(self, blob: bytes) -> tuple[int, str]:
        try:
            head = json.loads(self._cipher.decrypt(bytes(blob), _HEAD_AAD))
            return int(head["seq"]), str(head["hash"])
        except (DecryptionFailed, ValueError, TypeError, KeyError):
            raise AuditError("the audit head row is damaged or has another key") from None

    def _locked_head(self, conn: psycopg.Connection[Any]) -> tuple[int, str]:
        """Inside a transaction: the head, locked, checked against the last row."""
        conn.execute("INSERT INTO counsel_meta (name, blob) VALUES (%s, %s) "
                     "ON CONFLICT (name) DO NOTHING", (_HEAD, self._seal_head(0, GENESIS)))
        row = conn.execute("SELECT blob FROM counsel_meta WHERE name = %s FOR UPDATE",
                           (_HEAD,)).fetchone()
        assert row is not None
        seq, digest = self._open_head(row[0])
        last = conn.execute("SELECT seq, blob FROM counsel_audit ORDER BY seq DESC LIMIT 1"
                            ).fetchone()
        if last is None and seq == 0:
            return seq, digest
        if last is None or int(last[0]) != seq or open_entry(
                self._cipher, int(last[0]), bytes(last[1])).hash != digest:
            raise AuditError(f"the last audit row does not match the head (entry {seq}); "
                             "run 'counsel-bot audit verify'")
        return seq, digest

    # -- writing ---------------------------------------------------------------------------
    def record(self, actor: str, event: str, *, why: str,
               details: dict[str, str | int | bool | None] | None = None,
               at: datetime | None = None) -> AuditEntry:
        """Append one entry and return it (see `AuditLog.record`)."""
        with self._pool.connection() as conn, conn.transaction():
            seq, prev = self._locked_head(conn)
            entry, blob = seal_entry(self._cipher, prev,
                                     entry_body(seq + 1, actor, event, why, details, at))
            conn.execute("INSERT INTO counsel_audit (seq, blob) VALUES (%s, %s)",
                         (entry.seq, blob))
            conn.execute("UPDATE counsel_meta SET blob = %s WHERE name = %s",
                         (self._seal_head(entry.seq, entry.hash), _HEAD))
        return entry

    def import_sealed(self, items: Iterator[tuple[int, bytes]],
                      conn: psycopg.Connection[Any] | None = None) -> int:
        """Copy sealed entries into an EMPTY chain (``store migrate``); returns how many.
        With ``conn``, inside the caller's transaction (which commits or rolls back)."""
        if conn is None:
            with self._pool.connection() as own, own.transaction():
                return self.import_sealed(items, own)
        with conn.transaction():  # a savepoint inside the caller's transaction
            seq, prev = self._locked_head(conn)
            if seq:
                raise AuditError("the audit chain is not empty: refusing to import into it")
            with conn.cursor() as cur:
                for n, blob in items:
                    entry = open_entry(self._cipher, n, blob)
                    if n != seq + 1 or entry.prev != prev:
                        raise AuditError(f"entry {n} does not chain to entry {seq}")
                    cur.execute("INSERT INTO counsel_audit (seq, blob) VALUES (%s, %s)",
                                (n, blob))
                    seq, prev = n, entry.hash
            conn.execute("UPDATE counsel_meta SET blob = %s WHERE name = %s",
                         (self._seal_head(seq, prev), _HEAD))
        return seq

    # -- reading ---------------------------------------------------------------------------
    def sealed(self) -> Iterator[tuple[int, bytes]]:
        """Every entry as (seq, sealed blob), in order, unopened."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(
                name="counsel_audit_rows") as cur:
            cur.execute("SELECT seq, blob FROM counsel_audit ORDER BY seq")
            for seq, blob in cur:
                yield int(seq), bytes(blob)

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry in order, each opened and checked on its own (see `verify`)."""
        for seq, blob in self.sealed():
            yield open_entry(self._cipher, seq, blob)

    def verify(self, anchor: str | None = None) -> VerifyResult:
        """Check the whole chain, and the head (and ``anchor``) against its end."""
        anchor_seq, anchor_hash = _parse_anchor(anchor)
        seq, prev, kept = 0, GENESIS, {}

        def bad(first: int, reason: str) -> VerifyResult:
            return VerifyResult(False, first - 1, first, reason)

        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                row = conn.execute("SELECT blob FROM counsel_meta WHERE name = %s",
                                   (_HEAD,)).fetchone()
                try:
                    head = self._open_head(row[0]) if row else (0, GENESIS)
                    head_error = ""
                except AuditError as exc:
                    head, head_error = (0, GENESIS), str(exc)
                with conn.cursor(name="counsel_audit_verify") as cur:
                    cur.execute("SELECT seq, blob FROM counsel_audit ORDER BY seq")
                    for n, blob in cur:
                        expected = seq + 1
                        if n > expected:
                            return bad(expected, f"entry {expected} is missing "
                                                 f"(entry {n} is in its place)")
                        try:
                            entry = open_entry(self._cipher, int(n), bytes(blob))
                        except AuditError as exc:
                            return bad(expected, str(exc))
                        if entry.prev != prev:
                            return bad(expected, f"entry {expected} does not chain to entry "
                                                 f"{seq}")
                        seq, prev = entry.seq, entry.hash
                        if seq in (anchor_seq, head[0]):
                            kept[seq] = entry.hash
            finally:
                conn.rollback()
        if head_error:
            return bad(seq + 1, head_error)
        for name, n, digest in (("head", head[0], head[1]), ("anchor", anchor_seq, anchor_hash)):
            if n and n > seq:
                return bad(seq + 1, f"the chain ends at entry {seq} but the {name} records "
                                    f"entry {n}: entries were removed from the end")
            if n and kept.get(n) != digest:
                return bad(n, f"entry {n} does not match the {name}: the chain was rewritten")
        if seq and head[0] < seq:
            return bad(head[0] + 1, f"entries after {head[0]} are not in the head: added "
                                    "behind the log's back")
        return VerifyResult(True, seq, None, "chain intact", f"{seq}:{prev}")

    def count(self) -> int:
        """How many entries the chain holds."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM counsel_audit").fetchone()
            return int(row[0]) if row else 0

    def close(self) -> None:
        """Nothing of its own to release: the pool belongs to the store."""
