"""Fan-out: many queued messages to distinct chats go out at close to Telegram's global limit.

For each global limit L and each framework, the fake Bot API (in its own process) answers
429 to any send beyond L in a sliding second. The real Outbox, on its encrypted journal
with fsync, with the real transport of the framework's door (PTB's Bot or aiogram's Bot)
and `Limits(per_second=L)`, gets ``--count`` messages to distinct chats in one
`enqueue_bulk`. Measured: from the enqueue_bulk call to the last message the fake accepted.

    python benchmarks/outbox_fanout.py [--limits 30,300] [--count 1500]
        [--count-at-300 10000] [--frameworks ptb,aiogram] [--dir D]

Goal: rate >= 0.93 x L and no 429. At L=30, 10,000 messages take about 5.5 minutes (pass
``--count 10000`` for the full figure); the default count keeps L=30 under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.telegram_overhead import TOKEN, FakeServerProcess
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.telegram.door import make_door


async def _no_updates(_update: dict[str, Any]) -> None:
    return None


@asynccontextmanager
async def running_outbox(framework: str, root: str, limit: float,
                         journal_path: Path) -> AsyncIterator[Outbox]:
    """The real outbox over a fresh journal and the real transport of `framework`'s door."""
    door = make_door(framework, TOKEN, root, _no_updates)
    await door.start()
    journal = Journal(journal_path, ShardCipher(os.urandom(32)))
    outbox = Outbox(journal, door.transport, limits=Limits(per_second=limit))
    outbox.load()
    task = asyncio.create_task(outbox.run())
    try:
        yield outbox
    finally:
        await outbox.stop()
        await task
        await door.shutdown()
        journal.close()


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most sends the fake accepted within any `window` seconds."""
    best, q = 0, deque[float]()
    for t in times:
        q.append(t)
        while t - q[0] >= window:
            q.popleft()
        best = max(best, len(q))
    return best


async def fan_out(server: FakeServerProcess, framework: str, limit: int, count: int,
                  workdir: Path, first_chat: int) -> dict[str, Any]:
    async with running_outbox(framework, server.root, limit,
                              workdir / f"{framework}-{limit}.journal") as outbox:
        before = await server.stats()
        mark = before["sent"]
        items = [(f"telegram:{first_chat + i}", OutMessage(first_chat + i, f"notice {i}"))
                 for i in range(count)]
        start = time.monotonic()
        await asyncio.to_thread(outbox.enqueue_bulk, items)
        queued = time.monotonic()
        timeout = count / limit * 1.5 + 30
        got = await server.wait_sent(count, mark, timeout)
        if got["received"] < count:
            raise RuntimeError(f"only {got['received']} of {count} sent in {timeout:.0f} s")
        times = [row[2] for row in (await server.sent(since=mark))["rows"][:count]]
        await outbox.wait_idle(timeout=10)
    elapsed = got["last"] - start
    return {
        "rate": count / elapsed,
        "elapsed": elapsed,
        "enqueue_s": queued - start,
        "steady": (count - 1) / (got["last"] - got["first"]),
        "max_1s": max_in_window(times),
        "count_429": got["count_429"] - before["count_429"],
    }


async def run(args: argparse.Namespace) -> int:
    limits = [int(x) for x in args.limits.split(",") if x.strip()]
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="fanout-bench-", dir=args.dir))
    print("real Outbox (encrypted journal, fsync on) + the door's real transport; fake Bot "
          "API in its own process answering 429 beyond L sends in any second")
    print("rate = count / (last accepted send - enqueue_bulk call); steady = between the "
          "first and last send\n", flush=True)
    rows = []
    chat = 10_000_000
    for limit in limits:
        count = args.count_at_300 if limit >= 300 and args.count_at_300 else args.count
        async with FakeServerProcess(global_limit_per_sec=limit) as server:
            for framework in frameworks:
                await asyncio.sleep(1.5)  # the fake still counts the last run's sends
                result = await fan_out(server, framework, limit, count, workdir, chat)
                chat += count
                rows.append((limit, framework, count, result))
                print(f"  L={limit} {framework}: {count} messages in {result['elapsed']:.1f} s",
                      flush=True)
    print(f"\n{'L':>4} {'framework':9} {'count':>6} {'seconds':>8} {'enqueue s':>9} "
          f"{'rate/s':>7} {'rate/L':>7} {'steady/L':>8} {'max in 1s':>9} {'429s':>5}  "
          "goal rate/L >= 0.93, no 429")
    failed = 0
    for limit, framework, count, r in rows:
        ok = r["rate"] >= 0.93 * limit and r["count_429"] == 0
        failed += not ok
        print(f"{limit:>4} {framework:9} {count:>6} {r['elapsed']:>8.1f} {r['enqueue_s']:>9.2f} "
              f"{r['rate']:>7.1f} {r['rate'] / limit:>7.3f} {r['steady'] / limit:>8.3f} "
              f"{r['max_1s']:>9} {r['count_429']:>5}  {'OK' if ok else 'MISSED'}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="30,300", help="global limits L to test")
    parser.add_argument("--count", type=int, default=1500,
                        help="messages per run (10000 at L=30 takes ~5.5 min)")
    parser.add_argument("--count-at-300", type=int, default=10_000,
                        help="messages per run when L >= 300 (0: use --count)")
    parser.add_argument("--frameworks", default="ptb,aiogram")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
