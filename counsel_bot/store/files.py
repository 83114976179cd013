"""Private files and folders in the data folder, and its quarantine.

Everything in the data folder is for the bot's own user: files 0600, folders 0700. The modes
are given when a file or folder is made (os.open, os.mkdir), never left to the umask: the
command line sets umask 077, but the library is also used from tests and other programs.
(`os.makedirs` and `Path.mkdir(parents=True)` give the parents they make the umask's mode,
so `private_dir` makes each missing folder itself.)

A damaged file or record is never deleted: it goes, as it is (still encrypted), to
``quarantine/`` beside the shards, named ``<name>.<time in ns, hex><suffix>``, for forensics.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

QUARANTINE_DIR = "quarantine"
FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> None:
    """Make ``path`` and any missing parent folders, each 0700 (existing ones are left)."""
    path = Path(path)
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(folder, DIR_MODE)  # a umask can take owner bits away too


def fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _target(folder: Path, name: str, suffix: str) -> Path:
    return folder / f"{name}.{time.time_ns():x}{suffix}"


def set_aside(quarantine: Path, path: str | Path, *, durable: bool = True) -> str:
    """Move a damaged file into ``quarantine`` as it is; returns where it went."""
    source = Path(path)
    private_dir(quarantine)
    target = _target(quarantine, source.stem, source.suffix)
    while target.exists():  # two in the same nanosecond
        target = _target(quarantine, source.stem, source.suffix)
    os.replace(source, target)
    if durable:
        fsync_dir(quarantine)
        fsync_dir(source.parent)
    return str(target)


def keep_bytes(quarantine: Path, name: str, suffix: str, data: bytes, *,
               durable: bool = True) -> str:
    """Keep ``data`` (a damaged part of a file) in ``quarantine``; returns the new file."""
    private_dir(quarantine)
    while True:
        target = _target(quarantine, name, suffix)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        except FileExistsError:
            continue
        break
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    if durable:
        fsync_dir(quarantine)
    return str(target)
