"""With COUNSEL_TEST_DAYS_AHEAD set (CI does it), the clock really is ahead, here and in
every process a test starts: the kernel's time (a new file's mtime) is the reference."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

DAYS = os.environ.get("COUNSEL_TEST_DAYS_AHEAD")
pytestmark = pytest.mark.skipif(not DAYS, reason="only with COUNSEL_TEST_DAYS_AHEAD")


def _kernel_now(tmp_path: Path) -> float:
    probe = tmp_path / "probe"
    probe.write_text("now")
    return probe.stat().st_mtime


def test_this_process_runs_ahead(tmp_path: Path) -> None:
    ahead = time.time() - _kernel_now(tmp_path)
    assert abs(ahead - float(DAYS or 0) * 86400) < 3600
    assert datetime.now(UTC).timestamp() - _kernel_now(tmp_path) > 86400


def test_a_child_process_runs_ahead(tmp_path: Path) -> None:
    printed = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                             capture_output=True, text=True, check=True).stdout
    ahead = float(printed) - _kernel_now(tmp_path)
    assert abs(ahead - float(DAYS or 0) * 86400) < 3600
