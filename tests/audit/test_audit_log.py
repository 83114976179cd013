"""The audit log: a hash chain that shows edits, removals, reordering and truncation."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from counsel_bot.audit import EVENTS, AuditError, AuditLog, run_verify
from counsel_bot.store.crypto import ShardCipher

FRAME = struct.Struct(">QI")  # the on-disk frame header: seq, blob length
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.record(f"caseworker:{1000 + i}", "case_viewed", why="casework",
                   details={"case_id": f"C-{i:08d}", "by": 1000 + i}, at=AT)


def frames(path: Path) -> list[bytes]:
    data, out, pos = path.read_bytes(), [], 0
    while pos < len(data):
        _, length = FRAME.unpack_from(data, pos)
        out.append(data[pos:pos + FRAME.size + length])
        pos += FRAME.size + length
    return out


@pytest.fixture
def cipher(key: bytes) -> ShardCipher:
    return ShardCipher(key)


@pytest.fixture
def log(tmp_path: Path, cipher: ShardCipher) -> AuditLog:
    audit = AuditLog(tmp_path, cipher, fsync=False)
    fill(audit, 10)
    return audit


def reopened(tmp_path: Path, cipher: ShardCipher) -> AuditLog:
    return AuditLog(tmp_path, cipher, fsync=False)


def test_a_chain_verifies_and_reads_back(log: AuditLog):
    result = log.verify()
    assert (result.ok, result.entries, result.first_bad) == (True, 10, None)
    entries = list(log.entries())
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].prev == "0" * 64
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    assert entries[3].details == {"case_id": "C-00000003", "by": 1003}
    assert entries[3].at == "2026-11-23T10:00:00.000+00:00"
    assert result.anchor == f"10:{entries[-1].hash}"


def test_an_edited_entry_is_the_first_bad(log: AuditLog, tmp_path: Path):
    data = bytearray(log.path.read_bytes())
    start = sum(len(f) for f in frames(log.path)[:6])  # entry 7
    data[start + FRAME.size + 40] ^= 1
    log.path.write_bytes(bytes(data))
    result = reopened(tmp_path, log._cipher).verify()
    assert (result.ok, result.first_bad, result.entries) == (False, 7, 6)
    assert "authentication" in result.reason


def test_a_removed_entry_is_reported(log: AuditLog):
    parts = frames(log.path)
    log.path.write_bytes(b"".join(parts[:4] + parts[5:]))
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 5)
    assert "missing" in result.reason


def test_swapped_entries_are_reported(log: AuditLog):
    parts = frames(log.path)
    parts[4], parts[5] = parts[5], parts[4]
    log.path.write_bytes(b"".join(parts))
    assert log.verify().first_bad == 5


def test_a_renumbered_frame_fails_authentication(log: AuditLog):
    parts = frames(log.path)  # drop entry 5, relabel entry 6 as 5 in the clear header
    _, length = FRAME.unpack_from(parts[5])
    parts[5] = FRAME.pack(5, length) + parts[5][FRAME.size:]
    log.path.write_bytes(b"".join(parts[:4] + parts[5:]))
    result = log.verify()
    assert (result.first_bad, "authentication" in result.reason) == (5, True)


def test_truncating_the_end_is_reported_and_stops_appends(log: AuditLog, tmp_path: Path):
    parts = frames(log.path)
    log.path.write_bytes(b"".join(parts[:7]))
    again = reopened(tmp_path, log._cipher)  # opening does not hide it
    result = again.verify()
    assert (result.ok, result.entries, result.first_bad) == (False, 7, 8)
    assert "removed from the end" in result.reason
    with pytest.raises(AuditError):
        again.record("system", "alert_raised", why="safety")


def test_a_log_cut_inside_an_entry_is_reported(log: AuditLog):
    os.truncate(log.path, log.path.stat().st_size - 20)
    result = log.verify()
    assert (result.ok, result.first_bad, result.entries) == (False, 10, 9)


def test_an_anchor_shows_truncation_with_a_rolled_back_head(tmp_path: Path, cipher):
    log = reopened(tmp_path, cipher)
    fill(log, 7)
    head, size = (log.dir / "audit.head").read_bytes(), log.path.stat().st_size
    fill(log, 3)
    anchor = log.verify().anchor
    os.truncate(log.path, size)
    (log.dir / "audit.head").write_bytes(head)
    assert log.verify().ok  # consistent on its own...
    result = log.verify(anchor)  # ...but not with what was printed earlier
    assert (result.ok, result.first_bad) == (False, 8)


def test_a_torn_tail_is_cut_and_the_log_still_verifies(log: AuditLog, tmp_path: Path):
    size = log.path.stat().st_size
    last = frames(log.path)[-1]
    with open(log.path, "ab") as fh:  # a process killed in the middle of an append
        fh.write(FRAME.pack(11, len(last) - FRAME.size) + last[FRAME.size:50])
    assert log.verify().ok  # verify tolerates it (and changes nothing)...
    again = reopened(tmp_path, log._cipher)  # ...the next open cuts it
    assert log.path.stat().st_size == size
    again.record("admin", "case_closed", why="returnee_request", details={"case_id": "C-1"})
    assert again.verify().entries == 11


def test_an_append_whose_head_update_was_lost_is_kept(log: AuditLog, tmp_path: Path):
    head = (log.dir / "audit.head").read_bytes()
    fill(log, 1)
    (log.dir / "audit.head").write_bytes(head)  # killed between the append and the head write
    again = reopened(tmp_path, log._cipher)
    again.record("system", "alert_escalated", why="escalation_timeout")
    assert [e.seq for e in again.entries()] == list(range(1, 13))
    assert again.verify().ok


def test_a_missing_head_is_rebuilt_but_reported_until_then(log: AuditLog, tmp_path: Path):
    (log.dir / "audit.head").unlink()
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, None)
    assert reopened(tmp_path, log._cipher).verify().ok


def test_another_key_fails_at_entry_one(log: AuditLog, tmp_path: Path):
    result = reopened(tmp_path, ShardCipher(os.urandom(32))).verify()
    assert (result.ok, result.first_bad) == (False, 1)


def test_no_ids_in_the_files(tmp_path: Path, cipher):
    log = reopened(tmp_path, cipher)
    log.record("caseworker:987654321", "case_viewed", why="casework",
               details={"case_id": "C-7KX3M9QP", "by": 987654321, "session_id": "C-7KX3M9QP-S2"})
    log.record("caseworker:987654321", "case_exported", why="returnee_request",
               details={"case_id": "C-7KX3M9QP"})
    for path in log.dir.iterdir():
        data = path.read_bytes()
        for needle in (b"987654321", b"7KX3M9QP", b"caseworker", b"case_viewed"):
            assert needle not in data, (path.name, needle)


@pytest.mark.parametrize(("call", "match"), [
    ({"event": "case_peeked"}, "unknown audit event"),
    ({"why": "curious"}, "unknown audit reason"),
    ({"actor": "Case Worker 12"}, "actor"),
    ({"details": {"note": "x"}}, "not allowed"),
    ({"details": {"reason": "x" * 65}}, "free text"),
    ({"details": {"justification": "she said she was beaten"}}, "free text"),
    ({"details": {"count": 1.5}}, "str, int, bool or None"),
    ({"at": datetime(2026, 1, 1)}, "timezone"),
])
def test_record_refuses_what_does_not_belong(log: AuditLog, call, match):
    args = {"actor": "system", "event": "alert_raised", "why": "safety", **call}
    with pytest.raises(ValueError, match=match):
        log.record(args.pop("actor"), args.pop("event"), **args)
    assert log.verify().entries == 10


def test_record_accepts_every_event_and_short_codes(log: AuditLog):
    for event in sorted(EVENTS):
        log.record("returnee", event, why="returnee_action",
                   details={"kind": "x" * 64, "granted": True, "target": None, "count": 3})
    assert log.verify().entries == 10 + len(EVENTS)


def test_run_verify_prints_and_exits(log: AuditLog):
    out = io.StringIO()
    assert run_verify(log, out) == 0
    assert out.getvalue().startswith("audit log: 10 entries, chain intact\n")
    parts = frames(log.path)
    log.path.write_bytes(b"".join(parts[:2] + parts[3:]))
    out = io.StringIO()
    assert run_verify(log, out) == 1
    assert out.getvalue().startswith("audit log: entry 3 was altered or removed (entry 3 is")


def test_run_verify_groups_thousands(tmp_path: Path, cipher):
    log = reopened(tmp_path, cipher)
    fill(log, 1001)
    out = io.StringIO()
    assert run_verify(log, out) == 0
    assert "1,001 entries, chain intact" in out.getvalue()


def _append_many(data_dir: str, key: bytes, worker: int, start, n: int) -> None:
    log = AuditLog(Path(data_dir), ShardCipher(key))
    start.wait()
    for i in range(n):
        log.record(f"caseworker:{worker}", "case_viewed", why="casework",
                   details={"count": i, "by": worker})
    log.close()


def test_two_processes_append_to_one_chain(tmp_path: Path, key: bytes, cipher):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), key, w, start, 200))
             for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    log = reopened(tmp_path, cipher)
    result = log.verify()
    assert (result.ok, result.entries) == (True, 400)
    entries = list(log.entries())
    assert [e.seq for e in entries] == list(range(1, 401))
    for worker in (1, 2):  # each process's own entries in its own order
        mine = [e.details["count"] for e in entries if e.details["by"] == worker]
        assert mine == list(range(200))
