"""Key derivation, file naming and authenticated encryption for the store.

Two subkeys are derived from the 32-byte master key with HKDF-SHA256:
one for AES-256-GCM (file content), one for HMAC-SHA256 (file names).
An encrypted blob is ``b"CB1" + nonce(12) + ciphertext_with_tag``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HEADER = b"CB1"
NONCE_SIZE = 12
KEY_SIZE = 32
_ENC_INFO = b"counsel-bot/store/v1/encryption"
_NAME_INFO = b"counsel-bot/store/v1/file-names"


class DecryptionFailed(Exception):
    """Blob is malformed or fails authentication (wrong key, tampering or swap)."""


def derive_subkey(master_key: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 of the master key for one purpose (``info``)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(master_key)


class ShardCipher:
    """Names and seals shard files with subkeys of one master key."""

    def __init__(self, master_key: bytes) -> None:
        if not isinstance(master_key, bytes) or len(master_key) != KEY_SIZE:
            raise ValueError("the master key must be exactly 32 bytes")
        self._aead = AESGCM(derive_subkey(master_key, _ENC_INFO))
        self._name_key = derive_subkey(master_key, _NAME_INFO)

    def file_id(self, shard_key: str) -> str:
        """Hex HMAC-SHA256 of the shard key: a file name that reveals nothing."""
        return hmac.new(self._name_key, shard_key.encode("utf-8"), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Seal ``plaintext`` bound to ``aad`` with a fresh random nonce."""
        nonce = os.urandom(NONCE_SIZE)
        return HEADER + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Open a blob made by :meth:`encrypt` with the same ``aad``."""
        head = len(HEADER)
        if len(blob) < head + NONCE_SIZE + 16 or not blob.startswith(HEADER):
            raise DecryptionFailed("not a CB1 blob")
        nonce = blob[head : head + NONCE_SIZE]
        try:
            return self._aead.decrypt(nonce, blob[head + NONCE_SIZE :], aad)
        except InvalidTag:
            raise DecryptionFailed("authentication failed") from None
