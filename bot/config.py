"""Settings from the environment. Secrets are read here and never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_path: Path
    locales_dir: Path
    dialogs_dir: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        config = Path(env.get("COUNSEL_BOT_CONFIG",
                              PROJECT_ROOT / "dialogs" / "deployment.sample.yaml"))
        return cls(
            data_dir=Path(env.get("COUNSEL_BOT_DATA_DIR", "data")).resolve(),
            config_path=config,
            locales_dir=Path(env.get("COUNSEL_BOT_LOCALES_DIR", PROJECT_ROOT / "locales")),
            dialogs_dir=Path(env.get("COUNSEL_BOT_DIALOGS_DIR", config.parent)),
        )
