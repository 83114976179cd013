"""Work shared by several instances on one database (store/pg_shared.py): leased claims with
SKIP LOCKED, per-chat order, dedupe, and the leader lock; real processes killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from store_helpers import HELPER_DIR, subprocess_env

from counsel_bot.store.keys import encode_key
from counsel_bot.store.pg_shared import LeaderLock, PgQueue
from counsel_bot.store.postgres import PostgresStore

WORKER = str(HELPER_DIR / "_queue_worker.py")


@pytest.fixture
def pg_store(pg_url: str, key: bytes):
    store = PostgresStore(pg_url, key)
    yield store
    store.close()


def test_put_claim_complete_and_dedupe(pg_store: PostgresStore) -> None:
    q = PgQueue(pg_store, "out")
    assert q.put({"text": "salam"}, key="step:1") is not None
    assert q.put({"text": "salam"}, key="step:1") is None  # the same key: queued once
    (claim,) = q.claim(10)
    assert claim.payload == {"text": "salam"}
    assert q.claim(10) == []  # leased
    assert q.complete(claim)
    assert not q.complete(claim)  # once
    assert q.pending() == 0
    assert q.put({"text": "again"}, key="step:1") is None  # remembered while the row is kept
    assert q.purge(timedelta(days=1)) == 0  # done a moment ago, by the server's clock
    assert q.purge(timedelta(seconds=-1)) == 1


def test_nothing_readable_in_the_queue_table(pg_store: PostgresStore, pg_url: str) -> None:
    PgQueue(pg_store, "out").put({"text": "je veux mourir", "chat": "987654321"},
                                 chat="987654321", key="987654321:1")
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT q::text, payload FROM counsel_queue q").fetchone()
    for needle in ("mourir", "987654321"):
        assert needle not in row[0] and needle.encode() not in bytes(row[1])


def test_a_lost_lease_is_claimed_again_and_the_late_complete_fails(pg_store) -> None:
    q = PgQueue(pg_store, "out", lease=0.2, owner="a")
    q.put({"n": 1})
    (first,) = q.claim()
    time.sleep(0.3)  # "a" died, or stalled past its lease
    other = PgQueue(pg_store, "out", lease=5, owner="b")
    (second,) = other.claim()
    assert second.id == first.id and second.attempts == 2
    assert not q.complete(first)  # the late instance cannot complete it too
    assert other.complete(second)


def test_one_chat_is_handed_out_in_order_and_one_at_a_time(pg_store) -> None:
    q = PgQueue(pg_store, "updates")
    for n in range(3):
        q.put({"n": n}, chat="c1")
    q.put({"n": 9}, chat="c2")
    claims = q.claim(10)
    assert [c.payload["n"] for c in claims] == [0, 9]  # c1's second waits for its first
    assert q.claim(10) == []
    q.complete(claims[0])
    assert [c.payload["n"] for c in q.claim(10)] == [1]


def test_concurrent_claimers_never_share_a_row(pg_store) -> None:
    q = PgQueue(pg_store, "out", lease=30)
    for n in range(400):
        q.put({"n": n})
    got: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        while claims := q.claim(7):
            with lock:
                got.extend(c.payload["n"] for c in claims)
            for c in claims:
                assert q.complete(c)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(got) == list(range(400))


def _spawn(key: bytes, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, WORKER, *args],
                            env=subprocess_env(STORE_TEST_KEY=encode_key(key)),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
def test_three_workers_one_killed_every_item_done_exactly_once_in_chat_order(
        pg_store: PostgresStore, pg_url: str, key: bytes) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE test_effects (seq bigserial, item int, chat text, "
                     "worker text)")
    q = PgQueue(pg_store, "test")
    items = 600
    for n in range(items):
        q.put({"n": n, "chat": f"c{n % 40}"}, chat=f"c{n % 40}", key=f"u{n}")
    workers = {name: _spawn(key, "work", pg_url, name) for name in ("a", "b", "c")}
    deadline = time.monotonic() + 60
    while q.pending() > items * 2 // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers["a"].send_signal(signal.SIGKILL)  # mid-way, with rows leased to it
    workers["a"].wait(10)
    for name in ("b", "c"):
        out, _ = workers[name].communicate(timeout=120)
        assert workers[name].returncode == 0, out
    assert q.pending() == 0
    with psycopg.connect(pg_url) as conn:
        effects = conn.execute("SELECT item, chat, worker FROM test_effects ORDER BY seq"
                               ).fetchall()
    assert sorted(item for item, _, _ in effects) == list(range(items))  # once each
    assert {w for _, _, w in effects} >= {"b", "c"}
    for chat in {c for _, c, _ in effects}:
        order = [item for item, c, _ in effects if c == chat]
        assert order == sorted(order), chat


@pytest.mark.slow
def test_the_leader_lock_passes_on_when_the_leader_is_killed(pg_url: str, key: bytes) -> None:
    leader = _spawn(key, "lead", pg_url)
    assert leader.stdout.readline().strip() == "leader"
    mine = LeaderLock(pg_url, "test-leader")
    assert not mine.try_acquire()
    follower = _spawn(key, "lead", pg_url)
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    start = time.monotonic()
    assert follower.stdout.readline().strip() == "leader"  # the next one takes over
    assert time.monotonic() - start < 5
    assert not mine.try_acquire()
    follower.send_signal(signal.SIGKILL)
    follower.wait(10)
    for _ in range(100):
        if mine.try_acquire():
            break
        time.sleep(0.05)
    assert mine.held
    mine.release()
    for proc in (leader, follower):
        proc.stdout.close()


def test_a_claim_skips_a_row_another_claim_is_locking(pg_store, pg_url: str) -> None:
    q = PgQueue(pg_store, "out")
    first, second = q.put({"n": 1}), q.put({"n": 2})
    got: list[list[int]] = []
    with psycopg.connect(pg_url) as other:  # another instance, mid-claim on the first row
        other.execute("SELECT id FROM counsel_queue WHERE id = %s FOR UPDATE", (first,))
        thread = threading.Thread(target=lambda: got.append([c.id for c in q.claim(1)]))
        thread.start()
        thread.join(3)
        waited = thread.is_alive()
    thread.join()
    assert not waited, "the claim waited for the other instance's row lock"
    assert got == [[second]]


def test_an_urgent_row_passes_a_chats_queued_bulk_rows_but_not_its_own_kind(pg_store) -> None:
    q = PgQueue(pg_store, "out")
    q.put({"n": "bulk"}, chat="c", priority=2)
    q.put({"n": "bulk 2"}, chat="c", priority=2)
    q.put({"n": "urgent"}, chat="c", priority=0)
    q.put({"n": "urgent 2"}, chat="c", priority=0)
    claims = q.claim(10)  # the chat's head of each kind, the most urgent first
    assert [(c.payload["n"], c.priority) for c in claims] == [("urgent", 0), ("bulk", 2)]
    assert q.claim(10) == []
    assert q.complete(claims[0])
    assert [c.payload["n"] for c in q.claim(10)] == ["urgent 2"]  # bulk 2 waits for bulk


def test_put_many_is_one_transaction_in_order(pg_store) -> None:
    from counsel_bot.store.pg_shared import Entry

    q = PgQueue(pg_store, "out")
    ids = q.put_many([Entry({"n": 1}, chat="c", key="k:0"), Entry({"n": 2}, chat="c", key="k:1")])
    assert ids[0] is not None and ids[1] is not None and ids[0] < ids[1]
    assert q.put_many([Entry({"n": 1}, key="k:0"), Entry({"n": 3}, key="k:2")])[0] is None
    with pytest.raises(TypeError):  # a payload that cannot be written: nothing of it is put
        q.put_many([Entry({"n": 4}, key="k:3"), Entry({"n": object()}, key="k:4")])
    assert q.put({"n": 4}, key="k:3") is not None


def test_tags_cancel_and_list_undone_rows(pg_store) -> None:
    q = PgQueue(pg_store, "schedule")
    soon = datetime.now(UTC) + timedelta(hours=1)
    q.put({"n": 1}, tags=("session:1", "case:9"), due=soon)
    q.put({"n": 2}, tags=("session:1",), due=soon + timedelta(minutes=1))
    q.put({"n": 3}, tags=("session:2",), due=soon - timedelta(minutes=1))
    assert [c.payload["n"] for c in q.tagged("session:1")] == [1, 2]
    assert q.next_due() == soon - timedelta(minutes=1)
    assert q.finish_tagged("session:1") == 2
    assert q.tagged("session:1") == [] and q.pending() == 1
    assert q.finish_tagged("session:1") == 0


def test_finish_chat_drops_every_undone_row_of_one_chat(pg_store) -> None:
    q = PgQueue(pg_store, "out")
    for n in range(3):
        q.put({"n": n}, chat="blocked")
    q.put({"n": 9}, chat="other")
    assert q.finish_chat("blocked") == 3
    assert [c.payload["n"] for c in q.claim(10)] == [9]


def test_renew_and_complete_many_only_for_leases_still_held(pg_store) -> None:
    q = PgQueue(pg_store, "out", lease=0.3, owner="a")
    q.put({"n": 1})
    q.put({"n": 2})
    claims = q.claim(10)
    assert q.renew_many(claims) == {c.id for c in claims}
    time.sleep(0.4)
    other = PgQueue(pg_store, "out", lease=30, owner="b")
    taken = other.claim(1)  # one lease ran out and was taken over
    assert len(taken) == 1
    assert q.renew_many(claims) == {c.id for c in claims} - {taken[0].id}
    assert q.complete_many(claims) == 1
    assert other.complete_many(taken) == 1 and q.pending() == 0
