"""The audit trail: an encrypted, hash-chained, append-only log shared by several processes.

Files in ``data_dir/audit/``:

* ``audit.log`` - frames of ``seq (8 bytes) + length (4 bytes) + AES-GCM blob``; the blob is
  the entry's canonical JSON, sealed with the sequence number as AAD (a frame moved to another
  place fails to open). ``hash = sha256(prev + canonical entry)``, so every entry commits to all
  entries before it.
* ``audit.head`` - the sidecar: the last sequence number, hash and log size (encrypted). It
  makes an append O(1) and shows entries cut from the end.
* ``audit.lock`` - ``flock``-ed around "read the head, append, write the head", so the bot and
  the admin CLI can append at the same time and their entries still form one chain.

Entries hold only ids, event names, reason codes and timestamps - never a returnee's words.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from counsel_bot.store.crypto import DecryptionFailed, ShardCipher
from counsel_bot.store.files import private_dir

log = logging.getLogger(__name__)

EVENTS: frozenset[str] = frozenset({
    "case_viewed", "case_exported", "case_erased", "case_anonymised", "case_closed",
    "case_reopened", "case_joined",
    "alert_raised", "alert_acknowledged", "alert_escalated", "alert_details_viewed",
    "alert_labelled", "message_labelled",
    "alert_unreachable",
    "consent_answered", "consent_withdrawn", "referral_consented", "deceased_protocol_shown",
    "alert_false_alarm", "web_link_issued", "web_signed_in", "web_signin_refused",
    "web_signed_out", "web_second_factor_set",
})
"""Every event the audit log accepts."""

REASONS: frozenset[str] = frozenset({
    "casework",            # a case worker doing their work on the case
    "supervision",         # a supervisor or admin reviewing a case worker's work
    "returnee_request",    # the returnee asked for it (export, erasure, closure ...)
    "returnee_action",     # the returnee did it themselves in the chat (consent answers)
    "safety",              # a safety or risk alert and what follows from it
    "escalation_timeout",  # an alert was not acknowledged in time
    "delivery_failed",     # nobody could be reached
    "referral",            # a referral to another service
    "deceased",            # the deceased-returnee protocol
    "retention_policy",    # data reached the end of its retention period
    "legal_obligation",    # a court order or a legal duty
    "maintenance",         # an admin operation (migration, repair, restore)
})
"""The fixed vocabulary for ``why``."""

DETAIL_KEYS: frozenset[str] = frozenset({
    "case_id", "session_id", "alert_id", "purpose", "granted", "version", "reason", "severity",
    "category", "by", "role", "justification", "count", "kind", "target",
})
"""The only keys allowed in ``details``."""

MAX_TEXT = 64
GENESIS = "0" * 64
_CODE = re.compile(r"^[A-Za-z0-9_.:@+=/-]*$")  # ids and short codes: no spaces, no sentences
_ACTOR = re.compile(r"^[a-z][a-z_]{0,31}(:[A-Za-z0-9_-]{1,32})?$")
_FRAME = struct.Struct(">QI")  # sequence number, blob length
_MAX_BLOB = 1 << 16
_MIN_BLOB = 3 + 12 + 16  # header + nonce + tag
_HEAD_AAD = b"counsel-bot/audit/v1/head"
_KEYS = ("seq", "at", "actor", "event", "why", "details", "prev", "hash")


class AuditError(Exception):
    """The audit log cannot be appended to: it was altered, truncated or has another key."""


@dataclass(frozen=True)
class AuditEntry:
    """One audited event. ``hash = sha256(prev + canonical JSON of the other fields)``."""

    seq: int
    at: str
    actor: str
    event: str
    why: str
    details: dict[str, str | int | bool | None]
    prev: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """``entries`` counts the entries found intact (before ``first_bad``, if any).

    ``anchor`` (``"seq:hash"`` of the last entry) can be kept elsewhere and passed back to
    `AuditLog.verify` later: it shows a truncation even if the head file was rolled back too.
    """

    ok: bool
    entries: int
    first_bad: int | None
    reason: str
    anchor: str | None = None


@dataclass(frozen=True)
class _Head:
    seq: int = 0
    hash: str = GENESIS
    end: int = 0  # the log's size after entry `seq`
    last: int = 0  # where entry `seq`'s frame starts


@dataclass
class _Frame:
    start: int
    end: int
    seq: int
    blob: bytes = field(repr=False)


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def _entry_hash(prev: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev.encode("ascii") + _canonical(body)).hexdigest()


def _aad(seq: int) -> bytes:
    return b"counsel-bot/audit/v1/entry:%d" % seq


def _check_code(what: str, value: str) -> None:
    if len(value) > MAX_TEXT or not _CODE.match(value):
        raise ValueError(f"audit {what} must be an id or a short code "
                         f"(at most {MAX_TEXT} characters, no spaces), not free text")


def _validate(actor: str, event: str, why: str,
              details: dict[str, str | int | bool | None]) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    if why not in REASONS:
        raise ValueError(f"unknown audit reason {why!r}; use one of REASONS")
    if not isinstance(actor, str) or not _ACTOR.match(actor):
        raise ValueError(f"bad audit actor {actor!r}: expected e.g. 'caseworker:123', 'system'")
    for key, value in details.items():
        if key not in DETAIL_KEYS:
            raise ValueError(f"audit detail key {key!r} is not allowed")
        if isinstance(value, str):
            _check_code(f"detail {key!r}", value)
        elif value is not None and not isinstance(value, int):
            raise ValueError(f"audit detail {key!r} must be str, int, bool or None")


def _frames(fh: IO[bytes], start: int, limit: int) -> Iterator[_Frame]:
    """Complete, sane frames from ``start``; stops before a torn or malformed one."""
    fh.seek(start)
    pos = start
    while pos + _FRAME.size <= limit:
        seq, length = _FRAME.unpack(fh.read(_FRAME.size))
        end = pos + _FRAME.size + length
        if not _MIN_BLOB <= length <= _MAX_BLOB or end > limit:
            return
        blob = fh.read(length)
        if len(blob) != length:
            return
        yield _Frame(pos, end, seq, blob)
        pos = end


def _is_torn(fh: IO[bytes], pos: int, limit: int) -> bool:
    """Do the bytes from ``pos`` to ``limit`` look like an append cut short by a crash?"""
    if limit - pos < _FRAME.size:
        return True
    fh.seek(pos)
    _, length = _FRAME.unpack(fh.read(_FRAME.size))
    return _MIN_BLOB <= length <= _MAX_BLOB and pos + _FRAME.size + length > limit


class AuditTrail(Protocol):
    """What the runtime and the CLI use of an audit log: the file log below, or the chain in
    PostgreSQL (audit/pg.py) with the PostgreSQL store."""

    def record(self, actor: str, event: str, *, why: str,
               details: dict[str, str | int | bool | None] | None = None,
               at: datetime | None = None) -> AuditEntry: ...

    def entries(self) -> Iterator[AuditEntry]: ...

    def verify(self, anchor: str | None = None) -> VerifyResult: ...

    def sealed(self) -> Iterator[tuple[int, bytes]]: ...

    def import_sealed(self, items: Iterator[tuple[int, bytes]]) -> int: ...

    def close(self) -> None: ...


def open_entry(cipher: ShardCipher, seq: int, blob: bytes) -> AuditEntry:
    """Decrypt and check the sealed entry ``seq`` (raises AuditError); the same sealing in
    the file log and in PostgreSQL."""
    try:
        data = json.loads(cipher.decrypt(blob, _aad(seq)))
        entry = AuditEntry(**{k: data[k] for k in _KEYS})
    except DecryptionFailed:
        raise AuditError(f"entry {seq} fails authentication "
                         "(edited, moved, or another key)") from None
    except (ValueError, KeyError, TypeError):
        raise AuditError(f"entry {seq} is malformed") from None
    body = {k: data[k] for k in _KEYS[:6]}
    if entry.seq != seq or _entry_hash(entry.prev, body) != entry.hash:
        raise AuditError(f"entry {seq}'s hash does not match its content")
    if set(data) != set(_KEYS):
        raise AuditError(f"entry {seq} is malformed")
    return entry


def seal_entry(cipher: ShardCipher, prev: str, body: dict[str, Any]) -> tuple[AuditEntry, bytes]:
    """The entry that follows ``prev`` with ``body`` (seq, at, actor, event, why, details),
    and its sealed form."""
    digest = _entry_hash(prev, body)
    plain = _canonical({**body, "prev": prev, "hash": digest})
    entry = AuditEntry(body["seq"], body["at"], body["actor"], body["event"], body["why"],
                       body["details"], prev, digest)
    return entry, cipher.encrypt(plain, _aad(body["seq"]))


def entry_body(seq: int, actor: str, event: str, why: str,
               details: dict[str, str | int | bool | None] | None,
               at: datetime | None) -> dict[str, Any]:
    """A new entry's fields, checked (ValueError for anything the log does not accept)."""
    details = dict(details or {})
    _validate(actor, event, why, details)
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds")
    return {"seq": seq, "at": stamp, "actor": actor, "event": event, "why": why,
            "details": details}


class AuditLog:
    """The audit log in ``data_dir/audit/``; safe to use from several processes at once."""

    def __init__(self, data_dir: Path, cipher: ShardCipher, *, fsync: bool = True) -> None:
        self.dir = Path(data_dir) / "audit"
        self.path = self.dir / "audit.log"
        self._head_path = self.dir / "audit.head"
        self._cipher = cipher
        self._fsync = fsync
        self._mutex = threading.Lock()  # flock does not exclude threads sharing one descriptor
        private_dir(self.dir)
        self._lock_fd = os.open(self.dir / "audit.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:  # cut a torn tail, adopt entries whose head update was lost, check the tail
            with self._locked(fcntl.LOCK_EX):
                self._sync()
        except AuditError as exc:  # let `verify` run; `record` will refuse
            log.error("audit log: %s", exc)

    # -- writing ---------------------------------------------------------------------------
    def record(self, actor: str, event: str, *, why: str,
               details: dict[str, str | int | bool | None] | None = None,
               at: datetime | None = None) -> AuditEntry:
        """Append one entry and return it.

        ``actor`` is ``"caseworker:<telegram id>"``, ``"returnee"``, ``"system"``, ``"admin"``
        and the like; ``event`` one of `EVENTS`; ``why`` one of `REASONS`; ``details`` values are
        ids or short codes under `DETAIL_KEYS`. Raises ValueError for anything else, and
        AuditError if the log on disk was altered or truncated.
        """
        details = dict(details or {})
        _validate(actor, event, why, details)
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            raise ValueError("audit time must be timezone-aware")
        stamp = when.astimezone(UTC).isoformat(timespec="milliseconds")
        with self._locked(fcntl.LOCK_EX):
            head = self._sync()
            body = {"seq": head.seq + 1, "at": stamp, "actor": actor, "event": event,
                    "why": why, "details": details}
            digest = _entry_hash(head.hash, body)
            plain = _canonical({**body, "prev": head.hash, "hash": digest})
            blob = self._cipher.encrypt(plain, _aad(head.seq + 1))
            frame = _FRAME.pack(head.seq + 1, len(blob)) + blob
            self._append(frame)
            self._write_head(_Head(head.seq + 1, digest, head.end + len(frame), head.end))
        return AuditEntry(head.seq + 1, stamp, actor, event, why, details, head.hash, digest)

    def _append(self, frame: bytes) -> None:
        written = os.write(self._fd, frame)
        if written != len(frame):  # a short write on a full disk: cut it so the log stays valid
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
            raise OSError("audit log: short write")
        if self._fsync:
            os.fsync(self._fd)

    def _write_head(self, head: _Head) -> None:
        # No fsync: a head lost in a crash is only behind, and `_sync` catches up from the log.
        tmp = self._head_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, self._cipher.encrypt(json.dumps(head.__dict__).encode(), _HEAD_AAD))
        finally:
            os.close(fd)
        os.replace(tmp, self._head_path)

    def _read_head(self) -> _Head | None:
        try:
            blob = self._head_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _Head(**json.loads(self._cipher.decrypt(blob, _HEAD_AAD)))
        except (DecryptionFailed, ValueError, TypeError):
            raise AuditError("the head file is damaged or has another key") from None

    def _sync(self) -> _Head:
        """Under the lock: the head, checked against the log's tail and brought up to date."""
        size = os.fstat(self._fd).st_size
        head = self._read_head()
        with open(self.path, "rb") as fh:
            if head is None:
                if size:
                    log.warning("audit log: the head file is missing; rebuilt from the log")
                head = _Head()
            elif size < head.end:
                raise AuditError(f"the log ends before entry {head.seq}: entries were removed; "
                                 "run 'counsel-bot audit verify'")
            elif head.seq:
                tail = next(_frames(fh, head.last, head.end), None)
                if (tail is None or tail.end != head.end or tail.seq != head.seq
                        or self._open(tail).hash != head.hash):
                    raise AuditError(f"entry {head.seq} does not match the head file; "
                                     "run 'counsel-bot audit verify'")
            if size == head.end:
                return head
            adopted = head
            for frame in _frames(fh, head.end, size):  # appended, but the head write was lost
                entry = self._open(frame)
                if frame.seq != adopted.seq + 1 or entry.prev != adopted.hash:
                    raise AuditError(f"entry {frame.seq} after the head does not chain")
                adopted = _Head(entry.seq, entry.hash, frame.end, frame.start)
            if adopted.end < size:
                if not _is_torn(fh, adopted.end, size):
                    raise AuditError(f"unreadable bytes after entry {adopted.seq}")
                log.warning("audit log: cut a torn tail of %d bytes left by a crash",
                            size - adopted.end)
                os.ftruncate(self._fd, adopted.end)
        self._write_head(adopted)
        return adopted

    # -- reading ---------------------------------------------------------------------------
    def _open(self, frame: _Frame) -> AuditEntry:
        """Decrypt and check one frame (raises AuditError)."""
        return open_entry(self._cipher, frame.seq, frame.blob)

    def entries(self) -> Iterator[AuditEntry]:
        """Every complete entry in order (decrypted, each checked on its own; see `verify`)."""
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            for frame in _frames(fh, 0, size):
                yield self._open(frame)

    def sealed(self) -> Iterator[tuple[int, bytes]]:
        """Every complete entry as (seq, sealed blob), unopened (``store migrate`` copies
        them as they are; verify the log before and after)."""
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            for frame in _frames(fh, 0, size):
                yield frame.seq, frame.blob

    def import_sealed(self, items: Iterator[tuple[int, bytes]]) -> int:
        """Append sealed entries (from another log with the same key) to an EMPTY log, and
        set the head to the last; returns how many. Each entry is opened and chained first."""
        with self._locked(fcntl.LOCK_EX):
            head = self._sync()
            if head.seq:
                raise AuditError("the audit log is not empty: refusing to import into it")
            for seq, blob in items:
                entry = open_entry(self._cipher, seq, blob)
                if seq != head.seq + 1 or entry.prev != head.hash:
                    raise AuditError(f"entry {seq} does not chain to entry {head.seq}")
                frame = _FRAME.pack(seq, len(blob)) + blob
                self._append(frame)
                head = _Head(seq, entry.hash, head.end + len(frame), head.end)
            self._write_head(head)
        return head.seq

    def verify(self, anchor: str | None = None) -> VerifyResult:
        """Check the whole chain, and the head file (and ``anchor``, if given) against its end.

        Reports the first entry that was altered, removed, reordered or cut from the end.
        """
        anchor_seq, anchor_hash = _parse_anchor(anchor)
        with self._locked(fcntl.LOCK_SH):  # a consistent (head, size); no append in flight
            size = os.fstat(self._fd).st_size
            try:
                head, head_error = self._read_head(), ""
            except AuditError as exc:
                head, head_error = None, str(exc)
        seq, prev, end, kept = 0, GENESIS, 0, {}

        def bad(first: int, reason: str) -> VerifyResult:
            return VerifyResult(False, first - 1, first, reason)

        with open(self.path, "rb") as fh:
            for frame in _frames(fh, 0, size):
                expected = seq + 1
                if frame.seq > expected:
                    return bad(expected, f"entry {expected} is missing "
                                         f"(entry {frame.seq} is in its place)")
                if frame.seq < expected:
                    return bad(expected, f"entry {frame.seq} appears again or out of order "
                                         f"after entry {seq}")
                try:
                    entry = self._open(frame)
                except AuditError as exc:
                    return bad(expected, str(exc))
                if entry.prev != prev:
                    return bad(expected, f"entry {expected} does not chain to entry {seq}")
                seq, prev, end = entry.seq, entry.hash, frame.end
                if seq in (anchor_seq, head.seq if head else None):
                    kept[seq] = entry.hash
            if end < size and (head is None or end < head.end or not _is_torn(fh, end, size)):
                return bad(seq + 1, f"entry {seq + 1} is cut short or its frame is damaged")
        if head_error:
            return bad(seq + 1, head_error)
        if head is None and seq:
            return VerifyResult(False, seq, None, "the head file is missing: entries removed "
                                "from the end would go unnoticed")
        for name, n, digest in (("head file", head.seq if head else 0, head.hash if head else ""),
                                ("anchor", anchor_seq, anchor_hash)):
            if n and n > seq:
                return bad(seq + 1, f"the log ends at entry {seq} but the {name} records entry "
                                    f"{n}: entries were removed from the end")
            if n and kept.get(n) != digest:
                return bad(n, f"entry {n} does not match the {name}: the log was rewritten")
        return VerifyResult(True, seq, None, "chain intact", f"{seq}:{prev}")

    # -- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        with self._mutex:
            fcntl.flock(self._lock_fd, mode)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the file descriptors."""
        os.close(self._fd)
        os.close(self._lock_fd)


def _parse_anchor(anchor: str | None) -> tuple[int, str]:
    if anchor is None:
        return 0, ""
    seq, _, digest = anchor.strip().partition(":")
    if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("an anchor looks like '1234:<64 hex digits>' (printed by verify)")
    return int(seq), digest
