"""Helpers shared by the store tests (imported as a plain module)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HELPER_DIR = Path(__file__).resolve().parent


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for helper scripts: the repo importable, no inherited key settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNSEL_BOT_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def all_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
