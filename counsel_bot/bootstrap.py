"""The composition root: every part of the bot built from settings and wired together here,
with its dependencies passed in through constructors.

Which code carries out which effect is written down once, in `after_phase` below (and, for
what goes into the case file, in ConversationService's record table).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from counsel_bot.audit import AuditLog, AuditTrail
from counsel_bot.cases.signin import SignInLinks
from counsel_bot.config.deployment import ConfigError, read_config
from counsel_bot.config.settings import Settings
from counsel_bot.config.translations import deployment_texts, require_translations
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.dialogs import load_dialogs
from counsel_bot.engine.effects import (
    AnswerSession,
    Audit,
    ConsentChanged,
    ForgetPersonalData,
    NotifyCaseWorker,
    RaiseAlert,
    RecordCheckin,
    RecordEvaluation,
    ReferralAnswer,
    ReopenCase,
    RequestErasure,
    Send,
    SnoozeCheckin,
    StopContact,
    WatchSafety,
)
from counsel_bot.i18n.catalogs import Catalogs
from counsel_bot.i18n.detect import LanguageDetector
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.closing import Closing
from counsel_bot.runtime.conversations import AlertRaised, ConversationService
from counsel_bot.runtime.dispatch import AfterStep, EffectDispatcher
from counsel_bot.runtime.inbox import open_inbox
from counsel_bot.runtime.journal import data_journal
from counsel_bot.runtime.notes import NoteReader
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.records import EffectCodec
from counsel_bot.runtime.scheduler import Schedule, Scheduler
from counsel_bot.runtime.weblinks import WebLinks
from counsel_bot.screening.screener import SUPPORTED_LANGUAGES as SCREENING_LANGUAGES
from counsel_bot.screening.screener import Screener
from counsel_bot.screening.semantic import DEPLOYMENT_CLASSIFIER, SemanticLayer
from counsel_bot.screening.semantic import semantic_layer as build_semantic_layer
from counsel_bot.store import TinyDBStore, load_or_create_key
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.keys import describe_key_lookup
from counsel_bot.store.port import Store
from counsel_bot.telegram.chats import OutcomeCodec, StepOutcome, StepRequest, TelegramChats
from counsel_bot.telegram.desk import DeskService
from counsel_bot.telegram.door import make_door
from counsel_bot.telegram.intake import Intake
from counsel_bot.telegram.router import UpdateRouter
from counsel_bot.telegram.runner import RunOptions, TelegramParts, TelegramRunner
from counsel_bot.telegram.step_processes import StepProcesses
from counsel_bot.telegram.update_journal import UpdateJournal

if TYPE_CHECKING:  # imported when used: psycopg costs a TinyDB bot's start-up 0.1 s
    from counsel_bot.runtime.pg_outbox import SharedOutbox
    from counsel_bot.telegram.pg_intake import SharedIntake

log = logging.getLogger(__name__)

# Every effect that can reach the after phase, in its record form (a step's outcome is kept
# in the chat's shard, see runtime/step_records.py).
AFTER_EFFECTS: list[type] = [AlertRaised, NotifyCaseWorker, RecordCheckin, SnoozeCheckin,
                             ForgetPersonalData, RecordEvaluation, ReferralAnswer,
                             RequestErasure, StopContact, ConsentChanged, ReopenCase,
                             WatchSafety]
# Every effect the engine can emit (the tests check each has a handler in some phase).
ENGINE_EFFECTS: list[type] = [Send, Audit, ForgetPersonalData, NotifyCaseWorker, AnswerSession,
                              RaiseAlert, RecordCheckin, SnoozeCheckin, RecordEvaluation,
                              ReferralAnswer, StopContact, RequestErasure, ConsentChanged,
                              ReopenCase, WatchSafety]


def semantic_layer(settings: Settings) -> SemanticLayer | None:
    """The semantic second opinion the deployment names (COUNSEL_BOT_EMBEDDINGS), with its
    retrained classifier from the data folder if there is one; None: lexicons only."""
    retrained = (settings.data_dir / DEPLOYMENT_CLASSIFIER).is_file()
    key = load_or_create_key(settings.data_dir) if retrained else None
    return build_semantic_layer(data_dir=settings.data_dir, key=key)


def load_context(settings: Settings, *, screening: bool = True) -> EngineContext:
    """Content, catalogues and configuration; refuses broken flows and missing translations.

    Screening lexicons of every supported language are loaded too (people mix languages);
    commands that never read a returnee's message skip them.
    """
    config = read_config(settings.config_path)
    if config.deployment is None:
        raise ConfigError(config.problems)
    deployment = config.deployment
    own_texts = deployment_texts(deployment)
    require_translations(config, own_texts)  # the deployment's facts, in every language
    catalogs = Catalogs.load(settings.locales_dir, deployment.languages, own_texts)
    dialogs = load_dialogs(settings.dialogs_dir, catalogs, deployment.dialogs_dir)
    screener = (Screener.from_locales(settings.locales_dir, SCREENING_LANGUAGES,
                                      semantic=semantic_layer(settings))
                if screening else None)
    return EngineContext(dialogs, catalogs, deployment, now=datetime.now(UTC),
                         screener=screener, detector=LanguageDetector(deployment.languages))


@dataclass
class App:
    settings: Settings
    context: EngineContext
    store: Store
    conversations: ConversationService
    key: bytes
    audit: AuditTrail

    def close(self) -> None:
        self.store.close()


def open_store_and_audit(settings: Settings) -> tuple[Store, AuditTrail, bytes]:
    """The configured store and its audit log, and the key: PostgreSQL (store rows and audit
    chain in the database) when ``COUNSEL_BOT_DATABASE_URL`` is set, else the data folder."""
    url = settings.database_url
    if url:
        from counsel_bot.audit.pg import PgAuditLog
        from counsel_bot.store.postgres import PostgresStore, database_initialised, redact

        key = load_or_create_key(settings.data_dir, database=redact(url),
                                 initialised=database_initialised(url))
        pg = PostgresStore(url, key, key_source=describe_key_lookup())
        return pg, PgAuditLog(pg.pool, pg.cipher), key
    key = load_or_create_key(settings.data_dir)
    store = TinyDBStore(settings.data_dir, key, key_source=describe_key_lookup())
    return store, AuditLog(settings.data_dir, ShardCipher(key)), key


def build_app(settings: Settings, *, screening: bool = True,
              context: EngineContext | None = None) -> App:
    """The store, the audit log and the conversations; `context` reuses loaded content."""
    context = context or load_context(settings, screening=screening)
    store, audit, key = open_store_and_audit(settings)
    return App(settings, context, store, ConversationService(store, context, audit=audit), key,
               audit)


def after_phase(care: Care, closing: Closing) -> EffectDispatcher[AfterStep]:
    """What the runtime does, once a step has committed, for each effect it left."""
    table: EffectDispatcher[AfterStep] = EffectDispatcher("after")
    table.on(AlertRaised, care.on_alert_raised)
    table.on(NotifyCaseWorker, care.on_notify)
    table.on(RecordCheckin, care.on_checkin_recorded)
    table.on(SnoozeCheckin, care.on_checkin_snoozed)
    table.on(ConsentChanged, care.on_consent_changed)
    table.on(WatchSafety, care.on_watch_safety)
    table.on(StopContact, closing.on_stop)
    table.on(ForgetPersonalData, closing.on_forget)
    table.on(RequestErasure, closing.on_erasure_requested)
    table.on(ReferralAnswer, closing.on_referral)
    table.on(RecordEvaluation, closing.on_evaluation)
    table.on(ReopenCase, closing.on_reopen)
    return table


def outcome_codec() -> OutcomeCodec:
    return OutcomeCodec(EffectCodec(AFTER_EFFECTS))


def step_worker_parts(settings: Settings) -> tuple[ConversationService, OutcomeCodec,
                                                    Callable[[], None]]:
    """What a step process builds for itself (passed by reference to each worker)."""
    app = build_app(settings)
    return app.conversations, outcome_codec(), app.close


def run_after_phase(table: EffectDispatcher[AfterStep]
                    ) -> Callable[[StepRequest, StepOutcome], None]:
    """The after phase of one step: each effect carried out; a failure is logged with
    context and the other effects are still carried out."""
    def run(request: StepRequest, outcome: StepOutcome) -> None:
        after = AfterStep(request.chat, outcome.case_id, request.key)
        for effect in outcome.after:
            try:
                table.dispatch(effect, after)
            except Exception:
                log.exception("acting on %s after a step failed", type(effect).__name__)
    return run


@dataclass
class TelegramBot:
    """A Telegram bot, wired: the runner that starts and stops it, and its services."""

    runner: TelegramRunner
    chats: TelegramChats
    router: UpdateRouter
    casework: Casework
    care: Care
    closing: Closing
    desk: DeskService
    after: EffectDispatcher[AfterStep]

    @property
    def scheduler(self) -> Schedule:
        return self.casework.scheduler

    @property
    def outbox(self) -> Outbox | SharedOutbox:
        return self.chats.outbox

    @property
    def processes(self) -> StepProcesses | None:
        return self.runner.parts.processes

    @property
    def webhook_port(self) -> int | None:
        return self.runner.webhook_port

    @property
    def username(self) -> str:
        return self.runner.username

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.runner.run_until(stop)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every update taken in so far has been handled."""
        await self.runner.intake.wait_idle(timeout)
        await self.router.wait_idle(timeout)


def build_telegram(app: App, options: RunOptions) -> TelegramBot:
    """Every part of the Telegram bot, wired together. On PostgreSQL the queues live in the
    database, so that several instances can share it (docs/postgresql.md); otherwise in
    journals in the data folder."""
    data = app.settings.data_dir
    cipher = ShardCipher(app.key)
    shared = None
    if app.settings.database_url:
        from counsel_bot.runtime.pg_outbox import SharedOutbox
        from counsel_bot.runtime.pg_scheduler import PgScheduler
        from counsel_bot.store.pg_shared import LeaderLock
        from counsel_bot.store.postgres import PostgresStore, redact
        from counsel_bot.telegram.pg_intake import SharedIntake

        assert isinstance(app.store, PostgresStore)
        shared = app.store
    journals = ([] if shared is not None else
                [data_journal(data, name, cipher) for name in ("outbox", "schedule", "updates")])

    # Three parts need one built after them; each gets a function that looks it up then.
    async def hand_on(update: dict[str, Any]) -> None:  # what the framework parsed
        await router.handle_raw(update)

    async def on_blocked(chat: str) -> None:
        case_id = await asyncio.to_thread(chats.mark_unreachable, chat)
        if case_id is not None:
            notice = AfterStep(chat, case_id, f"blocked:{chat}:{app.conversations.clock()}")
            await asyncio.to_thread(care.on_notify, NotifyCaseWorker(case_id, "unreachable"),
                                    notice)

    def after_step(request: StepRequest, outcome: StepOutcome) -> None:
        run_after(request, outcome)

    door = make_door(options.framework, options.token, options.api_url, hand_on,
                     options.request_timeout)
    outbox: Outbox | SharedOutbox
    intake: Intake | SharedIntake
    scheduler: Schedule
    if shared is None:
        outbox = Outbox(journals[0], door.transport, limits=options.limits,
                        on_blocked=on_blocked)
        scheduler = Scheduler(journals[1], clock=app.conversations.clock)
    else:
        outbox = SharedOutbox(shared, door.transport, limits=options.limits,
                              on_blocked=on_blocked)
        scheduler = PgScheduler(shared, clock=app.conversations.clock)
    processes = (StepProcesses(app.settings, options.step_processes, step_worker_parts)
                 if options.step_processes else None)
    chats = TelegramChats(app.conversations, outbox, outcome_codec(), after_step, processes)
    casework = Casework(app.conversations, scheduler, chats)
    care = Care(casework)
    closing = Closing(care)
    after = after_phase(care, closing)
    run_after = run_after_phase(after)
    weblinks = WebLinks(casework, SignInLinks(app.store, lambda: app.conversations.clock()))
    desk = DeskService(casework, care, closing, chats, lambda: runner.username, weblinks)
    router = UpdateRouter(chats, desk, door.transport)
    if shared is None:
        intake = Intake(UpdateJournal(journals[2]), door.feed, router.handle_raw,
                        options.framework, router.take_unhandled)
    else:
        intake = SharedIntake(shared, door.feed, router.handle_raw, options.framework,
                              unhandled=router.take_unhandled)
    notes = NoteReader(open_inbox(app.store, data, cipher), casework, care, closing, weblinks)
    runner = TelegramRunner(TelegramParts(
        door, router, intake, outbox, scheduler, notes, journals, data, processes,
        app.conversations.registry.record_bot_username,
        poll_lock=None if shared is None else LeaderLock(shared.url, "poller"),
        webhook_secret=None if shared is None else shared_webhook_secret(cipher),
        where="" if shared is None else f"PostgreSQL {redact(shared.url)}"), options)
    return TelegramBot(runner, chats, router, casework, care, closing, desk, after)


def shared_webhook_secret(cipher: ShardCipher) -> str:
    """The webhook secret every instance on one database accepts: derived from the key (an
    HMAC), so that any instance behind the load balancer takes what Telegram posts."""
    return cipher.file_id("counsel-bot/webhook-secret")[:64]
