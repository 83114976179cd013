"""What the engine reads besides the conversation: content, catalogues, configuration, time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from counsel_bot.cases.model import Case
from counsel_bot.config.deployment import Deployment
from counsel_bot.engine.dialogs import Dialogs
from counsel_bot.i18n.catalogs import Catalogs, Translator
from counsel_bot.i18n.detect import LanguageDetector
from counsel_bot.screening.screener import Screener


@dataclass(frozen=True)
class EngineContext:
    dialogs: Dialogs
    catalogs: Catalogs
    deployment: Deployment
    now: datetime  # UTC, passed in: the engine never reads a clock
    case: Case | None = None  # the chat's case, as the store has it now
    screener: Screener | None = None  # distress screening; None switches it off
    detector: LanguageDetector | None = None  # the first text's language; None: not offered

    def at(self, now: datetime, case: Case | None = None) -> EngineContext:
        return EngineContext(self.dialogs, self.catalogs, self.deployment, now, case,
                             self.screener, self.detector)

    def translator(self, lang: str | None) -> Translator:
        return self.catalogs.translator(lang or self.deployment.default_language)

    def system_text(self, lang: str | None, name: str, **values: object) -> str:
        return self.translator(lang)(self.dialogs.system[name], **values)
