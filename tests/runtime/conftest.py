"""Fixtures of the runtime tests: the scheduler on both backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.schedules import SCHEDULER_BACKENDS, Schedules


@pytest.fixture(params=SCHEDULER_BACKENDS)
def schedules(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Schedules]:
    """Schedulers on one fresh schedule: a journal, or a PostgreSQL database."""
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgresql" else None
    opened = Schedules(str(request.param), tmp_path, os.urandom(32), url)
    yield opened
    opened.close_all()
