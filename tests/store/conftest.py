"""Fixtures for the store tests: an isolated key environment and fresh keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from counsel_bot.store import TinyDBStore


@pytest.fixture(autouse=True)
def isolated_key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real ~/.config or a real key: point HOME/XDG into tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("COUNSEL_BOT_KEY", raising=False)
    monkeypatch.delenv("COUNSEL_BOT_KEY_FILE", raising=False)
    return home


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path, key: bytes):
    s = TinyDBStore(data_dir, key)
    yield s
    s.close()
