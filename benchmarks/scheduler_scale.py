"""Scheduler at scale: 100,000 scheduled rows across 20,000 cases.

Measures start-up (replaying the journal into the heap), memory, and the cost to schedule
and to fire one item, at 2,000 and at 20,000 cases (5 rows a case), with fsync on.

    .venv/bin/python benchmarks/scheduler_scale.py [--cases 2000 20000] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.scheduler import Item, Scheduler
from counsel_bot.store.crypto import ShardCipher

T0 = datetime(2026, 11, 23, tzinfo=UTC)
ROWS_PER_CASE = 5


def fill(path: Path, cipher: ShardCipher, cases: int) -> None:
    """Write the journal as the bot would have: one add record per row."""
    journal = Journal(path, cipher, fsync=False)
    batch = []
    for case in range(cases):
        for row in range(ROWS_PER_CASE):
            item = Item(T0 + timedelta(days=1 + row * 7, minutes=case % 1440), f"{case}-{row}",
                        "session_reminder",
                        {"case_id": f"C-{case:08d}", "session_id": f"C-{case:08d}-S{row}",
                         "version": 1, "kind": "reminder_day"},
                        (f"case:C-{case:08d}",), T0 + timedelta(days=60))
            batch.append(item.record())
        if len(batch) >= 5000:
            journal.append(batch)
            batch = []
    journal.append(batch)
    journal.close()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(cases: int, samples: int) -> dict[str, float]:
    cipher = ShardCipher(os.urandom(32))
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "schedule.journal"
        fill(path, cipher, cases)
        before = rss_mb()
        started = time.perf_counter()
        clock = {"now": T0}
        scheduler = Scheduler(Journal(path, cipher), clock=lambda: clock["now"],
                              compact_every=10**9)
        loaded = scheduler.load()
        startup = time.perf_counter() - started
        memory = rss_mb() - before

        async def handler(item: Item, now: datetime) -> None:
            return None

        scheduler.on("session_reminder", handler)
        scheduler.on("bench", handler)
        adds = []
        for i in range(samples):
            t = time.perf_counter()
            scheduler.add("bench", T0 + timedelta(seconds=i + 1), {"i": i},
                          tags=(f"case:bench-{i}",))
            adds.append(time.perf_counter() - t)
        fires = []
        for i in range(samples):
            clock["now"] = T0 + timedelta(seconds=i + 1)
            t = time.perf_counter()
            fired = await scheduler.tick()
            fires.append(time.perf_counter() - t)
            assert fired == 1
        scheduler.journal.close()
    return {"cases": cases, "rows": loaded, "startup_s": startup, "rss_growth_mb": memory,
            "schedule_ms": statistics.median(adds) * 1000,
            "fire_ms": statistics.median(fires) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    results = [asyncio.run(measure(n, args.samples)) for n in args.cases]
    print(f"{'cases':>7} {'rows':>8} {'start-up s':>10} {'RSS +MB':>8} {'schedule ms':>12} "
          f"{'fire ms':>8}")
    for r in results:
        print(f"{r['cases']:>7} {r['rows']:>8} {r['startup_s']:>10.2f} {r['rss_growth_mb']:>8.1f} "
              f"{r['schedule_ms']:>12.3f} {r['fire_ms']:>8.3f}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"ratio {large['cases']}/{small['cases']}: schedule "
              f"{large['schedule_ms'] / small['schedule_ms']:.2f}, fire "
              f"{large['fire_ms'] / small['fire_ms']:.2f}  (goal: at most 1.5)")
    print(f"peak RSS of this process: {rss_mb():.0f} MB  (goal: under 300 MB)")


if __name__ == "__main__":
    main()
