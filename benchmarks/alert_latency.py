"""From an urgent message arriving to its alert being handed to the outbox, while 10,000
bulk check-ins wait in the outbox.

The real bot (store, engine, screening, alerts, outbox) runs against the fake Bot API with
Telegram's global limit, so the bulk messages really are waiting. Each returnee has a case
and has consented; each writes one distress message, handed to the router as the framework
would hand it. Goal: p99 under 200 ms.

    .venv/bin/python benchmarks/alert_latency.py [--bulk 10000] [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fake_bot_api

from counsel_bot.bootstrap import build_app, build_telegram
from counsel_bot.config.settings import Settings
from counsel_bot.engine.effects import Priority
from counsel_bot.engine.inbound import Press, Start
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.telegram.runner import RunOptions
from counsel_bot.telegram.updates import IncomingUpdate
from tests.fake_bot_api.server import FakeBotApi

WORKER = 900_000


async def measure(framework: str, bulk: int, messages: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COUNSEL_BOT_KEY_FILE"] = str(Path(tmp) / "key")
        app = build_app(Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(Path(tmp) / "data")}))
        registry = app.conversations.registry
        registry.add_caseworker(WORKER, "Bench", language="en")
        async with FakeBotApi(global_limit_per_sec=30) as api:
            runner = build_telegram(app, RunOptions(framework=framework, token=api.token,
                                                    api_url=api.root, limits=Limits(30)))
            await runner.start()
            chats = []
            for i in range(messages):  # returnees with a case and consent, set up directly
                _case, invitation = registry.open_case(WORKER, "XS", "en", "Europe/Paris")
                chat = f"telegram:{100_000 + i}"
                for inbound in (Start(payload=invitation.code), Press("onboarding.language:en"),
                                Press("onboarding.consent_counselling:yes"),
                                Press("onboarding.consent_alerts:yes")):
                    app.conversations.handle(chat, inbound)
                chats.append(100_000 + i)
            runner.outbox.enqueue_bulk((f"telegram:{200_000 + i}",
                                        OutMessage(200_000 + i, "How are you doing today?"))
                                       for i in range(bulk))
            handed: dict[int, float] = {}
            enqueue = runner.outbox.enqueue

            def timed_enqueue(chat: str, msgs: list[OutMessage],
                              priority: Priority = Priority.REPLY,
                              key: str | None = None) -> list[int]:
                if priority == Priority.URGENT and chat == f"telegram:{WORKER}":
                    handed[len(handed)] = time.perf_counter()
                return enqueue(chat, msgs, priority, key)

            runner.outbox.enqueue = timed_enqueue  # type: ignore[method-assign]
            latencies = []
            for n, chat_id in enumerate(chats):
                update = IncomingUpdate(n, chat_id, "private", "text", "en",
                                        text="I want to kill myself")
                started = time.perf_counter()
                await runner.router.handle(update)
                latencies.append((handed[n] - started) * 1000)
            waiting = runner.outbox.pending
            await runner.stop()
        app.close()
        print(f"  {framework}: bulk messages still waiting at the end: {waiting}")
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(f"alert latency with {args.bulk} bulk messages waiting, {args.messages} alerts")
    for framework in ("ptb", "aiogram"):
        lat = sorted(asyncio.run(measure(framework, args.bulk, args.messages)))
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"  {framework}: p50 {statistics.median(lat):.1f} ms, p99 {p99:.1f} ms, "
              f"max {lat[-1]:.1f} ms  (goal: p99 < 200 ms)")


if __name__ == "__main__":
    main()
