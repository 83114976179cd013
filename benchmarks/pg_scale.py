"""The PostgreSQL store: write cost as it grows, and steps a second from 1, 2 and 3 instances.

1. write cost: the `store_write_cost.py` measurement (one-shard update transaction, durable
   commit) on PostgreSQL, at 200 and 20,000 case shards (goal: ratio <= 1.5), next to TinyDB.
2. steps/s: N processes ("instances"), each stepping its own returning chats through the real
   ConversationService (engine + one store transaction per step) on ONE database, against the
   single TinyDB process in the same run. Each chat first gets /start, then plain messages.
3. claims/s: N processes emptying one PgQueue (claim 10, complete each), SKIP LOCKED.

The server: $COUNSEL_BENCH_PG_URL (a database the script may fill), else a throwaway cluster
started like the tests' (tests/pg_server.py) but with fsync ON, so commits are durable.

    python benchmarks/pg_scale.py [--sizes 200,20000] [--writes 300] [--instances 1,2,3]
                                  [--steps 600] [--items 6000] [--parts write,steps,claims]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from store_write_cost import fill, measure, percentile  # noqa: E402

from counsel_bot.store import TinyDBStore  # noqa: E402
from counsel_bot.store.postgres import PostgresStore  # noqa: E402
from tests.pg_server import bench_server, create_database  # noqa: E402


def write_cost(server: str, sizes: list[int], writes: int, key: bytes) -> None:
    print("\n1. write cost: one-shard update transaction, durable commit")
    print(f"{'backend':>10} {'shards':>8} {'median ms':>10} {'p95 ms':>8}")
    for backend in ("tinydb", "postgresql"):
        rng = random.Random(1234)
        with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
            if backend == "tinydb":
                filler = TinyDBStore(Path(tmp) / "d", key, durable=False)
                store = TinyDBStore(Path(tmp) / "d", key)
            else:
                url = create_database(server)
                sep = "&" if "?" in url else "?"
                filler = PostgresStore(url + sep + "options=-c%20synchronous_commit%3Doff", key)
                store = PostgresStore(url, key)
            results, filled = {}, 0
            for size in sizes:
                fill(filler, filled, size)
                filled = size
                times = measure(store, size, writes, rng)
                results[size] = statistics.median(times)
                print(f"{backend:>10} {size:>8} {results[size] * 1e3:>10.3f} "
                      f"{percentile(times, 0.95) * 1e3:>8.3f}")
            ratio = results[sizes[-1]] / results[sizes[0]]
            print(f"{backend:>10} ratio {sizes[-1]}/{sizes[0]}: {ratio:.2f} "
                  f"({'OK' if ratio <= 1.5 else 'ABOVE 1.5'})")
            filler.close()
            store.close()


def _stepper(target: str, key: bytes, name: str, chats: int, steps: int, start, out) -> None:
    os.environ["COUNSEL_BOT_EMBEDDINGS"] = "none"
    from counsel_bot.bootstrap import load_context
    from counsel_bot.config.settings import Settings
    from counsel_bot.engine.inbound import Start, Text
    from counsel_bot.runtime.conversations import ConversationService
    from counsel_bot.store import is_database_url, open_store

    context = load_context(Settings.from_env({}))
    store = open_store(target if is_database_url(target) else Path(target), key)
    service = ConversationService(store, context)
    ids = [f"telegram:{name}{i}" for i in range(chats)]
    for chat in ids:  # returning chats: each has a conversation already
        service.handle(chat, Start(payload=None))
    start.wait()
    t0 = time.perf_counter()
    for n in range(steps):
        service.handle(ids[n % chats], Text(f"bonjour {n}"))
    out.put((name, steps, time.perf_counter() - t0))
    store.close()


def _run_instances(target: str, key: bytes, n: int, steps: int, chats: int) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_stepper, args=(target, key, f"{n}i{i}x", chats, steps, start,
                                                out)) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(1.0)
    while any(p.is_alive() for p in procs) and out.empty():
        # wait until every instance has loaded its content and made its chats
        time.sleep(0.5)
        if sum(1 for p in procs if p.is_alive()) == n:
            break
    time.sleep(max(6.0, 3.0 * n))  # content load and chat set-up (not timed)
    t0 = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    return sum(r[1] for r in results) / wall


def steps_per_second(server: str, instances: list[int], steps: int, key: bytes) -> None:
    print("\n2. conversation steps/s (engine + one store transaction each), one database")
    chats = 100
    with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
        rate = _run_instances(str(Path(tmp) / "d"), key, 1, steps, chats)
    print(f"{'tinydb, 1 process':>24} {rate:>8.0f} steps/s")
    for n in instances:
        url = create_database(server)
        rate = _run_instances(url, key, n, steps, chats)
        print(f"{f'postgresql, {n} instance(s)':>24} {rate:>8.0f} steps/s")


def _claimer(url: str, key: bytes, start, out) -> None:
    from counsel_bot.store.pg_shared import PgQueue

    store = PostgresStore(url, key)
    queue = PgQueue(store, "bench")
    start.wait()
    done, t0 = 0, time.perf_counter()
    while claims := queue.claim(10):
        for claim in claims:
            queue.complete(claim)
            done += 1
    out.put((done, time.perf_counter() - t0))
    store.close()


def claims_per_second(server: str, instances: list[int], items: int, key: bytes) -> None:
    print("\n3. PgQueue: items claimed and completed a second (SKIP LOCKED), one database")
    from counsel_bot.store.pg_shared import PgQueue

    for n in instances:
        url = create_database(server)
        store = PostgresStore(url, key)
        queue = PgQueue(store, "bench")
        with store.pool.connection() as conn, conn.transaction():
            for i in range(items):
                queue.put({"n": i, "text": "x" * 200}, chat=f"c{i % 500}", conn=conn)
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_claimer, args=(url, key, start, out)) for _ in range(n)]
        for p in procs:
            p.start()
        time.sleep(3.0)
        t0 = time.perf_counter()
        start.set()
        results = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join()
        total = sum(r[0] for r in results)
        print(f"{n:>3} instance(s): {total / wall:>8.0f} items/s ({total} items, "
              f"left {queue.pending()})")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,20000")
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--steps", type=int, default=600, help="timed steps per instance")
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--parts", default="write,steps,claims")
    args = parser.parse_args()
    key = os.urandom(32)
    parts = set(args.parts.split(","))
    instances = [int(n) for n in args.instances.split(",")]
    with bench_server() as server:
        if "write" in parts:
            write_cost(server, sorted(int(s) for s in args.sizes.split(",")), args.writes, key)
        if "steps" in parts:
            steps_per_second(server, instances, args.steps, key)
        if "claims" in parts:
            claims_per_second(server, instances, args.items, key)


if __name__ == "__main__":
    main()
