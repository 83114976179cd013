"""Assemble the engine's context and the runtime from settings, validating all content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import Settings
from bot.deployment import load_deployment
from bot.engine.context import EngineContext
from bot.engine.dialogs import load_dialogs
from bot.i18n import Catalogs
from bot.runtime.conversations import ConversationService
from bot.store import TinyDBStore, load_or_create_key
from bot.store.keys import describe_key_lookup
from bot.store.port import Store


def load_context(settings: Settings) -> EngineContext:
    """Content, catalogues and configuration; refuses broken flows and missing translations."""
    deployment = load_deployment(settings.config_path)
    catalogs = Catalogs.load(settings.locales_dir, deployment.languages)
    dialogs = load_dialogs(settings.dialogs_dir, catalogs)
    return EngineContext(dialogs, catalogs, deployment, now=datetime.now(UTC))


@dataclass
class App:
    settings: Settings
    context: EngineContext
    store: Store
    conversations: ConversationService
    key: bytes

    def close(self) -> None:
        self.store.close()


def build_app(settings: Settings) -> App:
    context = load_context(settings)
    key = load_or_create_key(settings.data_dir)
    store = TinyDBStore(settings.data_dir, key, key_source=describe_key_lookup())
    return App(settings, context, store, ConversationService(store, context), key)
