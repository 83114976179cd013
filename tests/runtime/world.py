"""A returnee's world for the scheduling rules: the real store, conversations, scheduler and
journal on a clock the test moves, with a Chats port that steps the conversation and keeps
what it would send (planning and firing send nothing over the network)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from counsel_bot.cases.localtime import zone
from counsel_bot.cases.model import Case, CaseWorker
from counsel_bot.engine.effects import Send
from counsel_bot.engine.inbound import Inbound, Press, Start
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.pg_scheduler import PgScheduler
from counsel_bot.runtime.scheduler import Schedule, Scheduler
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.postgres import PostgresStore
from tests.conftest import open_test_store, shipped_context

WORKER = 100
CHAT = "telegram:4242"


class Clock:
    """The one clock of the conversations, the registry and the scheduler."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Delivered:
    at: datetime
    chat: str
    inbound: Inbound
    sends: list[Send]


@dataclass
class SteppingChats:
    """The Chats port: steps the returnee's conversation, keeps the Sends it gives."""

    conversations: ConversationService
    delivered: list[Delivered] = field(default_factory=list)
    to_workers: list[tuple[int, Send]] = field(default_factory=list)

    async def deliver(self, chat: str, inbound: Inbound, key: str) -> None:
        effects = self.conversations.handle(chat, inbound)
        self.delivered.append(Delivered(self.conversations.clock(), chat, inbound,
                                        [e for e in effects if isinstance(e, Send)]))

    def to_worker(self, worker: CaseWorker, send: Send, key: str | None = None) -> None:
        self.to_workers.append((worker.telegram_id, send))


@dataclass
class World:
    key: bytes
    store_at: str  # a data folder or a database URL
    clock: Clock
    conversations: ConversationService
    scheduler: Schedule
    chats: SteppingChats
    casework: Casework
    care: Care

    @property
    def registry(self) -> Any:
        return self.conversations.registry

    def joined_case(self, timezone: str, **changes: Any) -> Case:
        """A case in `timezone` whose returnee joined by the invitation and consented to
        everything, with `changes` made to the case file."""
        registry = self.registry
        if registry.caseworker(WORKER) is None:
            registry.add_caseworker(WORKER, "Nadia")
        case, invitation = registry.open_case(WORKER, "XS", "en", timezone)
        handle = self.conversations.handle
        handle(CHAT, Start(payload=invitation.code))
        for action in ("onboarding.language:en", "onboarding.consent_counselling:yes",
                       "onboarding.consent_alerts:yes", "onboarding.consent_checkins:yes"):
            handle(CHAT, Press(action))
        assert self.conversations.state_of(CHAT).has_consent("checkins")
        if changes:
            registry.change_case(case.case_id, lambda c: [setattr(c, k, v)
                                                          for k, v in changes.items()])
        found = registry.case(case.case_id)
        assert found is not None and found.chat == CHAT and found.status == "active"
        return found

    async def run_until(self, end: datetime) -> None:
        """Move the clock from item to item, firing each when it falls due, up to `end`."""
        while (due := self.scheduler.next_due()) is not None and due <= end:
            self.clock.now = max(self.clock.now, due)
            await self.scheduler.tick()
        self.clock.now = max(self.clock.now, end)


def build_world(tmp_path: Path, now: datetime, store_at: str | None = None,
                **deployment: Any) -> World:
    """The runtime's parts as bootstrap wires them, minus the Telegram door; the store at
    `store_at` (a folder or a PostgreSQL URL, see the `store_target` fixture); on PostgreSQL
    the scheduler is PgScheduler, its rows in the same database."""
    context = shipped_context()
    if deployment:
        context = replace(context, deployment=replace(context.deployment, **deployment))
    key = os.urandom(32)
    clock = Clock(now)
    store = open_test_store(store_at or str(tmp_path / "data"), key)
    conversations = ConversationService(store, context, clock=clock)
    scheduler: Schedule
    if isinstance(store, PostgresStore):
        scheduler = PgScheduler(store, clock)
    else:
        scheduler = Scheduler(Journal(tmp_path / "schedule.journal", ShardCipher(key)),
                              clock=clock)
    scheduler.load()
    chats = SteppingChats(conversations)
    casework = Casework(conversations, scheduler, chats)
    return World(key, store_at or str(tmp_path / "data"), clock, conversations, scheduler,
                 chats, casework, Care(casework))


def local(when: datetime, timezone: str) -> str:
    """`when` on the returnee's wall clock, as "YYYY-MM-DD HH:MM"."""
    return when.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


DAY = timedelta(days=1)
