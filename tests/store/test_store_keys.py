"""Key lookup, key file creation, wrong/missing keys."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from store_helpers import all_files

from counsel_bot.store import (
    InvalidKeyError,
    KeyInsideDataError,
    MissingKeyError,
    TinyDBStore,
    WrongKeyError,
    load_or_create_key,
    open_store,
)
from counsel_bot.store.keys import encode_key

CREATED_MSG = (
    "Created a new encryption key at {}. Keep it safe and apart from the data folder; "
    "without it the data cannot be read."
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_created_0600_outside_data(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    store = open_store(data_dir)
    key_file = tmp_path / "xdg" / "counsel-bot" / "key"
    assert key_file.is_file()
    assert _mode(key_file) == 0o600
    assert _mode(key_file.parent) == 0o700
    assert not key_file.resolve().is_relative_to(data_dir.resolve())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [CREATED_MSG.format(key_file)]
    with store.transaction("case:1") as db:
        db.insert({"v": 1})

    caplog.clear()
    with open_store(data_dir).snapshot("case:1") as db:  # same key read back, no new warning
        assert db.all() == [{"v": 1}]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_default_key_file_under_home_without_xdg(
    data_dir: Path, isolated_key_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    open_store(data_dir)
    assert _mode(isolated_key_env / ".config" / "counsel-bot" / "key") == 0o600


def test_key_file_env_location(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets" / "bot.key"
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(path))
    key = load_or_create_key(data_dir)
    assert path.read_text().strip() == encode_key(key)
    assert _mode(path) == 0o600
    assert load_or_create_key(data_dir) == key


def test_key_file_inside_data_folder_refused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(data_dir / "sub" / "key"))
    with pytest.raises(KeyInsideDataError, match="inside the data folder"):
        open_store(data_dir)
    assert not data_dir.exists()
    data_dir.mkdir()
    (data_dir / "key").write_text(encode_key(b"k" * 32))
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(data_dir / ".." / "data" / "key"))
    with pytest.raises(KeyInsideDataError):
        open_store(data_dir)


def test_env_key_used(tmp_path: Path, data_dir: Path, key: bytes, monkeypatch) -> None:
    monkeypatch.setenv("COUNSEL_BOT_KEY", encode_key(key))
    with open_store(data_dir).transaction("case:1") as db:
        db.insert({"v": 1})
    assert not (tmp_path / "xdg").exists()  # no key file created
    with TinyDBStore(data_dir, key).snapshot("case:1") as db:
        assert db.all() == [{"v": 1}]


@pytest.mark.parametrize("bad", ["not base64!", encode_key(b"short"), "   "])
def test_invalid_env_key(data_dir: Path, bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNSEL_BOT_KEY", bad + "x")
    with pytest.raises(InvalidKeyError) as err:
        open_store(data_dir)
    assert bad + "x" not in str(err.value)
    assert not data_dir.exists()


def test_wrong_key_changes_nothing(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    for i in range(5):
        with store.transaction(f"case:{i}") as db:
            db.table("t").insert({"i": i})
    store.close()
    before = all_files(data_dir)
    wrong = bytes(32)
    with pytest.raises(WrongKeyError) as err:
        open_store(data_dir, wrong)
    assert str(data_dir) in str(err.value)
    assert encode_key(wrong) not in str(err.value)
    assert all_files(data_dir) == before


def test_wrong_env_key_message(data_dir: Path, key: bytes, monkeypatch) -> None:
    TinyDBStore(data_dir, key).close()
    wrong = encode_key(b"w" * 32)
    monkeypatch.setenv("COUNSEL_BOT_KEY", wrong)
    before = all_files(data_dir)
    with pytest.raises(WrongKeyError) as err:
        open_store(data_dir)
    message = str(err.value)
    assert str(data_dir) in message and "COUNSEL_BOT_KEY" in message
    assert wrong not in message and encode_key(key) not in message
    assert all_files(data_dir) == before


def test_wrong_key_file_message(data_dir: Path, key: bytes, tmp_path: Path) -> None:
    TinyDBStore(data_dir, key).close()
    open_store(tmp_path / "other")  # creates a key file with a different key
    with pytest.raises(WrongKeyError, match="COUNSEL_BOT_KEY_FILE"):
        open_store(data_dir)


def test_missing_key_for_initialised_folder(tmp_path: Path, data_dir: Path, key: bytes) -> None:
    TinyDBStore(data_dir, key).close()
    before = all_files(data_dir)
    with pytest.raises(MissingKeyError, match="no key was found"):
        open_store(data_dir)
    assert not (tmp_path / "xdg").exists()  # no fresh key invented
    assert all_files(data_dir) == before


def test_shards_without_keycheck_refused(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    with store.transaction("case:1") as db:
        db.insert({"v": 1})
    (data_dir / "keycheck").unlink()
    with pytest.raises(Exception, match="no key check file"):
        TinyDBStore(data_dir, key)
    assert not (data_dir / "keycheck").exists()


def test_passed_key_must_be_32_bytes(data_dir: Path) -> None:
    with pytest.raises(InvalidKeyError):
        open_store(data_dir, b"too short")
    assert not data_dir.exists()
