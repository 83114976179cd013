"""Damage done on purpose to files of a data folder, as a disk or a careless hand would."""

from __future__ import annotations

from pathlib import Path


def frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each journal frame, read by its 4-byte length prefix."""
    spans, pos = [], 0
    while pos < len(data):
        end = pos + 4 + int.from_bytes(data[pos:pos + 4], "big")
        spans.append((pos, end))
        pos = end
    return spans


def flip(path: Path, offset: int) -> bytes:
    """Flip one byte of a file; returns the file's new content."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x55
    path.write_bytes(bytes(data))
    return bytes(data)


def damage_frame(path: Path, index: int, at: int = 20) -> bytes:
    """Flip one byte `at` bytes into journal frame `index`; returns that frame as it is now."""
    start, end = frames(path.read_bytes())[index]
    return flip(path, start + at)[start:end]


def damage_shard(store_at: str, key: bytes, shard_key: str, at: int = -5) -> None:
    """Flip one bit of a stored shard where it lives: its file in a data folder, or its row
    in the PostgreSQL store's database."""
    from counsel_bot.store import is_database_url
    from counsel_bot.store.crypto import ShardCipher

    fid = ShardCipher(key).file_id(shard_key)
    if not is_database_url(store_at):
        shard = Path(store_at) / "shards" / fid[:2] / fid[2:4] / f"{fid}.db"
        blob = bytearray(shard.read_bytes())
        blob[at] ^= 0x01
        shard.write_bytes(bytes(blob))
        return
    import psycopg

    with psycopg.connect(store_at) as conn:
        (raw,) = conn.execute("SELECT blob FROM counsel_shards WHERE id = %s", (fid,)).fetchone()
        blob = bytearray(raw)
        blob[at] ^= 0x01
        conn.execute("UPDATE counsel_shards SET blob = %s WHERE id = %s", (bytes(blob), fid))
