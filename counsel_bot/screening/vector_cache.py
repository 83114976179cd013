"""Shipped embeddings of the project's training examples.

A deployment's ``counsel-bot screen train`` fits on the project's ~3,000 examples plus what
its case workers taught. Embedding the project's examples again costs about 25 ms each on
one core (over a minute); their vectors depend only on the text and the model, so the
project ships them (float16: the classifier does not notice the rounding) and only the
taught examples, or texts the cache does not hold, are embedded. ``python -m
counsel_bot.screening.training`` rewrites the file whenever it rebuilds the classifier.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from counsel_bot.screening.semantic import Embedder

CACHE_FILE = Path(__file__).with_name("data") / "train_vectors.npz"


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorCache:
    """Vectors by text, for one embedding model (another model's cache is no cache)."""

    def __init__(self, model: str, vectors: dict[bytes, np.ndarray] | None = None) -> None:
        self.model = model
        self.vectors = vectors or {}

    @classmethod
    def load(cls, path: Path = CACHE_FILE) -> VectorCache | None:
        if not path.is_file():
            return None
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            keys, vectors, model = data["keys"], data["vectors"], str(data["model"])
        return cls(model, {bytes(k): v for k, v in zip(keys, vectors, strict=True)})

    def save(self, path: Path = CACHE_FILE) -> None:
        keys = np.array([np.frombuffer(k, dtype=np.uint8) for k in self.vectors],
                        dtype=np.uint8).reshape(len(self.vectors), 16)
        vectors = np.array(list(self.vectors.values()), dtype=np.float16)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, keys=keys, vectors=vectors, model=np.array(self.model))
        path.write_bytes(buffer.getvalue())


class RememberingEmbedder:
    """An embedder that embeds each text once: the texts a cache for the same model holds
    are taken from it, and ``screen train`` screens the evaluation split before and after
    retraining, asking twice for the same windows."""

    def __init__(self, embedder: Embedder, cache: VectorCache | None = None) -> None:
        self._embedder = embedder
        self.name = embedder.name
        usable = cache is not None and cache.model == embedder.name
        self._seen: dict[bytes, np.ndarray] = dict(cache.vectors) if usable else {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._seen}
        if missing:
            fresh = self._embedder.embed(list(missing.values()))
            self._seen.update(zip(missing, fresh, strict=True))
        return np.array([self._seen[k] for k in keys], dtype=np.float32)
