"""Assemble the engine's context and the runtime from settings, validating all content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from counsel_bot.audit import AuditLog
from counsel_bot.config.deployment import load_deployment
from counsel_bot.config.settings import Settings
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.dialogs import load_dialogs
from counsel_bot.i18n.catalogs import Catalogs
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.screening.screener import SUPPORTED_LANGUAGES as SCREENING_LANGUAGES
from counsel_bot.screening.screener import Screener
from counsel_bot.store import TinyDBStore, load_or_create_key
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.keys import describe_key_lookup
from counsel_bot.store.port import Store


def load_context(settings: Settings, *, screening: bool = True) -> EngineContext:
    """Content, catalogues and configuration; refuses broken flows and missing translations.

    Screening lexicons of every supported language are loaded too (people mix languages);
    commands that never read a returnee's message skip them.
    """
    deployment = load_deployment(settings.config_path)
    catalogs = Catalogs.load(settings.locales_dir, deployment.languages)
    dialogs = load_dialogs(settings.dialogs_dir, catalogs)
    screener = (Screener.from_locales(settings.locales_dir, SCREENING_LANGUAGES)
                if screening else None)
    return EngineContext(dialogs, catalogs, deployment, now=datetime.now(UTC),
                         screener=screener)


@dataclass
class App:
    settings: Settings
    context: EngineContext
    store: Store
    conversations: ConversationService
    key: bytes
    audit: AuditLog

    def close(self) -> None:
        self.store.close()


def build_app(settings: Settings, *, screening: bool = True) -> App:
    context = load_context(settings, screening=screening)
    key = load_or_create_key(settings.data_dir)
    store = TinyDBStore(settings.data_dir, key, key_source=describe_key_lookup())
    audit = AuditLog(settings.data_dir, ShardCipher(key))
    return App(settings, context, store, ConversationService(store, context, audit=audit), key,
               audit)
