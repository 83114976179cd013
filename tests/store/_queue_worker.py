"""Helper process for the shared-queue tests (run as a script, not collected).

usage: _queue_worker.py work URL NAME     claim, do the work and complete, until the queue is
                                          empty; the work is a row in test_effects written in
                                          the same transaction as the completion
       _queue_worker.py lead URL          take the leader lock, print "leader", then sleep
The key comes from env STORE_TEST_KEY. Prints "ready" first.
"""

from __future__ import annotations

import os
import sys
import time

from counsel_bot.store.keys import decode_key
from counsel_bot.store.pg_shared import LeaderLock, PgQueue
from counsel_bot.store.postgres import PostgresStore


def work(url: str, name: str) -> None:
    store = PostgresStore(url, decode_key(os.environ["STORE_TEST_KEY"], "test env"))
    queue = PgQueue(store, "test", lease=1.0, owner=name)
    print("ready", flush=True)
    idle = 0
    while idle < 20:
        claims = queue.claim(5)
        if not claims:
            idle += 1
            time.sleep(0.05)
            continue
        idle = 0
        for claim in claims:
            time.sleep(0.002)  # the work takes a moment
            with store.pool.connection() as conn, conn.transaction():
                conn.execute("INSERT INTO test_effects (item, chat, worker) VALUES (%s, %s, %s)",
                             (claim.payload["n"], claim.payload["chat"], name))
                if not queue.complete(claim, conn):
                    raise RuntimeError("lease lost")  # rolls the effect back
    print("done", flush=True)


def lead(url: str) -> None:
    lock = LeaderLock(url, "test-leader")
    print("ready", flush=True)
    while not lock.try_acquire():
        time.sleep(0.05)
    print("leader", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    if sys.argv[1] == "work":
        work(sys.argv[2], sys.argv[3])
    else:
        lead(sys.argv[2])
