"""Updates per second of the whole bot, set against a bare echo bot on the same framework.

For each framework (python-telegram-bot 22 and aiogram 3), in one run, against one fake Bot
API server (tests/fake_bot_api) running in its own process:

- **echo**: the framework's own minimal bot (PTB Application + MessageHandler, or aiogram
  Dispatcher + message handler) that answers each text with the same text. It gets the
  door's settings (concurrent updates, 64 connections, long polling, no poll interval);
- **bot**: the real bot (build_telegram) in polling mode with the real encrypted store in a fresh
  temp data folder, a temp key file (COUNSEL_BOT_KEY_FILE), the journal-backed outbox, and
  every fsync on. Its outbox global limit is raised (default 100,000/s) because this
  measures processing overhead, not Telegram's flood limits; per-chat limits stay as in
  production and each chat writes once (by default), so they never bind.

Workloads (``--workloads``): ``new``, ``--updates`` updates (default 1,500) from
``--updates / --per-chat`` private chats the bot has never seen (each gets a new store
shard), and ``returning``, the same from chats that already wrote once (untimed), as most
updates in a running deployment are. Each update is the text ``/help``, which the bot
answers with exactly one message, as the echo bot does. All updates are queued at once on
the fake; the clock runs from just before they are queued to the moment the fake received
the last expected reply. Rounds alternate echo and bot; the table shows the median of
``--rounds``.

    python benchmarks/telegram_overhead.py [--updates 1500] [--rounds 2]
        [--frameworks ptb,aiogram] [--workloads new,returning] [--per-chat 1] [--dir D]
        [--profile ptb|aiogram]

Goal: bot rate >= 0.7 x echo rate on both frameworks.

This module also holds `FakeServerProcess`, the out-of-process fake server that
outbox_fanout.py and outbox_priority.py use too. The fake runs in a child process so its
CPU time is not charged to the bot under test (Telegram is on another machine, too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import multiprocessing
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counsel_bot.cli.main import default_step_processes

TOKEN = "123456789:AAbenchmarkBenchmarkBenchmarkBench0"


# ----------------------------------------------------------------------------------------
# The fake Bot API in a child process, with a small control API next to it.
# ----------------------------------------------------------------------------------------
def _serve(conn: Any, kwargs: dict[str, Any]) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_async(conn, kwargs))


async def _serve_async(conn: Any, kwargs: dict[str, Any]) -> None:
    from aiohttp import web

    from tests.fake_bot_api.server import FakeBotApi

    api = FakeBotApi(token=TOKEN, **kwargs)
    await api.start()
    stop = asyncio.Event()

    async def queue_texts(request: web.Request) -> web.Response:
        body = await request.json()
        users = range(body["first_user"], body["first_user"] + body["users"])
        start = time.monotonic()
        for _ in range(body.get("per_chat", 1)):
            for user in users:
                api.user_sends_text(user, body["text"], language_code="en")
        return web.json_response({"start": start, "mark": body["mark"]})

    async def wait_sent(request: web.Request) -> web.Response:
        """Wait until `count` messages were accepted after `since`; their first/last time."""
        body = await request.json()
        since, target = body["since"], body["since"] + body["count"]
        deadline = time.monotonic() + body.get("timeout", 120.0)
        while len(api.sent) < target and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        got = api.sent[since:target]
        return web.json_response({
            "received": len(got),
            "first": got[0]["time"] if got else None,
            "last": got[-1]["time"] if got else None,
            "count_429": api.count_429,
        })

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"sent": len(api.sent), "count_429": api.count_429,
                                  "pending_updates": len(api.updates)})

    async def sent(request: web.Request) -> web.Response:
        """[chat_id, text, time] of accepted sends from `since`, optionally by text prefix."""
        since = int(request.query.get("since", 0))
        prefix = request.query.get("prefix")
        rows = [[r["chat_id"], r["text"], r["time"]] for r in api.sent[since:]
                if prefix is None or str(r["text"]).startswith(prefix)]
        return web.json_response({"rows": rows, "send_times": api.send_times[since:]
                                  if request.query.get("times") else None})

    async def reset(_request: web.Request) -> web.Response:
        api.updates.clear()
        api.calls.clear()
        return web.json_response({"sent": len(api.sent)})

    async def quit_(_request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({})

    control = web.Application()
    control.router.add_post("/queue_texts", queue_texts)
    control.router.add_post("/wait_sent", wait_sent)
    control.router.add_get("/stats", stats)
    control.router.add_get("/sent", sent)
    control.router.add_post("/reset", reset)
    control.router.add_post("/quit", quit_)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send((api.root, f"http://127.0.0.1:{runner.addresses[0][1]}"))
    await stop.wait()
    await runner.cleanup()
    await api.stop()


class FakeServerProcess:
    """`FakeBotApi(**kwargs)` in a child process; `root` is its Bot API root URL."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.token = TOKEN
        self.root = ""
        self.control = ""
        self._proc: Any = None
        self._session: Any = None

    async def __aenter__(self) -> FakeServerProcess:
        import aiohttp

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.kwargs), daemon=True)
        self._proc.start()
        loop = asyncio.get_running_loop()
        self.root, self.control = await loop.run_in_executor(None, parent.recv)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self._post("/quit", {})
        await self._session.close()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self._session.post(self.control + path, json=body) as resp:
            return await resp.json()

    async def _get(self, path: str, **query: Any) -> Any:
        async with self._session.get(self.control + path, params=query) as resp:
            return await resp.json()

    async def stats(self) -> dict[str, Any]:
        return dict(await self._get("/stats"))

    async def queue_texts(self, first_user: int, users: int, text: str, *, mark: int,
                          per_chat: int = 1) -> float:
        """Queue `per_chat` texts from each of `users` chats; returns when it started."""
        answer = await self._post("/queue_texts", {"first_user": first_user, "users": users,
                                                   "text": text, "per_chat": per_chat,
                                                   "mark": mark})
        return float(answer["start"])

    async def wait_sent(self, count: int, since: int, timeout: float = 120.0) -> dict[str, Any]:
        return dict(await self._post("/wait_sent", {"count": count, "since": since,
                                                    "timeout": timeout}))

    async def sent(self, since: int = 0, prefix: str | None = None,
                   times: bool = False) -> dict[str, Any]:
        query: dict[str, Any] = {"since": since}
        if prefix is not None:
            query["prefix"] = prefix
        if times:
            query["times"] = 1
        return dict(await self._get("/sent", **query))

    async def reset(self) -> None:
        """Forget queued updates (between two bots polling the same fake)."""
        await self._post("/reset", {})


# ----------------------------------------------------------------------------------------
# The two echo bots and the real bot.
# ----------------------------------------------------------------------------------------
class PtbEcho:
    def __init__(self, root: str) -> None:
        from telegram import Update
        from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

        async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text(update.message.text or "")

        self.app = (ApplicationBuilder().token(TOKEN)
                    .base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
                    .concurrent_updates(True).connection_pool_size(64)
                    .read_timeout(15).write_timeout(15).connect_timeout(15).pool_timeout(15)
                    .build())
        self.app.add_handler(MessageHandler(filters.TEXT, echo))

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0.0, timeout=10)

    async def stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()


class AiogramEcho:
    def __init__(self, root: str) -> None:
        from aiogram import Bot, Dispatcher
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.types import Message

        self.bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(root),
                                                     timeout=15, limit=64))
        self.dp = Dispatcher()

        async def echo(message: Message) -> None:
            await message.answer(message.text or "")

        self.dp.message.register(echo)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        started = asyncio.Event()

        async def on_startup() -> None:
            started.set()

        self.dp.startup.register(on_startup)
        self._task = asyncio.create_task(self.dp.start_polling(
            self.bot, polling_timeout=10, handle_signals=False, close_bot_session=False))
        await asyncio.wait_for(started.wait(), 10)

    async def stop(self) -> None:
        await self.dp.stop_polling()
        assert self._task is not None
        await self._task
        await self.bot.session.close()


class RealBot:
    """The bot as `counsel-bot run` builds it, on a fresh data folder."""

    def __init__(self, root: str, framework: str, data_dir: Path, per_second: float,
                 step_processes: int = 0) -> None:
        from counsel_bot.bootstrap import build_app, build_telegram
        from counsel_bot.config.settings import Settings
        from counsel_bot.runtime.ratelimit import Limits
        from counsel_bot.telegram.runner import RunOptions

        self.app = build_app(Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(data_dir)}))
        self.runner = build_telegram(self.app, RunOptions(
            framework=framework, token=TOKEN, api_url=root,
            limits=Limits(per_second=per_second), step_processes=step_processes))

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        self.app.close()


# ----------------------------------------------------------------------------------------
async def measure_once(server: FakeServerProcess, make: Any, *, first_user: int, users: int,
                       per_chat: int, warmup: int, returning: bool, timeout: float,
                       profiler: cProfile.Profile | None = None) -> tuple[float, int]:
    """Start a bot, warm it up, time `users * per_chat` updates; (updates/s, 429s).

    With `returning`, every chat first writes once untimed, so the timed updates come from
    people the bot already knows (their store shard exists), as most updates do.
    """
    await server.reset()
    target = make()
    await target.start()
    try:
        batches = [(first_user - warmup, warmup, 1)] if warmup else []
        if returning:
            batches.append((first_user, users, 1))
        for first, count, repeat in batches:  # untimed
            mark = (await server.stats())["sent"]
            await server.queue_texts(first, count, "/help", mark=mark, per_chat=repeat)
            got = await server.wait_sent(count * repeat, mark, timeout)
            if got["received"] < count * repeat:
                raise RuntimeError(f"warm-up: {got['received']} of {count} replies")
        await asyncio.sleep(0.3)
        expected = users * per_chat
        mark = (await server.stats())["sent"]
        if profiler is not None:
            profiler.enable()
        start = await server.queue_texts(first_user, users, "/help", mark=mark,
                                         per_chat=per_chat)
        got = await server.wait_sent(expected, mark, timeout)
        if profiler is not None:
            profiler.disable()
        if got["received"] < expected:
            raise RuntimeError(f"only {got['received']} of {expected} replies in {timeout} s")
        return expected / (got["last"] - start), int(got["count_429"])
    finally:
        await target.stop()


async def run(args: argparse.Namespace) -> int:
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    users = args.updates // args.per_chat
    workdir = Path(tempfile.mkdtemp(prefix="overhead-bench-", dir=args.dir))
    os.environ["COUNSEL_BOT_KEY_FILE"] = str(workdir / "key")
    os.environ.pop("COUNSEL_BOT_KEY", None)
    print(f"updates per measurement: {users * args.per_chat} ({users} private chats x "
          f"{args.per_chat} '/help'), one reply each; median of {args.rounds} round(s)")
    print("workloads: new = chats the bot has never seen (a new store shard each); "
          "returning = chats that wrote once before (untimed)")
    print(f"bot: real TelegramRunner, polling, encrypted store + journal with fsync in "
          f"{workdir}; outbox global limit raised to {args.per_second:g}/s for this "
          "measurement (per-chat limits as in production)")
    print("echo: the framework's own echo bot with the door's concurrency settings; the fake "
          "Bot API runs in a separate process")
    if "ptb" in frameworks:

        print("PTB: the door module is imported first, so the echo bot gets the same HTTP "
              "client set-up (it caches sniffio's absence, see counsel_bot/telegram/ptb_door.py)")
    print(flush=True)
    rates: dict[tuple[str, str, str], list[float]] = {}
    next_user = 1_000_000
    run_no = 0
    async with FakeServerProcess() as server:
        for framework in frameworks:
            profiler = cProfile.Profile() if args.profile == framework else None
            for round_no in range(args.rounds):
                for workload in workloads:
                    for kind in ("echo", "bot"):
                        run_no += 1
                        if kind == "echo":
                            echo_cls = PtbEcho if framework == "ptb" else AiogramEcho

                            def make(cls: Any = echo_cls) -> Any:
                                return cls(server.root)
                        else:
                            data_dir = workdir / f"data-{run_no}"

                            def make(d: Path = data_dir, fw: str = framework) -> Any:
                                return RealBot(server.root, fw, d, args.per_second,
                                               args.step_processes)
                        next_user += users + args.warmup + 10
                        rate, n429 = await measure_once(
                            server, make, first_user=next_user, users=users,
                            per_chat=args.per_chat, warmup=args.warmup,
                            returning=workload == "returning", timeout=args.timeout,
                            profiler=profiler if kind == "bot" else None)
                        rates.setdefault((framework, workload, kind), []).append(rate)
                        print(f"  {framework:8} round {round_no + 1} {workload:9} {kind:5} "
                              f"{rate:8.0f} updates/s  (429s so far: {n429})", flush=True)
            if profiler is not None:
                out = workdir / f"profile-{framework}.pstats"
                profiler.dump_stats(out)
                print(f"\nprofile of the bot's event-loop thread ({framework}): {out}")
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    print(f"\n{'framework':10} {'workload':10} {'echo upd/s':>11} {'bot upd/s':>10} "
          f"{'bot/echo':>9}  goal >= 0.70")
    failed = 0
    for framework in frameworks:
        for workload in workloads:
            echo = statistics.median(rates[framework, workload, "echo"])
            bot = statistics.median(rates[framework, workload, "bot"])
            ratio = bot / echo
            failed += ratio < 0.7
            print(f"{framework:10} {workload:10} {echo:>11.0f} {bot:>10.0f} {ratio:>9.2f}  "
                  f"{'OK' if ratio >= 0.7 else 'BELOW'}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1500, help="updates per measurement")
    parser.add_argument("--per-chat", type=int, default=1,
                        help="updates per chat (per-chat limits bind above 3)")
    parser.add_argument("--rounds", type=int, default=2, help="echo/bot pairs per framework")
    parser.add_argument("--frameworks", default="ptb,aiogram")
    parser.add_argument("--workloads", default="new,returning")
    parser.add_argument("--warmup", type=int, default=100, help="updates before timing")
    parser.add_argument("--per-second", type=float, default=100_000,
                        help="the bot's outbox global limit during the measurement")
    parser.add_argument("--step-processes", type=int, default=default_step_processes(),
                        help="the bot's worker processes for returnees' steps (default: as "
                        "`counsel-bot run` on this machine)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp folder")
    parser.add_argument("--profile", choices=["ptb", "aiogram"], default=None,
                        help="cProfile the bot's event loop thread for this framework")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
