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
from bot.store import open_store
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

    def close(self) -> None:
        self.store.close()


def build_app(settings: Settings) -> App:
    context = load_context(settings)
    store = open_store(settings.data_dir)
    return App(settings, context, store, ConversationService(store, context))
