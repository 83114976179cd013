"""Priority: an urgent message queued behind a large bulk backlog leaves within a second.

For each framework and global limit L, the real Outbox (encrypted journal, fsync on) with
the door's real transport and `Limits(per_second=L)` gets ``--bulk`` BULK messages to
distinct chats in one `enqueue_bulk`. While they drain at L a second against the fake Bot
API (in its own process, 429 beyond L), ``--trials`` Priority.URGENT messages are queued one
at a time, ``--interval`` seconds apart (with jitter), each from a worker thread as the
gateway does. Latency: from just before `enqueue` (journal fsync included) to the moment
the fake accepted the message.

    python benchmarks/outbox_priority.py [--limits 30,300] [--bulk 10000] [--trials 100]
        [--interval 0.25] [--frameworks ptb,aiogram] [--dir D]

Goal: p99 latency <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.outbox_fanout import running_outbox
from benchmarks.telegram_overhead import FakeServerProcess
from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.transport import OutMessage

URGENT_CHAT = 900_000_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def trial_run(server: FakeServerProcess, framework: str, limit: int,
                    args: argparse.Namespace, workdir: Path, first_chat: int) -> dict[str, Any]:
    rng = random.Random(7)
    async with running_outbox(framework, server.root, limit,
                              workdir / f"{framework}-{limit}.journal") as outbox:
        before = await server.stats()
        mark = before["sent"]
        bulk = [(f"telegram:{first_chat + i}", OutMessage(first_chat + i, f"bulk {i}"))
                for i in range(args.bulk)]
        await asyncio.to_thread(outbox.enqueue_bulk, bulk)
        await asyncio.sleep(1.5)  # the backlog is draining and the window is full
        queued_at: dict[str, float] = {}
        backlog: list[int] = []
        for n in range(args.trials):
            await asyncio.sleep(args.interval * rng.uniform(0.5, 1.5))
            chat = URGENT_CHAT + first_chat + n
            text = f"urgent {framework} {limit} {n}"
            backlog.append(outbox.pending)
            queued_at[text] = time.monotonic()
            await asyncio.to_thread(outbox.enqueue, f"telegram:{chat}",
                                    [OutMessage(chat, text)], Priority.URGENT)
        prefix = f"urgent {framework} {limit} "
        deadline = time.monotonic() + 30
        while True:
            rows = (await server.sent(since=mark, prefix=prefix))["rows"]
            if len(rows) >= args.trials or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        bulk_sent = (await server.stats())["sent"] - mark - len(rows)
        count_429 = (await server.stats())["count_429"] - before["count_429"]
    latencies = [row[2] - queued_at[row[1]] for row in rows]
    return {"latencies": latencies, "missing": args.trials - len(rows),
            "min_backlog": min(backlog), "bulk_sent": bulk_sent, "count_429": count_429}


async def run(args: argparse.Namespace) -> int:
    limits = [int(x) for x in args.limits.split(",") if x.strip()]
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="priority-bench-", dir=args.dir))
    print(f"{args.bulk} BULK messages queued at once, then {args.trials} URGENT ones about "
          f"{args.interval} s apart while the bulk drains; latency = enqueue (with fsync) "
          "to accepted by the fake Bot API (own process, 429 beyond L)\n", flush=True)
    rows = []
    chat = 10_000_000
    for limit in limits:
        async with FakeServerProcess(global_limit_per_sec=limit) as server:
            for framework in frameworks:
                await asyncio.sleep(1.5)  # the fake still counts the last run's sends
                result = await trial_run(server, framework, limit, args, workdir, chat)
                chat += args.bulk + args.trials
                rows.append((limit, framework, result))
                print(f"  L={limit} {framework}: done", flush=True)
    print(f"\n{'L':>4} {'framework':9} {'trials':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'backlog min':>11} {'429s':>5}  goal p99 <= 1000 ms")
    failed = 0
    for limit, framework, r in rows:
        lat = [x * 1000 for x in r["latencies"]]
        if not lat:
            print(f"{limit:>4} {framework:9} no urgent message arrived")
            failed += 1
            continue
        p99 = percentile(lat, 0.99)
        ok = p99 <= 1000 and r["missing"] == 0
        failed += not ok
        print(f"{limit:>4} {framework:9} {len(lat):>6} {statistics.median(lat):>7.1f} "
              f"{p99:>7.1f} {max(lat):>7.1f} {r['min_backlog']:>11} {r['count_429']:>5}  "
              f"{'OK' if ok else 'MISSED'}" + (f" ({r['missing']} missing)" if r["missing"]
                                               else ""))
    print("backlog min: the fewest messages still queued when an urgent one was queued")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="30,300", help="global limits L to test")
    parser.add_argument("--bulk", type=int, default=10_000, help="bulk messages queued first")
    parser.add_argument("--trials", type=int, default=100, help="urgent messages")
    parser.add_argument("--interval", type=float, default=0.25,
                        help="mean seconds between urgent messages")
    parser.add_argument("--frameworks", default="ptb,aiogram")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
