"""Where the master key comes from, and creating it on first run.

Lookup order:
1. env ``COUNSEL_BOT_KEY``: urlsafe base64 of 32 bytes;
2. the key file at env ``COUNSEL_BOT_KEY_FILE``, default
   ``$XDG_CONFIG_HOME/counsel-bot/key`` (``~/.config/counsel-bot/key``).

A missing key file is created (mode 0600, parent 0700) only while the data folder is not yet
initialised; for an initialised folder a missing key is an error, never a fresh key.
A key file inside the data folder is refused: backups of the data would carry the key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
from pathlib import Path

from .crypto import KEY_SIZE
from .errors import InvalidKeyError, KeyInsideDataError, MissingKeyError

ENV_KEY = "COUNSEL_BOT_KEY"
ENV_KEY_FILE = "COUNSEL_BOT_KEY_FILE"
KEYCHECK_NAME = "keycheck"

log = logging.getLogger(__name__)


def generate_key() -> bytes:
    """A new random 32-byte master key."""
    return secrets.token_bytes(KEY_SIZE)


def encode_key(key: bytes) -> str:
    """Text form of a key (urlsafe base64), as kept in the env var or key file."""
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str | bytes, source: str) -> bytes:
    """Parse the text form of a key; ``source`` names where it came from (for errors)."""
    raw = text.strip() if isinstance(text, bytes) else text.strip().encode("ascii", "replace")
    try:
        key = base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_SIZE:
        raise InvalidKeyError(
            f"The key from {source} is not urlsafe base64 of {KEY_SIZE} bytes", op="load-key"
        )
    return key


def default_key_file() -> Path:
    """``$XDG_CONFIG_HOME/counsel-bot/key``, falling back to ``~/.config``."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "counsel-bot" / "key"


def key_file_path() -> Path:
    """The key file in use: ``$COUNSEL_BOT_KEY_FILE`` or the default."""
    env = os.environ.get(ENV_KEY_FILE, "")
    return Path(env).expanduser() if env else default_key_file()


def describe_key_lookup() -> str:
    """How the key is looked up, for error messages (never the key itself)."""
    if os.environ.get(ENV_KEY):
        return f"the key was taken from the environment variable {ENV_KEY}"
    return (
        f"the key is taken from the environment variable {ENV_KEY} when set, otherwise from "
        f"the key file {key_file_path()} (change its location with {ENV_KEY_FILE})"
    )


def check_key_location(key_file: Path, data_dir: Path) -> None:
    """Refuse a key file that lies inside the data folder."""
    key_abs = key_file.expanduser().resolve()
    data_abs = data_dir.expanduser().resolve()
    if key_abs == data_abs or key_abs.is_relative_to(data_abs):
        raise KeyInsideDataError(
            f"The key file {key_file} is inside the data folder {data_dir}. Keep the key apart "
            f"from the data (set {ENV_KEY_FILE} to a path outside it).",
            op="load-key",
        )


def is_initialised(data_dir: Path) -> bool:
    """True when the data folder already has its key check file."""
    return (data_dir / KEYCHECK_NAME).exists()


def load_or_create_key(data_dir: Path, *, database: str | None = None,
                       initialised: bool | None = None) -> bytes:
    """Resolve the master key for ``data_dir`` (see module docstring).

    With the PostgreSQL store, ``database`` names it (for messages) and ``initialised`` says
    whether it already holds a key check: then a missing key is an error, as for a folder.
    """
    env = os.environ.get(ENV_KEY)
    if env:
        return decode_key(env, f"the environment variable {ENV_KEY}")
    path = key_file_path()
    check_key_location(path, data_dir)
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    if initialised is None:
        initialised = is_initialised(data_dir)
    if initialised:
        raise MissingKeyError(
            f"The {f'database {database}' if database else f'data folder {data_dir}'} "
            "is encrypted but no key was found: "
            f"{describe_key_lookup()}. A new key is not created, it could not read the data.",
            op="load-key",
        )
    return _create_key_file(path)


def _read_key_file(path: Path) -> bytes:
    text = path.read_bytes()
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning("The key file %s is readable by other users; run: chmod 600 %s", path, path)
    return decode_key(text, f"the key file {path}")


def _create_key_file(path: Path) -> bytes:
    """Create the key file atomically (link of a complete temp file); race-safe."""
    parent = path.parent
    if not parent.is_dir():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(parent, 0o700)
    key = generate_key()
    tmp = parent / f".{path.name}.tmp{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (encode_key(key) + "\n").encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process created it first: use theirs
            return _read_key_file(path)
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(parent)
    log.warning(
        "Created a new encryption key at %s. Keep it safe and apart from the data folder; "
        "without it the data cannot be read.",
        path,
    )
    return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
