"""Three bot instances on one PostgreSQL database, one killed with SIGKILL mid-way.

Three real `counsel-bot run` processes share a database (and its key) against the fake Bot
API: 1,000 returnees each go through onboarding and a question. In webhook mode a load
balancer (here: the test, as nginx would with `proxy_next_upstream`) posts each update to
the next instance and, when one does not answer, to another; in polling mode one instance
polls (the polling lock). Meanwhile 200 returnees with a case get a session planned, as
the admin command line does it (the session written, a note left in the database's inbox):
the instance that takes the note sends the notice and plans the one-hour reminder, which
falls due at once and is fired by whichever instance claims it. Mid-way the instance that
sends for all (webhook) or that polls (polling) is killed with SIGKILL and not started
again: the other two must take over its leases and locks. At the end every returnee's chat
holds exactly the reference answer, in order, and every session's notice and reminder came
(each scheduled item fired once); nothing is sent twice beyond what was in flight at the kill
(counted as uncertain); the Bot API never answered 429; the audit chain in the database
verifies.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from counsel_bot.cases.registry import Registry
from counsel_bot.runtime.pg_inbox import PgInbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.store.keys import encode_key
from counsel_bot.store.postgres import PostgresStore
from counsel_bot.telegram.updates import chat_key
from tests.conftest import shipped_context
from tests.fake_bot_api.server import FakeBotApi
from tests.telegram.bot_process import BotProcess, in_order, press_label
from tests.telegram.scripted_users import references, script

pytestmark = pytest.mark.slow

INSTANCES = 3
USERS = 1000
ACTIONS = 6  # onboarding (5) and one question
FIRST_USER = 8_300_000
ANSWER_TIMEOUT = 120.0
KILL_AFTER = 0.4  # of all actions taken
FAST_RATE = 1000  # messages a second, all chats together
ROLE = {"webhook": "sends for every instance", "polling": "polls Telegram for every instance"}
CASES = 200  # returnees with a case, who get a session notice and its reminder
FIRST_CASE_USER = 8_400_000
SESSIONS_FROM = 0.3  # of all actions taken: the sessions are planned from then on, ...
SESSIONS_PER_SECOND = 20  # ... at this pace, so that the kill lands among them
CASEWORKER = 8_499_999
REMINDER_LEAD = 40  # seconds, at least, from planning a session to its reminder
SESSIONS_TIMEOUT = 240.0


class Sent:
    """The texts sent to each chat, read from the fake's log as it grows (1,000 returnees
    asking `messages_to`, a scan of every message, ten times a second would starve the
    fake Bot API, which runs on this test's event loop)."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.read = 0
        self.by_chat: dict[str, list[dict]] = {}

    def records(self, user: int) -> list[dict]:
        sent = self.api.sent
        while self.read < len(sent):
            record = sent[self.read]
            self.by_chat.setdefault(str(record["chat_id"]), []).append(record)
            self.read += 1
        return self.by_chat.get(str(user), [])

    def to(self, user: int) -> list[str]:
        return [r["text"] for r in self.records(user)]


class Cluster:
    """The instances, and the load balancer in front of their webhooks."""

    def __init__(self, api: FakeBotApi, tmp_path: Path, framework: str, mode: str,
                 database_url: str, key: bytes) -> None:
        env = {"COUNSEL_BOT_DATABASE_URL": database_url, "COUNSEL_BOT_KEY": encode_key(key)}
        # The global rate raised (the fan-out benchmark measures Telegram's own 30 a second
        # across instances): many sends in flight at the kill, and a run of minutes, not ten.
        args = ["--step-processes", "0", "--rate-limit", str(FAST_RATE)]
        self.mode = mode
        self.bots = [BotProcess(api, tmp_path / f"instance-{n}", framework, mode, args=args,
                                env=env) for n in range(INSTANCES)]
        self.dead: set[int] = set()
        self._next = itertools.count()
        self.api = api
        self.sent = Sent(api)
        self.took = Counter[int]()  # updates each instance's webhook took

    async def deliver(self, update: dict) -> None:
        """As Telegram and a load balancer do: post until some instance answers 200."""
        if self.mode == "polling":
            return
        while True:
            n = next(self._next) % INSTANCES
            secret = self.api.webhook.get("secret_token")
            if n in self.dead or not secret:
                await asyncio.sleep(0.01)
                continue
            url = f"http://127.0.0.1:{self.bots[n].port}/telegram/webhook"
            try:
                if await self.api.deliver_webhook(url, update, secret) == 200:
                    self.took[n] += 1
                    return
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)

    def holder(self) -> int:
        """The instance that holds the role the kill is aimed at."""
        holders = [n for n, bot in enumerate(self.bots)
                   if n not in self.dead and ROLE[self.mode] in bot.log_text()]
        assert holders, "no instance took the role"
        return holders[-1]

    def logs(self) -> str:
        return "\n".join(bot.log_text() for bot in self.bots)


def _midday_zone() -> str:
    """A time zone where it is about 13:00 now, so that no reminder meets quiet hours
    (whatever the hour the test runs at)."""
    offset = (13 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


class Sessions:
    """The returnees with a case, and the sessions planned for them mid-run, as the admin
    command line plans them (on another machine: only the database is shared)."""

    def __init__(self, pg_url: str, key: bytes) -> None:
        self.store = PostgresStore(pg_url, key)
        self.registry = Registry(self.store, shipped_context().deployment)
        self.inbox = PgInbox(self.store)
        self.zone = ZoneInfo(_midday_zone())
        self.users = range(FIRST_CASE_USER, FIRST_CASE_USER + CASES)
        self.cases: dict[int, str] = {}

    def open_cases(self) -> None:
        """Each case opened, and its invitation redeemed by the returnee's chat."""
        self.registry.add_caseworker(CASEWORKER, "Test worker", language="en")
        for user in self.users:
            case, invitation = self.registry.open_case(CASEWORKER, "XS", "en", self.zone.key)
            assert not isinstance(self.registry.redeem(invitation.code, chat_key(user)), str)
            self.cases[user] = case.case_id

    def plan(self, user: int) -> None:
        """A session in an hour and a minute or two (whole minutes): its one-hour reminder
        falls due 40 to 100 s from now, time enough for the note to be handled even after a
        kill (a note's lease is 15 s); later than the session's time minus one hour, no
        reminder would be planned."""
        at = (datetime.now(UTC) + timedelta(hours=1, seconds=REMINDER_LEAD + 59)
              ).astimezone(self.zone).replace(second=0, microsecond=0)
        _case, session = self.registry.schedule_session(
            self.cases[user], at.strftime("%Y-%m-%d %H:%M"), place="Office 3")
        self.inbox.post({"type": "session", "kind": "scheduled",
                         "session_id": session.session_id})

    async def plan_all(self, taken: list[int]) -> None:
        """From SESSIONS_FROM of the actions on, at SESSIONS_PER_SECOND."""
        while taken[0] < SESSIONS_FROM * USERS * ACTIONS:
            await asyncio.sleep(0.05)
        for user in self.users:
            await asyncio.to_thread(self.plan, user)
            await asyncio.sleep(1 / SESSIONS_PER_SECOND)


def _references(scripts: dict[int, list], folder: Path) -> dict:
    """The reference answers, computed once per distinct script (a handful: onboarding and
    one of a few questions); an answer does not depend on who asks."""
    first: dict[tuple, int] = {}
    for user, actions in scripts.items():
        first.setdefault(tuple(actions), user)
    answers = references({u: scripts[u] for u in first.values()}, folder)
    return {user: answers[first[tuple(actions)]] for user, actions in scripts.items()}


async def _returnee(cluster: Cluster, api: FakeBotApi, user: int, actions: list,
                    replies: list[list[str]], taken: list[int]) -> None:
    expected: list[str] = []
    think = random.Random(user)
    queue = cluster.mode == "polling"
    for (kind, value), reply in zip(actions, replies, strict=True):
        await asyncio.sleep(think.uniform(0.0, 1.0))  # reads the answer before acting
        if kind == "text":
            update = api.user_sends_text(user, value, queue=queue)
        else:
            update = press_label(api, user, value, queue, cluster.sent.records(user))
        await cluster.deliver(update)
        taken[0] += 1
        expected += reply
        deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT
        while not in_order(expected, cluster.sent.to(user)):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"user {user}: no answer to {kind} {value!r} "
                                     f"after {ANSWER_TIMEOUT} s")
            await asyncio.sleep(0.1)


async def _kill_mid_way(cluster: Cluster, taken: list[int]) -> int:
    while taken[0] < KILL_AFTER * USERS * ACTIONS:
        await asyncio.sleep(0.05)
    victim = cluster.holder()
    cluster.dead.add(victim)
    cluster.bots[victim].kill()
    await cluster.bots[victim].wait()
    return victim


@pytest.mark.parametrize(("framework", "mode"), [("ptb", "webhook"), ("aiogram", "polling")])
async def test_three_instances_one_killed_lose_nothing_and_send_nothing_twice(
        tmp_path: Path, pg_url: str, key: bytes, framework: str, mode: str) -> None:
    # Telegram's limit per chat, checked by the fake: the senders' buckets must keep it,
    # also across the handover from a killed sender.
    async with FakeBotApi(per_chat_limit_per_sec=Limits().per_chat_burst) as api:
        await _run(api, tmp_path, pg_url, key, framework, mode)


async def _run(api: FakeBotApi, tmp_path: Path, pg_url: str, key: bytes, framework: str,
               mode: str) -> None:
    clock = asyncio.get_running_loop().time
    began = clock()
    users = range(FIRST_USER, FIRST_USER + USERS)
    scripts = {u: script(u, ACTIONS) for u in users}
    wanted = _references(scripts, tmp_path / "reference")
    phases = {"reference": clock() - began}
    sessions = Sessions(pg_url, key)
    try:
        await _run_cluster(api, tmp_path, pg_url, key, framework, mode, sessions, scripts,
                           wanted, phases, began)
    finally:
        sessions.store.close()


async def _sessions_told(cluster: Cluster, sessions: Sessions) -> None:
    """Until every case's chat has its notice and its reminder (two messages)."""
    deadline = asyncio.get_running_loop().time() + SESSIONS_TIMEOUT
    while any(len(set(cluster.sent.to(u))) < 2 for u in sessions.users):
        if asyncio.get_running_loop().time() > deadline:
            short = [u for u in sessions.users if len(set(cluster.sent.to(u))) < 2]
            raise AssertionError(f"{len(short)} case(s) lack their notice or reminder")
        await asyncio.sleep(0.1)


async def _run_cluster(api: FakeBotApi, tmp_path: Path, pg_url: str, key: bytes,
                       framework: str, mode: str, sessions: Sessions, scripts: dict,
                       wanted: dict, phases: dict[str, float], began: float) -> None:
    clock = asyncio.get_running_loop().time
    users = range(FIRST_USER, FIRST_USER + USERS)
    sessions.open_cases()
    cluster = Cluster(api, tmp_path, framework, mode, pg_url, key)
    for bot in cluster.bots:
        await bot.start()
    for bot in cluster.bots:
        await bot.ready()
    phases["start"] = clock() - began - sum(phases.values())
    taken = [0]
    killer = asyncio.create_task(_kill_mid_way(cluster, taken))
    planner = asyncio.create_task(sessions.plan_all(taken))
    try:
        await asyncio.gather(*(_returnee(cluster, api, u, scripts[u], wanted[u].replies, taken)
                               for u in users))
        victim = await asyncio.wait_for(killer, 5)
        phases["conversations"] = clock() - began - sum(phases.values())
        await asyncio.wait_for(planner, 60)
        await _sessions_told(cluster, sessions)
        phases["sessions"] = clock() - began - sum(phases.values())
    finally:
        killer.cancel()
        planner.cancel()
        await asyncio.sleep(1.0)  # anything still on its way
        for n, bot in enumerate(cluster.bots):
            if n not in cluster.dead:
                bot.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for n, bot in enumerate(cluster.bots):
            if n not in cluster.dead:
                await asyncio.wait_for(bot.wait(), 30)
    logs = cluster.logs()
    uncertain = sum(int(n) for n in re.findall(r"outbox: (\d+) message\(s\) were on their way",
                                               logs))
    again = sum(int(n) for n in re.findall(r"(\d+) update\(s\) taken by an instance that "
                                           r"stopped", logs))
    missing, twice, disordered = 0, 0, 0
    for user in users:
        texts = cluster.sent.to(user)
        got, want = Counter(texts), Counter(wanted[user].texts)
        missing += sum((want - got).values())
        twice += sum((got - want).values())
        disordered += not in_order(wanted[user].texts, texts)
    reminder = shipped_context().translator("en")(
        shipped_context().dialogs.system["session_reminder_hour"])
    reminders = 0
    for user in sessions.users:  # each: the notice, then its reminder, each once
        texts = cluster.sent.to(user)
        notice, *later = list(dict.fromkeys(texts))
        assert later and later[0].startswith(reminder) and len(later) == 1, texts
        assert not notice.startswith(reminder), texts
        reminders += 1
        twice += len(texts) - 2
    took_over = ROLE[mode] in "\n".join(b.log_text() for n, b in enumerate(cluster.bots)
                                        if n != victim)
    print(f"\n{framework}/{mode}, {INSTANCES} instances: {USERS * ACTIONS} actions and "
          f"{CASES} sessions (notice and reminder: {reminders} complete), "
          f"instance {victim} killed, {len(api.sent)} messages sent, {missing} missing, "
          f"{twice} twice, {uncertain} uncertain at the kill, {again} updates handled again, "
          f"{api.count_429} 429s; seconds: "
          + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    assert took_over, "no other instance took the killed one's role"
    if mode == "webhook":  # every instance takes what Telegram posts (one shared secret)
        assert all(cluster.took[n] > 0 for n in range(INSTANCES)), cluster.took
    assert missing == 0
    assert disordered == 0
    assert twice <= uncertain
    assert api.count_429 == 0
    assert "Traceback" not in logs
    audit = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", "audit", "verify",
        env={**os.environ, "COUNSEL_BOT_DATABASE_URL": pg_url,
             "COUNSEL_BOT_KEY": encode_key(key),
             "COUNSEL_BOT_DATA_DIR": str(tmp_path / "cli")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await audit.communicate()
    assert audit.returncode == 0, out.decode()
