"""`counsel-bot doctor [--repair]`: each kind of damage reported (never content), set aside
by --repair (kept as it was), and a wrong key refused before anything is read."""

from __future__ import annotations

import argparse
import base64
import io
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from counsel_bot.cli.doctor import run_doctor
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import JOURNALS, data_journal
from counsel_bot.store.crypto import ShardCipher
from tests.damage import damage_frame, flip, frames
from tests.seeded_app import app_with_a_case

WORKER = 9201
SECRET = "Samira a peur de son propriétaire"  # what a returnee wrote: never printed


@dataclass
class Folder:
    data: Path
    case_id: str
    case_shard: Path


def build(tmp_path: Path) -> Folder:
    """A data folder with a case, records in every journal, a note and audit entries."""
    settings = Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data")})
    app, case_id = app_with_a_case(settings, WORKER)
    try:
        cipher = ShardCipher(app.key)
        for name in JOURNALS:
            journal = data_journal(settings.data_dir, name, cipher)
            journal.append([{"op": "test", "i": i, "text": SECRET} for i in range(3)])
            journal.close()
        Inbox(settings.data_dir, cipher).post({"type": "session", "text": SECRET})
        shard = Path(app.store._handle(f"case:{case_id}", exclusive=False).data)
    finally:
        app.close()
    return Folder(settings.data_dir, case_id, shard)


def doctor(folder: Folder, *, repair: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    settings = Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(folder.data)})
    code = run_doctor(argparse.Namespace(repair=repair), settings, out)
    text = out.getvalue()
    assert SECRET not in text and folder.case_id not in text and "Nadia" not in text
    return code, text


def quarantined(folder: Folder) -> list[bytes]:
    place = folder.data / "quarantine"
    return [p.read_bytes() for p in sorted(place.iterdir())] if place.exists() else []


def a_shard(folder: Folder) -> tuple[bytes, str]:
    return flip(folder.case_shard, 50), "damaged shard: shards/"


def a_journal_record(folder: Folder) -> tuple[bytes, str]:
    return (damage_frame(folder.data / JOURNALS["outbox"], 1),
            "journal outbox/outbox.journal: 2 record(s), 1 damaged record(s)")


def a_whole_journal(folder: Folder) -> tuple[bytes, str]:
    path = folder.data / JOURNALS["schedule"]
    for index in range(len(frames(path.read_bytes()))):
        damage_frame(path, index)
    return path.read_bytes(), ("journal schedule/schedule.journal: 0 record(s), no record "
                               "authenticates although the key is right")


def a_note(folder: Folder) -> tuple[bytes, str]:
    [note] = (folder.data / "inbox").glob("*.note")
    return flip(note, 30), "damaged note: inbox/"


DAMAGE: dict[str, Callable[[Folder], tuple[bytes, str]]] = {
    "shard": a_shard, "journal record": a_journal_record, "whole journal": a_whole_journal,
    "note": a_note}


def test_a_healthy_folder_is_reported_clean(tmp_path):
    code, out = doctor(build(tmp_path))
    assert code == 0, out
    assert "shards: " in out and "intact" in out and out.strip().endswith("no damage found")
    for relative in JOURNALS.values():
        assert f"journal {relative}: 3 record(s), intact" in out
    assert "inbox: 1 note(s) waiting, intact" in out
    assert "audit log: 1 entries, chain intact" in out


@pytest.mark.parametrize("kind", DAMAGE)
def test_damage_is_reported_and_repair_sets_it_aside(tmp_path, kind):
    folder = build(tmp_path)
    damaged, reported = DAMAGE[kind](folder)
    code, out = doctor(folder)
    assert code == 1 and reported in out, out
    assert "run 'counsel-bot doctor --repair'" in out and quarantined(folder) == []
    code, out = doctor(folder, repair=True)
    assert (code == 0 and "moved " in out) or "kept a damaged record" in out, out
    assert quarantined(folder) == [damaged]  # kept as it was, still encrypted
    code, out = doctor(folder)
    assert code == 0 and "no damage found" in out, out


def test_loose_modes_are_reported_and_tightened(tmp_path):
    folder = build(tmp_path)
    os.chmod(folder.case_shard, 0o644)
    os.chmod(folder.data / "audit", 0o755)
    code, out = doctor(folder)
    assert code == 1 and "modes: 2 file(s) or folder(s) open to other users" in out, out
    code, out = doctor(folder, repair=True)
    assert code == 0, out
    assert stat.S_IMODE(folder.case_shard.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder.data / "audit").stat().st_mode) == 0o700


def test_a_damaged_audit_trail_is_reported_and_never_changed(tmp_path):
    folder = build(tmp_path)
    log = folder.data / "audit" / "audit.log"
    damaged = flip(log, 40)
    code, out = doctor(folder)
    assert code == 1 and "audit log: 0 entries intact, then damage: entry 1" in out, out
    code, out = doctor(folder, repair=True)
    assert code == 1 and "still damaged (audit: 1)" in out and "never changes it" in out, out
    assert log.read_bytes() == damaged and quarantined(folder) == []


def _cli(folder: Folder, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "counsel_bot.cli", "doctor", *args],
                          env={**os.environ, "COUNSEL_BOT_DATA_DIR": str(folder.data), **env},
                          capture_output=True, text=True, timeout=60)


def _everything(data: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}


def test_the_command_refuses_a_wrong_key_and_changes_nothing(tmp_path):
    folder = build(tmp_path)
    a_shard(folder)
    before = _everything(folder.data)
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    done = _cli(folder, "--repair", COUNSEL_BOT_KEY=other)
    assert done.returncode == 2, done
    assert "does not open the data folder" in done.stderr and done.stdout == ""
    assert _everything(folder.data) == before


def test_the_command_says_what_it_moved_and_exits_by_what_is_left(tmp_path):
    folder = build(tmp_path)
    a_journal_record(folder)
    done = _cli(folder)
    assert done.returncode == 1 and "1 damaged record(s)" in done.stdout, done
    done = _cli(folder, "--repair")
    assert done.returncode == 0, done
    assert "kept a damaged record of outbox/outbox.journal in quarantine/outbox." in done.stdout
    assert _cli(folder).returncode == 0
    missing = _cli(Folder(tmp_path / "elsewhere", "", tmp_path))
    assert missing.returncode == 2 and "not a data folder" in missing.stdout
