"""What lands on disk: no readable trace, layout, tampering, leftovers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from store_helpers import all_files

from counsel_bot.store import CorruptShardError, TinyDBStore
from counsel_bot.store.keys import encode_key

SECRETS = ["Amina Haddad", "je veux mourir", "كلمة", "987654321", "K7F3", "+212600112233"]
SHARD_KEYS = ["chat:telegram:987654321", "case:K7F3", "invite:abc987654321", "caseworkers"]


def _forms(text: str) -> set[bytes]:
    forms = {text.encode("utf-8"), json.dumps(text).strip('"').encode("ascii")}
    forms |= {text.encode("utf-16-le"), text.lower().encode("utf-8")}
    return forms


def _only_shard(data_dir: Path) -> Path:
    (path,) = data_dir.glob("shards/*/*/*.db")
    return path


def test_no_plaintext_anywhere(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    for shard in SHARD_KEYS:
        with store.transaction(shard) as db:
            db.table("profile").insert({"name": "Amina Haddad", "phone": "+212600112233"})
            db.table("messages").insert({"text": "je veux mourir", "ar": "كلمة", "case": "K7F3"})
    with store.transaction("invite:abc987654321") as db:  # several versions of one shard
        db.table("messages").insert({"text": "je veux mourir encore"})
    store.erase("caseworkers")
    store.close()

    files = all_files(data_dir)
    assert files
    needles = set().union(*(_forms(s) for s in SECRETS + SHARD_KEYS))
    needles |= {key, encode_key(key).encode()}
    for rel, content in files.items():
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {rel}"
            assert needle not in rel.encode("utf-8"), f"{needle!r} in file name {rel}"
        if rel.endswith(".lock"):
            assert content == b"", rel
        else:
            assert content.startswith(b"CB1"), rel


def test_layout(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    with store.transaction("chat:telegram:987654321") as db:
        db.insert({"v": 1})
    shard = _only_shard(data_dir)
    name = shard.stem
    assert re.fullmatch(r"[0-9a-f]{64}", name)
    assert shard.parent == data_dir / "shards" / name[:2] / name[2:4]
    assert (data_dir / "keycheck").is_file()
    assert shard.with_suffix(".lock").exists()
    assert shard.stat().st_mode & 0o077 == 0
    store.erase("chat:telegram:987654321")
    assert not shard.exists() and not shard.with_suffix(".lock").exists()


def test_reads_and_empty_transactions_leave_no_files(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    before = all_files(data_dir)
    with store.snapshot("chat:telegram:1") as db:
        db.all()
    with store.transaction("chat:telegram:2") as db:
        db.all()
    assert all_files(data_dir) == before
    assert not store.exists("chat:telegram:2")


@pytest.mark.parametrize("damage", ["flip", "truncate", "header"])
def test_tampered_shard_raises_and_is_not_overwritten(
    data_dir: Path, key: bytes, damage: str
) -> None:
    store = TinyDBStore(data_dir, key)
    with store.transaction("case:K7F3") as db:
        db.insert({"v": 1})
    shard = _only_shard(data_dir)
    blob = bytearray(shard.read_bytes())
    if damage == "flip":
        blob[-5] ^= 0x01
    elif damage == "truncate":
        del blob[-20:]
    else:
        blob[:3] = b"XX1"
    shard.write_bytes(bytes(blob))

    for opener in (store.snapshot, store.transaction):
        with pytest.raises(CorruptShardError) as err, opener("case:K7F3") as db:
            db.insert({"v": 2})
        assert "K7F3" not in str(err.value)
        assert shard.stem[:12] in str(err.value)
    assert shard.read_bytes() == bytes(blob)
    # reopening the folder still works (the key check passes), other shards are fine
    reopened = TinyDBStore(data_dir, key)
    with reopened.transaction("case:other") as db:
        db.insert({"v": 1})
    assert shard.read_bytes() == bytes(blob)


def test_swapped_shard_files_are_detected(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    for shard, role in (("chat:telegram:1", "client"), ("chat:telegram:2", "admin")):
        with store.transaction(shard) as db:
            db.insert({"role": role})
    paths = sorted(data_dir.glob("shards/*/*/*.db"))
    paths[0].write_bytes(paths[1].read_bytes())
    errors = 0
    for shard in ("chat:telegram:1", "chat:telegram:2"):
        try:
            with store.snapshot(shard):
                pass
        except CorruptShardError:
            errors += 1
    assert errors == 1


def test_leftover_temp_files_are_cleaned(data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    with store.transaction("case:T") as db:
        db.insert({"v": 1})
    shard = _only_shard(data_dir)
    leftover = shard.parent / f"{shard.stem}.tmpdeadbeef"
    leftover.write_bytes(b"CB1 half written")
    with store.snapshot("case:T") as db:  # ignored by readers
        assert db.all() == [{"v": 1}]
    # A process sweeps a shard's leftovers on its first commit to it (not on every one):
    # the leftover of a writer killed meanwhile goes with the next process.
    with store.transaction("case:T") as db:
        db.insert({"v": 2})
    assert leftover.exists()
    restarted = TinyDBStore(data_dir, key)
    with restarted.transaction("case:T") as db:
        db.insert({"v": 3})
    assert not leftover.exists()
    assert sorted(p.name for p in shard.parent.iterdir()) == [shard.name, f"{shard.stem}.lock"]


def test_a_shard_folder_removed_behind_the_stores_back_is_made_again(
        data_dir: Path, key: bytes) -> None:
    store = TinyDBStore(data_dir, key)
    with store.transaction("case:R") as db:
        db.insert({"v": 1})
    store.erase("case:R")
    leaf = next(p for p in (data_dir / "shards").glob("*/*") if p.is_dir())
    leaf.rmdir()  # e.g. an administrator tidying empty folders while the bot runs
    with store.transaction("case:R") as db:
        db.insert({"v": 2})
    with store.snapshot("case:R") as db:
        assert db.all() == [{"v": 2}]
