"""Real processes: SIGKILL at random instants, and two writers at once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_helpers import HELPER_DIR, subprocess_env

from counsel_bot.store.keys import encode_key
from tests.conftest import open_test_store

WORKER = str(HELPER_DIR / "_store_worker.py")


def _spawn(key: bytes, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, WORKER, *args],
        env=subprocess_env(STORE_TEST_KEY=encode_key(key)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
def test_sigkill_at_random_instants_keeps_last_good_state(
    store_target: str, key: bytes, tmp_path: Path
) -> None:
    rng = random.Random()
    side = tmp_path / "last_committed"
    open_test_store(store_target, key).close()
    last_seen = 0
    for _ in range(15):
        proc = _spawn(key, "crash", store_target, str(side))
        time.sleep(rng.uniform(0.005, 0.080))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stdin.close()
        reported = int(side.read_text()) if side.exists() else 0

        store = open_test_store(store_target, key)  # must open after any kill
        with store.snapshot("case:crash") as db:
            docs = db.table("counter").all()
            log = db.table("log").all()
        store.close()
        n = docs[0]["n"] if docs else 0
        if docs:
            assert len(docs) == 1
            assert docs[0]["seen"] == list(range(1, n + 1))
        assert [d["n"] for d in log] == list(range(1, n + 1))
        # The side file lags the store by one when a kill cuts off its rename, and a
        # process killed before its first commit leaves it lagging: so the side file
        # bounds n from below, and so does every state seen before; at most one commit
        # more than either can have landed since (its side-file write cut off).
        assert n >= reported, "a commit that returned was lost"
        assert n >= last_seen, "the store went back to an older state"
        assert n <= max(reported, last_seen) + 1
        last_seen = n
    assert last_seen > 0, "the writer never committed; the test proved nothing"


@pytest.mark.slow
def test_two_processes_lose_no_writes(store_target: str, key: bytes) -> None:
    per_process = 200
    open_test_store(store_target, key).close()
    procs = {name: _spawn(key, "count", store_target, name, str(per_process)) for name in "ab"}
    for proc in procs.values():  # start both at once
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs.values():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert out.strip() == "done"

    store = open_test_store(store_target, key)
    with store.snapshot("case:shared") as db:
        (doc,) = db.table("counter").all()
        log = [d["n"] for d in db.table("log").all()]
    assert doc["n"] == 2 * per_process
    assert sorted(doc["seen"]) == ["a"] * per_process + ["b"] * per_process
    assert log == list(range(1, 2 * per_process + 1))
    for name in "ab":
        for i in range(per_process):
            with store.snapshot(f"chat:{name}:{i}") as db:
                assert db.all() == [{"i": i}]
