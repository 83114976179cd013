"""PgScheduler at scale: start-up and firing cost with 1,000 and 1,000,000 scheduled rows.

For each size, a fresh database gets that many rows in the "schedule" queue (sealed as
`PgQueue.put` seals them, two tags each, due over the next year on the scheduler's clock),
written with COPY, then VACUUM ANALYZE (what autovacuum does after a bulk load). Then:

1. start: open the store, construct PgScheduler, `load()` (a count; nothing is replayed);
   goal < 5 s at the largest size.
2. add: `add` of --fire items due now, one at a time (a durable commit each).
3. fire: `tick` firing them (claim in batches + a no-op handler + complete each), per item;
   goal: the cost per item at the largest size within 1.5 x the smallest (flat).
Rounds 2-3 are repeated --rounds times; the median round is reported.

The server: $COUNSEL_BENCH_PG_URL (a server where the script may create databases), else a
throwaway cluster started like the tests' (tests/pg_server.py) but with fsync ON.

    python benchmarks/pg_scheduler_scale.py [--sizes 1000,1000000] [--fire 1000] [--rounds 3]
                                            [--no-vacuum]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from counsel_bot.runtime.pg_scheduler import QUEUE, PgScheduler  # noqa: E402
from counsel_bot.runtime.scheduler import Item  # noqa: E402
from counsel_bot.store.pg_shared import PgQueue  # noqa: E402
from counsel_bot.store.postgres import PostgresStore  # noqa: E402
from tests.pg_server import bench_server, create_database  # noqa: E402

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # the scheduler's (simulated) clock
YEAR_S = 365 * 24 * 3600


def bulk_fill(store: PostgresStore, rows: int, vacuum: bool, chunk: int = 50_000) -> float:
    """``rows`` future items, sealed as PgQueue.put seals them, by COPY; returns seconds."""
    queue = PgQueue(store, QUEUE)
    cipher = store.cipher
    started = time.perf_counter()
    for first in range(0, rows, chunk):
        with store.pool.connection() as conn, conn.cursor() as cur, cur.copy(
                "COPY counsel_queue (queue, uid, due, tags, payload) FROM STDIN") as copy:
            for n in range(first, min(rows, first + chunk)):
                case, session = f"C-{n // 5:07d}", f"S-{n:08d}"
                due = T0 + timedelta(seconds=3600 + (n * 7919) % YEAR_S)
                item = Item(due, secrets.token_hex(8), "session_reminder",
                            {"session_id": session, "case_id": case},
                            (f"session:{session}", f"case:{case}"), due + timedelta(hours=2))
                uid = secrets.token_hex(8)
                blob = cipher.encrypt(json.dumps(item.record()).encode(), queue._aad(uid))
                copy.write_row((QUEUE, uid, due, [queue._hide(t) for t in item.tags], blob))
        print(f"  {min(rows, first + chunk):>9,} rows written", end="\r", flush=True)
    print(" " * 30, end="\r")
    if not vacuum:
        return time.perf_counter() - started
    with store.pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE counsel_queue")
    return time.perf_counter() - started


async def one_size(server: str, size: int, fire: int, rounds: int, key: bytes,
                   vacuum: bool) -> dict:
    url = create_database(server)
    store = PostgresStore(url, key)
    filled = bulk_fill(store, size - fire, vacuum) if size > fire else 0.0
    store.close()
    started = time.perf_counter()
    store = PostgresStore(url, key)
    opened = time.perf_counter()
    scheduler = PgScheduler(store, lambda: T0)
    pending = scheduler.load()
    loaded = time.perf_counter()

    async def noop(item: Item, now: datetime) -> None:
        return None

    scheduler.on("bench", noop)
    adds, fires = [], []
    for r in range(rounds):
        t = time.perf_counter()
        for i in range(fire):
            scheduler.add("bench", T0 - timedelta(seconds=fire - i), {"i": i},
                          tags=(f"bench:{r}",), expires=T0 + timedelta(hours=1))
        adds.append((time.perf_counter() - t) / fire)
        t = time.perf_counter()
        fired = await scheduler.tick()
        fires.append((time.perf_counter() - t) / fire)
        assert fired == fire, (fired, fire)
    total = scheduler.pending
    store.close()
    return {"size": size, "fill": filled, "open": opened - started,
            "start": loaded - started, "load": loaded - opened, "pending": pending,
            "left": total, "add": statistics.median(adds), "fire": statistics.median(fires)}


async def run(server: str, sizes: list[int], fire: int, rounds: int, vacuum: bool) -> bool:
    key = os.urandom(32)
    results = []
    print(f"{'rows':>10} {'fill s':>8} {'start s':>8} {'(open':>7} {'load)':>7} "
          f"{'add ms/item':>12} {'fire ms/item':>13}")
    for size in sizes:
        res = await one_size(server, size, fire, rounds, key, vacuum)
        results.append(res)
        print(f"{size:>10,} {res['fill']:>8.1f} {res['start']:>8.3f} {res['open']:>7.3f} "
              f"{res['load']:>7.3f} {res['add'] * 1e3:>12.3f} {res['fire'] * 1e3:>13.3f}")
    start_ok = results[-1]["start"] < 5.0
    ratio = results[-1]["fire"] / results[0]["fire"]
    flat = ratio <= 1.5
    print(f"start at {sizes[-1]:,} rows: {results[-1]['start']:.2f} s "
          f"({'OK' if start_ok else 'NOT'} < 5 s)")
    print(f"fire cost ratio {sizes[-1]:,}/{sizes[0]:,}: {ratio:.2f} "
          f"({'OK, flat' if flat else 'ABOVE 1.5'})")
    return start_ok and flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--fire", type=int, default=1000, help="items fired per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-vacuum", action="store_true",
                        help="measure right after the bulk write, before any VACUUM")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with bench_server() as server:
        ok = asyncio.run(run(server, sizes, args.fire, args.rounds, not args.no_vacuum))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
