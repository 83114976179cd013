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
