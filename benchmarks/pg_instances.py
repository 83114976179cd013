"""Several bot instances on one PostgreSQL database: updates a second, and the fan-out.

1. ``updates``: 1, 2 and 3 real `counsel-bot run` processes (polling, one of them polls under
   the polling lock, every one steps and one sends) on one database, set against the single
   TinyDB process in the same run. The fake Bot API runs in its own process. ``--updates``
   texts (`/help`, one reply each) from as many chats the bot has already seen once
   (untimed), queued at once; the clock runs until the fake has the last reply. The outbox's
   global rate is raised (100,000/s): this measures processing, not Telegram's limit.
2. ``fanout``: 3 processes, each a `SharedOutbox` with PTB's real transport on the same
   database, each queueing a third of ``--count`` messages to distinct chats at one moment;
   the fake answers 429 beyond L = ``--limit`` sends in any second. Goal: rate >= 0.93 L and
   zero 429s, whichever instance sends.

The server: $COUNSEL_BENCH_PG_URL (a server whose role may create databases), else a
throwaway cluster with fsync ON (tests/pg_server.py).

    python benchmarks/pg_instances.py [--parts updates,fanout] [--instances 1,2,3]
        [--updates 1500] [--count 10000] [--limit 30] [--framework ptb]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.telegram_overhead import TOKEN, FakeServerProcess  # noqa: E402
from counsel_bot.store.keys import encode_key  # noqa: E402
from tests.pg_server import bench_server, create_database  # noqa: E402

READY = "counsel-bot is ready"


class Instances:
    """N `counsel-bot run` processes (N = 1 with no database: the TinyDB bot)."""

    def __init__(self, root: str, n: int, url: str | None, key: bytes, folder: Path,
                 framework: str) -> None:
        self.logs = [folder / f"instance-{i}.log" for i in range(n)]
        self.env = {**os.environ, "COUNSEL_BOT_TOKEN": TOKEN, "COUNSEL_BOT_API_URL": root,
                    "COUNSEL_BOT_KEY": encode_key(key), "COUNSEL_BOT_EMBEDDINGS": "none"}
        if url:
            self.env["COUNSEL_BOT_DATABASE_URL"] = url
        self.folder, self.framework = folder, framework
        self.procs: list[Any] = []

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for i, log_path in enumerate(self.logs):
            env = {**self.env, "COUNSEL_BOT_DATA_DIR": str(self.folder / f"data-{i}")}
            with open(log_path, "wb") as log:
                self.procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "counsel_bot.cli", "run", "--framework",
                    self.framework, "--rate-limit", "100000", env=env, stdout=log,
                    stderr=log, start_new_session=True))
        deadline = time.monotonic() + 90
        while not all(READY in p.read_text(errors="replace") for p in self.logs):
            if time.monotonic() > deadline:
                raise RuntimeError("the instances did not start: " + self.logs[0].read_text())
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            await asyncio.wait_for(proc.wait(), 60)


async def updates_per_second(server_url: str | None, key: bytes, framework: str, n: int,
                             updates: int, folder: Path, first_user: int) -> float:
    async with FakeServerProcess() as fake:
        bots = Instances(fake.root, n, server_url, key, folder, framework)
        await bots.start()
        try:
            for _round in ("untimed: each chat's first message", "timed"):
                mark = (await fake.stats())["sent"]
                start = await fake.queue_texts(first_user, updates, "/help", mark=mark)
                got = await fake.wait_sent(updates, mark, timeout=600)
                if got["received"] < updates:
                    raise RuntimeError(f"only {got['received']} of {updates} replies")
            return updates / (got["last"] - start)
        finally:
            await bots.stop()


def _fan_out_instance(url: str, key: bytes, root: str, limit: float, first: int, count: int,
                      go: Any, done: Any) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_fan_out_async(url, key, root, limit, first, count, go, done))


async def _fan_out_async(url: str, key: bytes, root: str, limit: float, first: int,
                         count: int, go: Any, done: Any) -> None:
    from counsel_bot.runtime.pg_outbox import SharedOutbox
    from counsel_bot.runtime.ratelimit import Limits
    from counsel_bot.runtime.transport import OutMessage
    from counsel_bot.store.postgres import PostgresStore
    from counsel_bot.telegram.door import make_door

    async def no_updates(_update: dict[str, Any]) -> None:
        return None

    store = PostgresStore(url, key)
    door = make_door("ptb", TOKEN, root, no_updates)
    await door.start()
    outbox = SharedOutbox(store, door.transport, limits=Limits(per_second=limit))
    sending = asyncio.create_task(outbox.run())
    await asyncio.to_thread(go.wait)
    await asyncio.to_thread(outbox.enqueue_bulk,
                            [(str(c), OutMessage(c, f"notice {c}"))
                             for c in range(first, first + count)])
    await asyncio.to_thread(done.wait)  # every instance's share sent
    await outbox.stop()
    await sending
    await door.shutdown()
    store.close()


async def fan_out(url: str, key: bytes, count: int, limit: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    async with FakeServerProcess(global_limit_per_sec=limit) as fake:
        go, done = ctx.Event(), ctx.Event()
        share = count // 3
        procs = [ctx.Process(target=_fan_out_instance,
                             args=(url, key, fake.root, limit, 20_000_000 + i * share,
                                   share if i < 2 else count - 2 * share, go, done))
                 for i in range(3)]
        for proc in procs:
            proc.start()
        await asyncio.sleep(8)  # imports, connections, one of them takes the sender lock
        mark = (await fake.stats())["sent"]
        start = time.monotonic()
        go.set()
        got = await fake.wait_sent(count, mark, timeout=count / limit * 1.5 + 60)
        done.set()
        for proc in procs:
            await asyncio.to_thread(proc.join, 60)
    elapsed = got["last"] - start
    return {"received": got["received"], "elapsed": elapsed, "rate": count / elapsed,
            "steady": (count - 1) / (got["last"] - got["first"]), "429": got["count_429"]}


async def run(args: argparse.Namespace, server: str, key: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="pg-instances-"))
    parts = set(args.parts.split(","))
    if "updates" in parts:
        print(f"updates a second, {args.updates} /help from returning chats, "
              f"{args.framework}, polling:", flush=True)
        rows = [("TinyDB, 1 process", None, 1)]
        rows += [(f"PostgreSQL, {n} instance(s)", n, n)
                 for n in (int(x) for x in args.instances.split(","))]
        for i, (name, n, count) in enumerate(rows):
            url = create_database(server) if n else None
            rate = await updates_per_second(url, key, args.framework, count, args.updates,
                                            folder / f"run-{i}", 30_000_000 + i * 100_000)
            print(f"  {name:28} {rate:8.0f} updates/s", flush=True)
    if "fanout" in parts:
        url = create_database(server)
        r = await fan_out(url, key, args.count, args.limit)
        ok = r["rate"] >= 0.93 * args.limit and r["429"] == 0
        print(f"fan-out, 3 instances, one sender: {args.count} messages at L={args.limit}: "
              f"{r['elapsed']:.1f} s, rate {r['rate']:.2f}/s = {r['rate'] / args.limit:.3f} L "
              f"(steady {r['steady'] / args.limit:.3f} L), {r['429']} 429s  "
              f"{'OK' if ok else 'MISSED'} (goal >= 0.93 L, no 429)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="updates,fanout")
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--framework", default="ptb")
    args = parser.parse_args()
    key = os.urandom(32)
    with bench_server() as server:
        asyncio.run(run(args, server, key))


if __name__ == "__main__":
    main()
