"""Settings from the environment. Secrets are read here and never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from counsel_bot.config.resources import packaged_dialogs, packaged_locales, sample_deployment


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_path: Path
    locales_dir: Path
    dialogs_dir: Path
    # COUNSEL_BOT_DATABASE_URL=postgresql://...: the PostgreSQL store; None: TinyDB in data_dir
    database_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            data_dir=Path(env.get("COUNSEL_BOT_DATA_DIR", "data")).resolve(),
            config_path=Path(env.get("COUNSEL_BOT_CONFIG") or sample_deployment()),
            locales_dir=Path(env.get("COUNSEL_BOT_LOCALES_DIR") or packaged_locales()),
            dialogs_dir=Path(env.get("COUNSEL_BOT_DIALOGS_DIR") or packaged_dialogs()),
            database_url=env.get("COUNSEL_BOT_DATABASE_URL") or None,
        )
