"""Helper process for the PgScheduler instance tests (run as a script, not collected).

usage: _scheduler_worker.py URL NAME     run a PgScheduler (lease 1 s) until the schedule has
                                         been empty for a second
Each "test" item fired is recorded in test_calls (item id, worker) and queued into the "out"
PgQueue under the key sched:<item id>, as a handler queues its message in the outbox. The
key comes from env STORE_TEST_KEY; the scheduler's clock is fixed (env CLOCK, ISO). Prints
"ready" first, "done" at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from counsel_bot.runtime.pg_scheduler import PgScheduler
from counsel_bot.runtime.scheduler import Item
from counsel_bot.store.keys import decode_key
from counsel_bot.store.pg_shared import PgQueue
from counsel_bot.store.postgres import PostgresStore


async def main(url: str, name: str) -> None:
    store = PostgresStore(url, decode_key(os.environ["STORE_TEST_KEY"], "test env"))
    now = datetime.fromisoformat(os.environ["CLOCK"])
    scheduler = PgScheduler(store, lambda: now, lease=1.0, poll=0.05, batch=10, owner=name)
    out = PgQueue(store, "out")

    async def fire(item: Item, _now: datetime) -> None:
        await asyncio.sleep(0.003)  # the work takes a moment
        with store.pool.connection() as conn:
            conn.execute("INSERT INTO test_calls (item, worker) VALUES (%s, %s)",
                         (item.id, name))
        out.put({"item": item.id}, key=f"sched:{item.id}")

    scheduler.on("test", fire)
    print("ready", flush=True)
    running = asyncio.create_task(scheduler.run())
    empty = 0
    while empty < 20:
        await asyncio.sleep(0.05)
        empty = empty + 1 if scheduler.pending == 0 else 0
    scheduler.stop()
    await running
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
