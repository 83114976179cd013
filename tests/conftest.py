"""Shared fixtures: the real content, catalogues and configuration, and an isolated key."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from counsel_bot.bootstrap import load_context
from counsel_bot.config.settings import Settings
from counsel_bot.engine.context import EngineContext
from counsel_bot.store import Store, is_database_url, open_store
from tests.pg_server import pg_server, pg_url  # noqa: F401  (fixtures for every suite)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers per core. Most of the suite waits on the processes it starts
    (bots, PostgreSQL, chromium): with one worker per core the cores were busy 57% of a CI
    run, and the main suite took 900 s; with two per core, 772 s."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return 2 * (os.cpu_count() or 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (in their collection order).

    pytest-xdist's load scheduling first gives each worker a chunk of consecutive tests (a
    quarter of its share, some 75 here): so the slow ones all go to the first worker, which
    runs the one- to three-minute kill tests one after another while the other workers take
    the rest. That is on purpose: run side by side on two cores, the kill tests starved
    each other (a bot took over 90 s to answer /start). Left in collection order they came
    last, and one worker ran them alone for minutes at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config: pytest.Config) -> None:
    """With COUNSEL_TEST_DAYS_AHEAD, this process and every process it starts run with the
    wall clock that many days ahead (see tests/clock_ahead/sitecustomize.py)."""
    days = os.environ.get("COUNSEL_TEST_DAYS_AHEAD")
    if not days:
        return
    folder = str(Path(__file__).parent / "clock_ahead")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (folder, os.environ.get("PYTHONPATH")) if p)
    import sys

    ours = sys.modules.get("sitecustomize")
    if not str(getattr(ours, "__file__", "")).startswith(folder):  # not moved at start-up
        import time_machine

        ahead = datetime.now(UTC) + timedelta(days=float(days))
        time_machine.travel(ahead, tick=True).start()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches ~/.config or ./data: each gets its own key file and data folder."""
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(tmp_path / "keys" / "key"))
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COUNSEL_BOT_KEY", raising=False)
    monkeypatch.delenv("COUNSEL_BOT_TOKEN", raising=False)
    # Lexicons only, unless a test builds the semantic layer itself (tests/screening).
    monkeypatch.setenv("COUNSEL_BOT_EMBEDDINGS", "none")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data")})


_CONTEXT: EngineContext | None = None


def shipped_context() -> EngineContext:
    """The shipped content, validated as at start-up (loaded once per test process)."""
    global _CONTEXT
    if _CONTEXT is None:
        # Lexicons only, even when first built at collection time (outside _isolated_env).
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("COUNSEL_BOT_EMBEDDINGS", "none")
            _CONTEXT = load_context(Settings.from_env({})).at(NOW)
    return _CONTEXT


@pytest.fixture
def context() -> EngineContext:
    return shipped_context()


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def key_b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


STORE_BACKENDS = ("tinydb", "postgresql")


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store backend under test: each test that takes it runs on both."""
    return str(request.param)


@pytest.fixture
def store_target(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store under test lives: a fresh data folder, or a fresh PostgreSQL database
    (on the test server, see tests/pg_server.py)."""
    if store_backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "data")


def open_test_store(target: str, key: bytes) -> Store:
    """The store at ``target`` (a folder or a database URL) with ``key``."""
    return open_store(target if is_database_url(target) else Path(target), key)


def settings_for(target: str, tmp_path: Path) -> Settings:
    """Settings that put the store at ``target`` (journals stay in the data folder)."""
    env = {"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data")}
    if is_database_url(target):
        env["COUNSEL_BOT_DATABASE_URL"] = target
    return Settings.from_env(env)
