"""Helper process for the store tests (run as a script, not collected).

usage: _store_worker.py crash TARGET SIDE_FILE
       _store_worker.py count TARGET NAME N
TARGET is a data folder or a PostgreSQL URL.
The key comes from env STORE_TEST_KEY. Prints "ready" and, for "count", waits for a line
on stdin before starting.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from counsel_bot.store import Store, is_database_url, open_store
from counsel_bot.store.keys import decode_key


def _increment(db, name: str) -> int:
    table = db.table("counter")
    doc = table.get(doc_id=1) or {"n": 0, "seen": []}
    n = doc["n"] + 1
    table.truncate()
    table.insert({"n": n, "seen": [*doc["seen"], n if name == "" else name]})
    db.table("log").insert({"n": n, "pad": "x" * 200})
    return n


def crash(store: Store, side: Path) -> None:
    """Commit increments forever; after each commit returns, record its value."""
    print("ready", flush=True)
    tmp = side.with_suffix(".tmp")
    while True:
        with store.transaction("case:crash") as db:
            n = _increment(db, "")
        tmp.write_text(str(n))
        os.replace(tmp, side)


def count(store: Store, name: str, n: int) -> None:
    """Increment the shared shard n times and write n shards of our own."""
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        with store.transaction("case:shared") as db:
            _increment(db, name)
        with store.transaction(f"chat:{name}:{i}") as db:
            db.insert({"i": i})
    print("done", flush=True)


def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    store = open_store(target if is_database_url(target) else Path(target),
                       decode_key(os.environ["STORE_TEST_KEY"], "test env"))
    if mode == "crash":
        crash(store, Path(sys.argv[3]))
    else:
        count(store, sys.argv[3], int(sys.argv[4]))


if __name__ == "__main__":
    main()
