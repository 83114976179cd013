"""PgScheduler with several instances on one database: the scheduler's own clock, items
added elsewhere, the purge of old keys, and three processes firing 1,000 items while one of
them is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from counsel_bot.runtime.pg_scheduler import PgScheduler
from counsel_bot.runtime.scheduler import Item
from counsel_bot.store.keys import encode_key
from counsel_bot.store.pg_shared import PgQueue
from counsel_bot.store.postgres import PostgresStore
from tests.store.store_helpers import subprocess_env

WORKER = str(Path(__file__).with_name("_scheduler_worker.py"))


@pytest.fixture
def pg_store(pg_url: str, key: bytes):
    store = PostgresStore(pg_url, key)
    yield store
    store.close()


async def _noop(item: Item, now: datetime) -> None:
    return None


@pytest.mark.parametrize("year", [2001, 2201])  # well before, and well after, today
async def test_due_times_are_compared_with_the_schedulers_clock_not_the_servers(
        pg_store, year):
    t0 = datetime(year, 3, 1, 12, 0, tzinfo=UTC)
    clock = {"now": t0}
    s = PgScheduler(pg_store, lambda: clock["now"])
    fired: list[int] = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.data["n"])

    s.on("test", record)
    s.add("test", t0 + timedelta(hours=1), {"n": 1})
    assert await s.tick() == 0 and fired == []  # not yet due on the scheduler's clock
    clock["now"] = t0 + timedelta(hours=2)
    assert await s.tick() == 1 and fired == [1]


async def _fired_within(fired: list, count: int, seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if len(fired) >= count:
            return
        await asyncio.sleep(0.05)


async def test_an_item_added_by_another_instance_is_fired_by_a_running_one(pg_store):
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    fired: list[tuple[str, str]] = []
    running, adding = (PgScheduler(pg_store, lambda: t0, poll=0.1, owner=name)
                       for name in ("running", "adding"))

    async def record(item: Item, now: datetime) -> None:
        fired.append((item.id, item.data["by"]))

    running.on("test", record)
    task = asyncio.create_task(running.run())
    await asyncio.sleep(0.3)  # asleep, with nothing to do
    theirs = adding.add("test", t0, {"by": "other"})  # no wake-up reaches `running`
    await _fired_within(fired, 1, 2.5)
    running.stop()
    await asyncio.wait_for(task, 5)
    assert fired == [(theirs, "other")]


async def test_a_local_add_wakes_the_running_scheduler_at_once(pg_store):
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    fired: list[str] = []
    running = PgScheduler(pg_store, lambda: t0, poll=30.0)  # it would look in 30 s only

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.id)

    running.on("test", record)
    task = asyncio.create_task(running.run())
    await asyncio.sleep(0.3)
    ours = running.add("test", t0)
    await _fired_within(fired, 1, 2.0)
    running.stop()
    await asyncio.wait_for(task, 5)
    assert fired == [ours]


async def test_done_rows_and_their_keys_are_forgotten_after_a_week(pg_store, pg_url):
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    s = PgScheduler(pg_store, lambda: t0)
    s.on("test", _noop)
    s.add("test", t0, key="old")
    s.add("test", t0, key="recent")
    assert await s.tick() == 2
    with psycopg.connect(pg_url) as conn:  # "old" was done eight days ago
        conn.execute("UPDATE counsel_queue SET done_at = now() - interval '8 days' "
                     "WHERE queue = 'schedule' AND id = (SELECT min(id) FROM counsel_queue "
                     "WHERE queue = 'schedule')")
    again = PgScheduler(pg_store, lambda: t0)
    assert again.load() == 0
    assert again.add("test", t0, key="old") is not None
    assert again.add("test", t0, key="recent") is None


def _spawn(key: bytes, url: str, name: str, clock: datetime) -> subprocess.Popen[str]:
    tagged = f"{url}{'&' if '?' in url else '?'}application_name=worker-{name}"
    proc = subprocess.Popen([sys.executable, WORKER, tagged, name],
                            env=subprocess_env(STORE_TEST_KEY=encode_key(key),
                                               CLOCK=clock.isoformat()),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _kill_holding_a_lease(worker: subprocess.Popen[str], name: str, url: str) -> None:
    """SIGKILL `worker` mid-way (100 items fired) at an instant when it holds leased items.

    The worker is frozen with SIGSTOP before the check, so that it cannot finish its batch
    between the check and the kill; and the check waits until none of its statements is
    still running on the server (a `complete` sent just before the freeze would otherwise
    commit after the check: CI saw the killed worker's rows done, none taken again). Without
    a lease held, it runs on and is checked again."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            (calls,) = conn.execute("SELECT count(*) FROM test_calls WHERE worker = %s",
                                    (name,)).fetchone()
            if calls >= 100:
                worker.send_signal(signal.SIGSTOP)
                _wait_until_idle(conn, f"worker-{name}")
                (held,) = conn.execute(
                    "SELECT count(*) FROM counsel_queue WHERE queue = 'schedule' AND "
                    "owner = %s AND done_at IS NULL AND lease_until > now()", (name,)).fetchone()
                if held:
                    worker.send_signal(signal.SIGKILL)
                    return
                worker.send_signal(signal.SIGCONT)
            time.sleep(0.005)
    pytest.fail("the worker never held a lease after firing 100 items")


def _wait_until_idle(conn: psycopg.Connection, application: str) -> None:
    """Until no statement of the (frozen) worker's connections runs on the server: what it
    sent before the freeze has landed (or, in an open transaction, dies with the kill)."""
    time.sleep(0.05)  # what is still in the socket reaches its backend
    for _ in range(400):
        (running,) = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                  "application_name = %s AND state = 'active'",
                                  (application,)).fetchone()
        if not running:
            return
        time.sleep(0.005)
    pytest.fail(f"a statement of {application} ran for 2 s while it was frozen")


@pytest.mark.slow
def test_three_instances_one_killed_fire_every_item_and_queue_each_once(
        pg_store, pg_url, key):
    t0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE test_calls (seq bigserial, item text, worker text)")
    adder = PgScheduler(pg_store, lambda: t0)
    items = 1000
    ids = {adder.add("test", t0 - timedelta(seconds=items - n), {"n": n},
                     expires=t0 + timedelta(days=1)) for n in range(items)}
    assert None not in ids and len(ids) == items
    workers = {name: _spawn(key, pg_url, name, t0) for name in ("a", "b", "c")}
    _kill_holding_a_lease(workers["a"], "a", pg_url)
    workers["a"].wait(10)
    for name in ("b", "c"):
        out, _ = workers[name].communicate(timeout=120)
        assert workers[name].returncode == 0, out
    workers["a"].stdout.close()
    assert adder.pending == 0
    with psycopg.connect(pg_url) as conn:
        calls = conn.execute("SELECT item, worker FROM test_calls ORDER BY seq").fetchall()
        (taken_again,) = conn.execute("SELECT count(*) FROM counsel_queue WHERE queue = "
                                      "'schedule' AND attempts > 1").fetchone()
    assert {item for item, _ in calls} == ids  # none lost
    assert {w for _, w in calls} == {"a", "b", "c"}
    assert taken_again >= 1  # the dead instance's leased items were claimed again ...
    by_item: dict[str, list[str]] = {}
    for item, worker in calls:
        by_item.setdefault(item, []).append(worker)
    again = {item: w for item, w in by_item.items() if len(w) > 1}
    # Fired twice: only what "a" fired and had not completed when killed (one batch at most).
    assert len(again) <= 10 and all(w[0] == "a" and "a" not in w[1:] for w in again.values())
    out = PgQueue(pg_store, "out")
    queued: list[str] = []
    while claims := out.claim(500):
        queued.extend(c.payload["item"] for c in claims)
    assert sorted(queued) == sorted(ids)  # ... and each item's message was queued once
