"""Work shared by several bot instances on one PostgreSQL database: a leased queue, and a
leader lock.

`PgQueue` - one table (`counsel_queue`) holds every queue (updates to step, messages to send,
scheduled items), told apart by name:

- Claim: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)``: instances
  claiming at once take different rows, and never wait for each other.
- Lease: a claimed row carries ``lease_until`` and a fencing ``token``. An instance that dies
  stops renewing; after the lease its rows are claimed again by another. `complete` succeeds
  only with the current token, so a late instance whose lease was taken over cannot also
  complete the row: what it did must be in the same transaction as its `complete` (pass
  ``conn``) to count, which makes that work exactly-once.
- Per-chat order: a row with a ``chat`` is not claimable while an earlier row of the same chat
  in the same queue is not done. So two items of one chat are never handled at the same time,
  and are handled in the order they were put, across instances and across crashes. This is
  held in the data, not in a lock, so it survives the death of whoever held the earlier item.
- Dedupe: ``key`` is unique per queue (``ON CONFLICT DO NOTHING``): an update id or a step's
  effect key put twice is queued once. Done rows are kept (as the dedupe memory) until `purge`.
- Payloads are sealed with the store's key (AES-GCM, AAD = queue name and the row's uid), and
  chats and keys are stored as their HMAC: the database never holds a message or a chat id in
  plain text (put the chat into the payload when the handler needs it).

`LeaderLock` - ``pg_try_advisory_lock`` on a dedicated connection: one instance holds it (the
polling leader, or the one sender that keeps the global Telegram rate); when its process dies
the server drops the connection and the lock with it, and the next `try_acquire` elsewhere
wins. TCP keepalives bound how long a dead *machine* keeps it.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from .crypto import DecryptionFailed, ShardCipher
from .postgres import PostgresStore

KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3, "tcp_user_timeout": 10_000}


@dataclass(frozen=True)
class Claim:
    """A row claimed under a lease: complete it with this token before the lease runs out."""

    id: int
    payload: dict[str, Any]
    attempts: int  # claims so far, this one included
    token: int
    priority: int = 0
    due: datetime | None = None
    uid: str = ""  # the row's stable identity, the same in every claim of it
    tried: bool = False  # an earlier claim began the row's work (`mark_tried`), unfinished


@dataclass(frozen=True)
class Entry:
    """One row to put (see `PgQueue.put`)."""

    payload: dict[str, Any]
    chat: str | None = None
    key: str | None = None
    due: datetime | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()


# The rows of several claims, locked in id order: two multi-row updates running at once
# (an outcome batch and a batch of tries, say) then wait for each other instead of deadlocking.
HELD_ROWS = ("WITH held AS (SELECT q.id FROM counsel_queue q "
             "JOIN unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS c(id, token) "
             "ON q.id = c.id AND q.token = c.token WHERE q.done_at IS NULL "
             "ORDER BY q.id FOR UPDATE OF q) ")


def _held(claims: Sequence[Claim]) -> dict[str, Any]:
    return {"ids": [c.id for c in claims], "tokens": [c.token for c in claims]}


class PgQueue:
    """One named queue in ``counsel_queue`` (see module docstring)."""

    def __init__(self, store: PostgresStore, name: str, *, lease: float = 30.0,
                 owner: str | None = None) -> None:
        self._pool = store.pool
        self._cipher: ShardCipher = store.cipher
        self.name = name
        self.lease = lease
        self.owner = owner or secrets.token_hex(6)

    def _aad(self, uid: str) -> bytes:
        return f"counsel-bot/queue/{self.name}/{uid}".encode()

    def _hide(self, value: str | None) -> str | None:
        """Chat ids and dedupe keys are stored as their HMAC, as shard keys are."""
        return None if value is None else self._cipher.file_id(f"queue/{value}")[:40]

    def put(self, payload: dict[str, Any], *, chat: str | None = None, key: str | None = None,
            due: datetime | None = None, priority: int = 0, tags: Sequence[str] = (),
            conn: psycopg.Connection[Any] | None = None) -> int | None:
        """Queue ``payload``; returns its id, or None when ``key`` was queued before.
        With ``conn``, inside the caller's transaction (queued only if that commits)."""
        return self.put_many([Entry(payload, chat, key, due, priority, tuple(tags))],
                             conn=conn)[0]

    def put_many(self, entries: Sequence[Entry],
                 conn: psycopg.Connection[Any] | None = None) -> list[int | None]:
        """Queue several rows in one transaction, in order (ids rise with the order given);
        each id is None where its key was queued before."""
        if conn is None:
            with self._pool.connection() as own, own.transaction():
                return self.put_many(entries, own)
        ids: list[int | None] = []
        for entry in entries:
            uid = secrets.token_hex(8)
            blob = self._cipher.encrypt(
                json.dumps(entry.payload, ensure_ascii=False).encode(), self._aad(uid))
            row = conn.execute(
                "INSERT INTO counsel_queue (queue, uid, chat, key, due, priority, tags, payload) "
                "VALUES (%s, %s, %s, %s, coalesce(%s, now()), %s, %s, %s) "
                "ON CONFLICT (queue, key) DO NOTHING RETURNING id",
                (self.name, uid, self._hide(entry.chat), self._hide(entry.key), entry.due,
                 entry.priority, [self._hide(t) for t in entry.tags], blob)).fetchone()
            ids.append(None if row is None else int(row[0]))
        return ids

    def claim(self, limit: int = 1, due_by: datetime | None = None) -> list[Claim]:
        """Up to ``limit`` due rows nobody holds, by priority (lowest first) then oldest, each
        the earliest undone row of its chat among rows of its priority or more urgent (so an
        urgent row passes a chat's queued bulk ones); leased to this instance. ``due_by``:
        the time rows must be due by (default the server's now; a scheduler whose clock is
        not the wall clock passes its own). Leases always run on the server's clock."""
        with self._pool.connection() as conn:
            rows = conn.execute("""
                UPDATE counsel_queue q
                   SET lease_until = now() + make_interval(secs => %(lease)s),
                       owner = %(owner)s, token = q.token + 1, attempts = q.attempts + 1
                 WHERE q.id IN (
                    SELECT c.id FROM counsel_queue c
                     WHERE c.queue = %(queue)s AND c.done_at IS NULL
                       AND c.due <= coalesce(%(due_by)s, now())
                       AND (c.lease_until IS NULL OR c.lease_until < now())
                       AND (c.chat IS NULL OR NOT EXISTS (
                            SELECT 1 FROM counsel_queue e
                             WHERE e.queue = c.queue AND e.chat = c.chat AND e.id < c.id
                               AND e.priority <= c.priority AND e.done_at IS NULL))
                     ORDER BY c.priority, c.due, c.id
                     LIMIT %(limit)s
                     FOR UPDATE SKIP LOCKED)
                RETURNING q.id, q.uid, q.payload, q.attempts, q.token, q.priority, q.due,
                          q.tried
            """, {"lease": self.lease, "owner": self.owner, "queue": self.name,
                  "limit": limit, "due_by": due_by}).fetchall()
        claims = []
        for rid, uid, blob, attempts, token, priority, due, tried in sorted(
                rows, key=lambda r: (r[5], r[6], r[0])):
            payload = json.loads(self._cipher.decrypt(bytes(blob), self._aad(uid)))
            claims.append(Claim(int(rid), payload, int(attempts), int(token), int(priority),
                                due, uid, bool(tried)))
        return claims

    def complete(self, claim: Claim, conn: psycopg.Connection[Any] | None = None) -> bool:
        """Mark the row done if this instance still holds its lease (False: it was lost, and
        whatever was done for it in ``conn``'s transaction must be rolled back)."""
        sql = ("UPDATE counsel_queue SET done_at = now(), lease_until = NULL "
               "WHERE id = %s AND token = %s AND done_at IS NULL")
        if conn is not None:
            return conn.execute(sql, (claim.id, claim.token)).rowcount == 1
        with self._pool.connection() as own:
            return own.execute(sql, (claim.id, claim.token)).rowcount == 1

    def renew(self, claim: Claim) -> bool:
        """Extend the lease of a row still being worked on; False if it was lost."""
        with self._pool.connection() as conn:
            return conn.execute(
                "UPDATE counsel_queue SET lease_until = now() + make_interval(secs => %s) "
                "WHERE id = %s AND token = %s AND done_at IS NULL",
                (self.lease, claim.id, claim.token)).rowcount == 1

    def retry(self, claim: Claim, at: datetime) -> bool:
        """Give the row back, to be claimed again from ``at`` (a transient failure)."""
        with self._pool.connection() as conn:
            return conn.execute(
                "UPDATE counsel_queue SET lease_until = NULL, due = %s "
                "WHERE id = %s AND token = %s AND done_at IS NULL",
                (at, claim.id, claim.token)).rowcount == 1

    def complete_as(self, claim: Claim, entry: Entry) -> bool:
        """Mark the row done and put ``entry`` in its place, in one transaction (a row to be
        worked on again later, apart from its chat's order); False if the lease was lost."""
        with self._pool.connection() as conn, conn.transaction():
            if not self.complete(claim, conn):
                return False
            self.put_many([entry], conn)
            return True

    def complete_many(self, claims: Sequence[Claim]) -> int:
        """`complete` for several claims in one statement; returns how many were still ours."""
        return self._update_held(claims, "done_at = now(), lease_until = NULL")

    def _update_held(self, claims: Sequence[Claim], changes: str) -> int:
        """Apply ``changes`` (a SET list) to the rows still held under these claims, locked
        in id order; returns how many."""
        if not claims:
            return 0
        with self._pool.connection() as conn:
            return conn.execute(
                HELD_ROWS + "UPDATE counsel_queue SET " + changes
                + " WHERE id IN (SELECT id FROM held)", _held(claims)).rowcount

    def renew_many(self, claims: Sequence[Claim]) -> set[int]:
        """Extend the leases of rows still held; returns the ids still ours."""
        if not claims:
            return set()
        with self._pool.connection() as conn:
            rows = conn.execute(
                HELD_ROWS + "UPDATE counsel_queue "
                "SET lease_until = now() + make_interval(secs => %(lease)s) "
                "WHERE id IN (SELECT id FROM held) RETURNING id",
                {**_held(claims), "lease": self.lease}).fetchall()
        return {int(r[0]) for r in rows}

    def mark_tried(self, claims: Sequence[Claim]) -> int:
        """Record, before doing what cannot be undone (a send), that it began: a later claim
        of an unfinished row then knows it may have happened (`Claim.tried`)."""
        return self._update_held(claims, "tried = true")

    def give_back_many(self, claims: Sequence[Claim]) -> int:
        """Release rows never tried (a clean stop): claimable at once, and this claim not
        counted in ``attempts``; returns how many were still ours."""
        return self._update_held(
            claims, "lease_until = NULL, owner = NULL, attempts = greatest(attempts - 1, 0)")

    def finish_chat(self, chat: str) -> int:
        """Mark every undone row of ``chat`` done (its messages dropped: the chat blocked us)."""
        return self._finish_where("AND chat = %s", self._hide(chat))

    def finish_tagged(self, tag: str) -> int:
        """Mark every undone row carrying ``tag`` done (cancelled); returns how many."""
        return self._finish_where("AND tags @> ARRAY[%s]::text[]", self._hide(tag))

    def _finish_where(self, where: str, value: str | None) -> int:
        """Mark the undone rows matching ``where`` done, locked in id order."""
        with self._pool.connection() as conn:
            return conn.execute(
                "WITH rows AS (SELECT id FROM counsel_queue WHERE queue = %s " + where
                + " AND done_at IS NULL ORDER BY id FOR UPDATE) "
                "UPDATE counsel_queue SET done_at = now(), lease_until = NULL "
                "WHERE id IN (SELECT id FROM rows)", (self.name, value)).rowcount

    def tagged(self, tag: str) -> list[Claim]:
        """The undone rows carrying ``tag``, by due time (read only: nothing is leased; the
        returned tokens are not claims)."""
        return self._undone("AND tags @> ARRAY[%s]::text[] ORDER BY due, id",
                            (self._hide(tag),))

    def waiting(self) -> list[Claim]:
        """Every undone row, oldest first (read only, as `tagged`): for `store migrate`."""
        return self._undone("ORDER BY id", ())

    def _undone(self, where: str, params: tuple[Any, ...]) -> list[Claim]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, uid, payload, attempts, token, priority, due, tried "
                "FROM counsel_queue WHERE queue = %s AND done_at IS NULL " + where,
                (self.name, *params)).fetchall()
        return [Claim(int(rid), json.loads(self._cipher.decrypt(bytes(blob), self._aad(uid))),
                      int(attempts), int(token), int(priority), due, uid, bool(tried))
                for rid, uid, blob, attempts, token, priority, due, tried in rows]

    def next_due(self) -> datetime | None:
        """When the earliest undone row falls due (claimed or not)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT due FROM counsel_queue WHERE queue = %s AND done_at IS NULL "
                "ORDER BY due LIMIT 1", (self.name,)).fetchone()
        return None if row is None else row[0]

    def pending(self, *, due_now: bool = False) -> int:
        """Rows not done (claimed or not); with ``due_now``, only those due already."""
        when = " AND due <= now()" if due_now else ""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM counsel_queue WHERE queue = %s "
                               "AND done_at IS NULL" + when, (self.name,)).fetchone()
            return int(row[0]) if row else 0

    def purge(self, older_than: timedelta) -> int:
        """Forget done rows (and so their dedupe keys) done more than ``older_than`` ago, by
        the server's clock, which set ``done_at`` (an instance's clock may differ)."""
        with self._pool.connection() as conn:
            return conn.execute(
                "DELETE FROM counsel_queue WHERE queue = %s "
                "AND done_at < now() - make_interval(secs => %s)",
                (self.name, older_than.total_seconds())).rowcount

    def unreadable(self, *, finish: bool = False) -> list[int]:
        """The ids of undone rows whose payload does not open (damaged in the database), by
        id; with ``finish`` they are copied, as they are, to ``counsel_quarantine`` (id
        ``queue:<name>:<row id>``) and marked done, so that nobody claims them again (a claim
        that meets one raises ``DecryptionFailed`` and hands out nothing)."""
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute("SELECT id, uid, payload FROM counsel_queue WHERE queue = %s "
                                "AND done_at IS NULL ORDER BY id", (self.name,)).fetchall()
            damaged = []
            for rid, uid, blob in rows:
                try:
                    json.loads(self._cipher.decrypt(bytes(blob), self._aad(uid)))
                except (DecryptionFailed, ValueError):
                    damaged.append(int(rid))
            if finish and damaged:
                conn.execute("INSERT INTO counsel_quarantine (id, blob) SELECT 'queue:' || "
                             "queue || ':' || id, payload FROM counsel_queue "
                             "WHERE id = ANY(%s) AND done_at IS NULL ORDER BY id", (damaged,))
                conn.execute("UPDATE counsel_queue SET done_at = now(), lease_until = NULL "
                             "WHERE id = ANY(%s) AND done_at IS NULL", (damaged,))
        return damaged


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name``."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"counsel-bot/{name}".encode()).digest()[:8],
                          "big", signed=True)


class LeaderLock:
    """A session advisory lock on its own connection (see module docstring)."""

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self._key = lock_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        """True when this instance is (or has just become) the holder."""
        with self._mutex:
            if self._conn is not None and self._alive():
                return True
            self._drop()
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10,
                                   **KEEPALIVES)  # type: ignore[arg-type]
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if row and row[0]:
                self._conn = conn
                return True
            conn.close()
            return False

    @property
    def held(self) -> bool:
        """Whether the lock is still ours (False once its connection is lost)."""
        with self._mutex:
            return self._conn is not None and self._alive()

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def release(self) -> None:
        """Give the lock up (closing its connection releases it)."""
        with self._mutex:
            self._drop()
