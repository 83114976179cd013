"""Time from `counsel-bot run` to the first answer, on both frameworks.

A fresh data folder each round; the fake Bot API (tests/fake_bot_api) runs in a child
process with a `/help` already waiting, so the clock runs from spawning the command to the
fake receiving the answer: interpreter and imports, key, store, catalogues, flows and
screening loaded, step processes started, getMe, setMyCommands, the first poll, the step
and the send. The "ready" column is when the log line saying so was written.

    python benchmarks/startup.py [--rounds 5] [--frameworks ptb,aiogram] [--step-processes N]

Goal: first answer in 3 s or less (median) on this 2-core machine.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.telegram_overhead import FakeServerProcess

GOAL_S = 3.0
USER = 7_000_001


async def one_round(framework: str, step_processes: int | None) -> tuple[float, float]:
    async with FakeServerProcess() as fake:
        mark = 0
        await fake.queue_texts(USER, 1, "/help", mark=mark)
        with tempfile.TemporaryDirectory() as scratch:
            log = Path(scratch) / "stderr.log"
            env = {**os.environ, "COUNSEL_BOT_TOKEN": fake.token,
                   "COUNSEL_BOT_API_URL": fake.root,
                   "COUNSEL_BOT_DATA_DIR": str(Path(scratch) / "data"),
                   "COUNSEL_BOT_KEY_FILE": str(Path(scratch) / "keys" / "key")}
            args = ["run", "--framework", framework]
            if step_processes is not None:
                args += ["--step-processes", str(step_processes)]
            with log.open("wb") as err:
                began = time.monotonic()
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "counsel_bot.cli", *args, env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=err)
            try:
                await fake.wait_sent(1, since=0, timeout=60)
                answered = time.monotonic() - began
                ready = answered
                for line in log.read_text().splitlines():
                    if "counsel-bot is ready" in line:
                        stamp = line.split(" ", 2)[:2]
                        ready = _since(began, " ".join(stamp))
            finally:
                process.terminate()
                await process.wait()
    return answered, ready


def _since(began_monotonic: float, stamp: str) -> float:
    """Seconds from the spawn to a log line's wall-clock stamp ('YYYY-MM-DD HH:MM:SS,mmm')."""
    import datetime as dt

    at = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return at - (time.time() - (time.monotonic() - began_monotonic))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frameworks", default="ptb,aiogram")
    parser.add_argument("--step-processes", type=int, default=None)
    args = parser.parse_args()
    print("| framework | rounds | ready, median s | first answer, median s | max s |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for framework in args.frameworks.split(","):
        answered, ready = [], []
        for _ in range(args.rounds):
            a, r = await one_round(framework, args.step_processes)
            answered.append(a)
            ready.append(r)
        median = statistics.median(answered)
        worst = max(worst, median)
        print(f"| {framework} | {args.rounds} | {statistics.median(ready):.2f} | "
              f"{median:.2f} | {max(answered):.2f} |")
    verdict = "met" if worst <= GOAL_S else "MISSED"
    print(f"goal: first answer <= {GOAL_S:.0f} s (median): {verdict}")
    return 0 if worst <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
